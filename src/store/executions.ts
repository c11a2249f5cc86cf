import type { QualityResult } from '../shared/quality.ts';
import type { Db, Queryable } from './db.ts';
import { insertTransition, type RunStatus, type StepStatus } from './runs.ts';

/** A worker's hold on a queued run. `claims` is the fencing token: a stale holder's writes match nothing. */
export interface Claim {
  org_slug: string;
  run_id: string;
  worker_id: string;
  claims: number;
}

export interface StepUpdate {
  status: StepStatus;
  attempts?: number;
  started_at?: Date | null;
  ended_at?: Date | null;
  duration_ms?: number | null;
  records_processed?: number;
  error_message?: string | null;
  result?: Record<string, unknown> | null;
}

export interface NewLogLine {
  at: Date;
  level: 'debug' | 'info' | 'warn' | 'error';
  step_id?: string | undefined;
  message: string;
  fields?: Record<string, unknown> | undefined;
}

export class LeaseLostError extends Error {}

/** The writes of run execution: queue claims and leases, status changes, steps, logs, the end. */
export function executionStore(db: Db) {
  /** Locks the claim's queue row; throws when another worker has taken the run over. */
  async function fence(tx: Queryable, claim: Claim): Promise<void> {
    const rows = await tx.query('SELECT 1 FROM run_queue WHERE org_slug = $1 AND run_id = $2 AND worker_id = $3 AND claims = $4 FOR UPDATE', [claim.org_slug, claim.run_id, claim.worker_id, claim.claims]);
    if (rows.length === 0) throw new LeaseLostError(`run ${claim.run_id} is no longer held by worker ${claim.worker_id}`);
  }

  return {
    /**
     * Claims the oldest run nobody holds, or whose holder's lease expired (a dead worker).
     * SKIP LOCKED lets concurrent workers pass over each other's candidate rows instead of
     * queueing behind them.
     */
    async claim(workerId: string, now: Date, leaseMs: number): Promise<(Claim & { recovered: boolean }) | undefined> {
      const [row] = await db.query<Claim>(
        `WITH next AS (
           SELECT org_slug, run_id FROM run_queue
            WHERE worker_id IS NULL OR lease_expires_at < $2
            ORDER BY lease_expires_at NULLS FIRST, enqueued_at
            LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE run_queue q SET worker_id = $1, lease_expires_at = $3, claims = q.claims + 1
           FROM next WHERE q.org_slug = next.org_slug AND q.run_id = next.run_id
         RETURNING q.org_slug, q.run_id::text AS run_id, q.worker_id, q.claims`,
        [workerId, now, new Date(now.getTime() + leaseMs)],
      );
      return row && { ...row, recovered: row.claims > 1 };
    },

    /** Extends the lease; says whether the run is still ours and whether a cancel was asked. */
    async heartbeat(claim: Claim, now: Date, leaseMs: number): Promise<{ held: boolean; cancelRequested: boolean }> {
      const [row] = await db.query<{ cancel_requested: boolean }>(
        `UPDATE run_queue q SET lease_expires_at = $5
           FROM pipeline_runs r
          WHERE q.org_slug = $1 AND q.run_id = $2 AND q.worker_id = $3 AND q.claims = $4
            AND r.org_slug = q.org_slug AND r.run_id = q.run_id
         RETURNING r.cancel_requested`,
        [claim.org_slug, claim.run_id, claim.worker_id, claim.claims, new Date(now.getTime() + leaseMs)],
      );
      return { held: row !== undefined, cancelRequested: row?.cancel_requested ?? false };
    },

    async transition(claim: Claim, from: RunStatus, to: RunStatus, at: Date, reason: string): Promise<void> {
      await db.transaction(async (tx) => {
        await fence(tx, claim);
        const started = to === 'running' ? ', started_at = coalesce(started_at, $4)' : '';
        await tx.query(`UPDATE pipeline_runs SET status = $3${started} WHERE org_slug = $1 AND run_id = $2`, [claim.org_slug, claim.run_id, to, ...(started ? [at] : [])]);
        await insertTransition(tx, claim.org_slug, claim.run_id, from, to, at, reason);
      });
    },

    /** Creates (or, for a recovered run, resets) a pending row per step. */
    async initSteps(orgSlug: string, runId: string, steps: { step_id: string; ps_type: string }[]): Promise<void> {
      await db.query(
        `INSERT INTO step_runs (org_slug, run_id, step_id, ps_type, position, status)
         SELECT $1, $2, s.step_id, s.ps_type, s.position, 'pending'
           FROM jsonb_to_recordset($3::jsonb) AS s(step_id text, ps_type text, position int)
         ON CONFLICT (org_slug, run_id, step_id) DO UPDATE SET status = 'pending', attempts = 0, started_at = NULL, ended_at = NULL,
           duration_ms = NULL, records_processed = 0, error_message = NULL, result = NULL`,
        [orgSlug, runId, JSON.stringify(steps.map((step, position) => ({ ...step, position })))],
      );
    },

    async updateStep(orgSlug: string, runId: string, stepId: string, update: StepUpdate): Promise<void> {
      const entries = Object.entries(update).filter(([, value]) => value !== undefined);
      const sets = entries.map(([column], i) => `${column} = $${i + 4}`).join(', ');
      const values = entries.map(([column, value]) => (column === 'result' && value !== null ? JSON.stringify(value) : value));
      await db.query(`UPDATE step_runs SET ${sets} WHERE org_slug = $1 AND run_id = $2 AND step_id = $3`, [orgSlug, runId, stepId, ...values]);
    },

    async recordQuality(orgSlug: string, runId: string, stepId: string, results: QualityResult[]): Promise<void> {
      if (results.length === 0) return;
      await db.query(
        `INSERT INTO run_quality_results (org_slug, run_id, step_id, check_kind, rule_id, level, status, description, failing_rows, details)
         SELECT $1, $2, $3, q.check_kind, q.rule_id, q.level, q.status, q.description, q.failing_rows, q.details
           FROM jsonb_to_recordset($4::jsonb) AS q(check_kind text, rule_id text, level text, status text, description text, failing_rows bigint, details jsonb)`,
        [orgSlug, runId, stepId, JSON.stringify(results)],
      );
    },

    async appendLogs(orgSlug: string, runId: string, lines: NewLogLine[]): Promise<void> {
      if (lines.length === 0) return;
      await db.query(
        `INSERT INTO run_logs (org_slug, run_id, at, level, step_id, message, fields)
         SELECT $1, $2, l.at, l.level, l.step_id, l.message, l.fields
           FROM jsonb_to_recordset($3::jsonb) AS l(at timestamptz, level text, step_id text, message text, fields jsonb)`,
        [orgSlug, runId, JSON.stringify(lines)],
      );
    },

    /**
     * Ends a run: final status, counters, the slot released and the queue row removed, in one
     * transaction so a run can never end while still holding its slot.
     */
    async finish(claim: Claim, end: { from: RunStatus; status: 'completed' | 'failed' | 'cancelled'; at: Date; reason: string; error?: string; records: number }): Promise<void> {
      await db.transaction(async (tx) => {
        await fence(tx, claim);
        await endRun(tx, claim.org_slug, claim.run_id, end);
      });
    },

    /**
     * Cancels a run. One nobody is executing ends at once; a claimed one is flagged, and its
     * worker aborts the running steps at its next heartbeat.
     */
    async requestCancel(orgSlug: string, runId: string, at: Date, reason: string): Promise<'cancelled' | 'cancelling' | 'ended'> {
      return db.transaction(async (tx) => {
        const [run] = await tx.query<{ status: RunStatus }>('SELECT status FROM pipeline_runs WHERE org_slug = $1 AND run_id = $2 FOR UPDATE', [orgSlug, runId]);
        if (!run || run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') return 'ended';
        const [queued] = await tx.query<{ worker_id: string | null }>('SELECT worker_id FROM run_queue WHERE org_slug = $1 AND run_id = $2 FOR UPDATE', [orgSlug, runId]);
        if (queued && queued.worker_id === null) {
          await endRun(tx, orgSlug, runId, { from: run.status, status: 'cancelled', at, reason, records: 0 });
          return 'cancelled';
        }
        await tx.query('UPDATE pipeline_runs SET cancel_requested = true WHERE org_slug = $1 AND run_id = $2', [orgSlug, runId]);
        return 'cancelling';
      });
    },

    /** The run's current status, for a worker resuming a recovered run. */
    async status(orgSlug: string, runId: string): Promise<{ status: RunStatus; cancel_requested: boolean } | undefined> {
      const [row] = await db.query<{ status: RunStatus; cancel_requested: boolean }>('SELECT status, cancel_requested FROM pipeline_runs WHERE org_slug = $1 AND run_id = $2', [orgSlug, runId]);
      return row;
    },
  };
}

async function endRun(tx: Queryable, orgSlug: string, runId: string, end: { from: RunStatus; status: 'completed' | 'failed' | 'cancelled'; at: Date; reason: string; error?: string; records: number }): Promise<void> {
  const [before] = await tx.query<{ holds_slot: boolean }>('SELECT holds_slot FROM pipeline_runs WHERE org_slug = $1 AND run_id = $2 FOR UPDATE', [orgSlug, runId]);
  await tx.query(
    `UPDATE pipeline_runs SET status = $3, ended_at = $4, error_message = $5, records_processed = $6, holds_slot = false,
            duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE (extract(epoch FROM ($4::timestamptz - started_at)) * 1000)::int END
      WHERE org_slug = $1 AND run_id = $2`,
    [orgSlug, runId, end.status, end.at, end.error ?? null, end.records],
  );
  if (before?.holds_slot) {
    await tx.query(
      `UPDATE subscriptions SET running_count = greatest(running_count - 1, 0),
              success_count = success_count + (CASE WHEN $2 = 'completed' THEN 1 ELSE 0 END),
              failure_count = failure_count + (CASE WHEN $2 = 'failed' THEN 1 ELSE 0 END),
              updated_at = now()
        WHERE org_slug = $1`,
      [orgSlug, end.status],
    );
  }
  await insertTransition(tx, orgSlug, runId, end.from, end.status, end.at, end.reason);
  await tx.query('DELETE FROM run_queue WHERE org_slug = $1 AND run_id = $2', [orgSlug, runId]);
}

export type ExecutionStore = ReturnType<typeof executionStore>;
