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

export interface RunEnd {
  from: RunStatus;
  status: 'completed' | 'failed' | 'cancelled';
  at: Date;
  reason: string;
  error?: string;
  records: number;
}

/** A warehouse partition a write replaces: one table's rows of (org, pipeline, credential) over days. */
export interface PartitionKey {
  target: string;
  pipelineId: string;
  credentialId: string;
  firstDay: string;
  lastDay: string;
}

export class LeaseLostError extends Error {}

/**
 * The claim's queue row, locked in share mode: every fenced write names it in its own WHERE,
 * so a worker that lost the run writes nothing, and a new claim waits for a write in flight.
 * Its parameters are always $1..$4 (see `fenceParams`).
 */
const FENCE = 'SELECT 1 FROM run_queue WHERE org_slug = $1 AND run_id = $2 AND worker_id = $3 AND claims = $4';
const fenceParams = (claim: Claim) => [claim.org_slug, claim.run_id, claim.worker_id, claim.claims];
const lost = (claim: Claim) => new LeaseLostError(`run ${claim.run_id} is no longer held by worker ${claim.worker_id}`);

/**
 * The writes of run execution: queue claims and leases, status changes, steps, logs, quality,
 * partition locks and the end. Every write after the claim is fenced by the claim token, and
 * leases are computed from the database's clock, never a worker's.
 *
 * Lock order, everywhere: run_queue, then pipeline_runs, then subscriptions. Admission locks
 * only subscriptions and inserts new rows, so it never waits on a run's rows.
 */
export function executionStore(db: Db) {
  return {
    /**
     * Claims the oldest run nobody holds, or whose holder's lease expired (a dead worker).
     * SKIP LOCKED lets concurrent workers pass over each other's candidate rows instead of
     * queueing behind them.
     */
    async claim(workerId: string, leaseMs: number): Promise<(Claim & { recovered: boolean }) | undefined> {
      const [row] = await db.query<Claim>(
        `WITH next AS (
           SELECT org_slug, run_id FROM run_queue
            WHERE worker_id IS NULL OR lease_expires_at < now()
            ORDER BY lease_expires_at NULLS FIRST, enqueued_at
            LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE run_queue q SET worker_id = $1, lease_expires_at = now() + $2::double precision * interval '1 millisecond', claims = q.claims + 1
           FROM next WHERE q.org_slug = next.org_slug AND q.run_id = next.run_id
         RETURNING q.org_slug, q.run_id::text AS run_id, q.worker_id, q.claims`,
        [workerId, leaseMs],
      );
      return row && { ...row, recovered: row.claims > 1 };
    },

    /** Extends the lease; says whether the run is still ours and whether a cancel was asked. */
    async heartbeat(claim: Claim, leaseMs: number): Promise<{ held: boolean; cancelRequested: boolean }> {
      const [row] = await db.query<{ cancel_requested: boolean }>(
        `UPDATE run_queue q SET lease_expires_at = now() + $5::double precision * interval '1 millisecond'
           FROM pipeline_runs r
          WHERE q.org_slug = $1 AND q.run_id = $2 AND q.worker_id = $3 AND q.claims = $4
            AND r.org_slug = q.org_slug AND r.run_id = q.run_id
         RETURNING r.cancel_requested`,
        [...fenceParams(claim), leaseMs],
      );
      return { held: row !== undefined, cancelRequested: row?.cancel_requested ?? false };
    },

    /** A status change and its transition row, in one statement fenced by the claim. */
    async transition(claim: Claim, from: RunStatus, to: RunStatus, at: Date, reason: string): Promise<void> {
      const rows = await db.query(
        `WITH fence AS (${FENCE} FOR UPDATE),
              moved AS (
                UPDATE pipeline_runs SET status = $5, started_at = CASE WHEN $5 = 'running' THEN coalesce(started_at, $7) ELSE started_at END
                 WHERE org_slug = $1 AND run_id = $2 AND EXISTS (SELECT 1 FROM fence)
                RETURNING org_slug, run_id)
         INSERT INTO run_transitions (org_slug, run_id, from_status, to_status, at, reason)
         SELECT org_slug, run_id, $6, $5, $7, $8 FROM moved RETURNING 1`,
        [...fenceParams(claim), to, from, at, reason],
      );
      if (rows.length === 0) throw lost(claim);
    },

    /** Creates (or, for a recovered run, resets) a pending row per step. */
    async initSteps(claim: Claim, steps: { step_id: string; ps_type: string }[]): Promise<void> {
      if (steps.length === 0) return;
      const rows = await db.query(
        `INSERT INTO step_runs (org_slug, run_id, step_id, ps_type, position, status)
         SELECT $1, $2, s.step_id, s.ps_type, s.position, 'pending'
           FROM jsonb_to_recordset($5::jsonb) AS s(step_id text, ps_type text, position int)
          WHERE EXISTS (${FENCE} FOR SHARE)
         ON CONFLICT (org_slug, run_id, step_id) DO UPDATE SET status = 'pending', attempts = 0, started_at = NULL, ended_at = NULL,
           duration_ms = NULL, records_processed = 0, error_message = NULL, result = NULL
         RETURNING 1`,
        [...fenceParams(claim), JSON.stringify(steps.map((step, position) => ({ ...step, position })))],
      );
      if (rows.length === 0) throw lost(claim);
    },

    async updateStep(claim: Claim, stepId: string, update: StepUpdate): Promise<void> {
      await db.transaction((tx) => updateStep(tx, claim, stepId, update));
    },

    /**
     * A step's end: its row and its quality results, which replace any an earlier claim of the
     * run recorded for the step (a recovered run does not report its findings twice).
     */
    async endStep(claim: Claim, stepId: string, update: StepUpdate, quality: QualityResult[]): Promise<void> {
      await db.transaction(async (tx) => {
        await updateStep(tx, claim, stepId, update);
        await tx.query('DELETE FROM run_quality_results WHERE org_slug = $1 AND run_id = $2 AND step_id = $3', [claim.org_slug, claim.run_id, stepId]);
        if (quality.length === 0) return;
        await tx.query(
          `INSERT INTO run_quality_results (org_slug, run_id, step_id, check_kind, rule_id, level, status, description, failing_rows, details)
           SELECT $1, $2, $3, q.check_kind, q.rule_id, q.level, q.status, q.description, q.failing_rows, q.details
             FROM jsonb_to_recordset($4::jsonb) AS q(check_kind text, rule_id text, level text, status text, description text, failing_rows bigint, details jsonb)`,
          [claim.org_slug, claim.run_id, stepId, JSON.stringify(quality)],
        );
      });
    },

    /** Appends log lines in one statement; a worker that lost the run stores none. */
    async appendLogs(claim: Claim, lines: NewLogLine[]): Promise<void> {
      if (lines.length === 0) return;
      const [row] = await db.query<{ n: number }>(
        `WITH added AS (
           INSERT INTO run_logs (org_slug, run_id, at, level, step_id, message, fields)
           SELECT $1, $2, l.at, l.level, l.step_id, l.message, l.fields
             FROM jsonb_to_recordset($5::jsonb) AS l(at timestamptz, level text, step_id text, message text, fields jsonb)
            WHERE EXISTS (${FENCE} FOR SHARE)
           RETURNING 1)
         SELECT count(*)::int AS n FROM added`,
        [...fenceParams(claim), JSON.stringify(lines)],
      );
      if (!row || row.n === 0) throw lost(claim);
    },

    /**
     * Ends a run: the queue row removed first (the fence: a lost claim deletes nothing and the
     * transaction rolls back), then the final status, counters, slot and partition locks, in one
     * transaction so a run can never end while still holding its slot.
     */
    async finish(claim: Claim, end: RunEnd): Promise<void> {
      await db.transaction(async (tx) => {
        const rows = await tx.query(`DELETE FROM run_queue WHERE org_slug = $1 AND run_id = $2 AND worker_id = $3 AND claims = $4 RETURNING 1`, fenceParams(claim));
        if (rows.length === 0) throw lost(claim);
        await endRun(tx, claim.org_slug, claim.run_id, end);
      });
    },

    /**
     * Cancels a run. One nobody is executing ends at once; a claimed one is flagged, and its
     * worker aborts the running steps at its next heartbeat.
     */
    async requestCancel(orgSlug: string, runId: string, at: Date, reason: string): Promise<'cancelled' | 'cancelling' | 'ended'> {
      return db.transaction(async (tx) => {
        const [queued] = await tx.query<{ worker_id: string | null }>('SELECT worker_id FROM run_queue WHERE org_slug = $1 AND run_id = $2 FOR UPDATE', [orgSlug, runId]);
        const [run] = await tx.query<{ status: RunStatus }>('SELECT status FROM pipeline_runs WHERE org_slug = $1 AND run_id = $2 FOR UPDATE', [orgSlug, runId]);
        if (!run || !queued || run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') return 'ended';
        if (queued.worker_id === null) {
          await tx.query('DELETE FROM run_queue WHERE org_slug = $1 AND run_id = $2', [orgSlug, runId]);
          await endRun(tx, orgSlug, runId, { from: run.status, status: 'cancelled', at, reason, records: 0 });
          return 'cancelled';
        }
        await tx.query('UPDATE pipeline_runs SET cancel_requested = true WHERE org_slug = $1 AND run_id = $2', [orgSlug, runId]);
        return 'cancelling';
      });
    },

    /**
     * Takes the partition for this claim's write unless a live claim of any run holds an
     * overlapping one; a lock whose holder lost its claim (dead worker, ended run) is taken over.
     * The advisory lock serialises the takers of one key, so the overlap check is exact.
     */
    async lockPartition(claim: Claim, key: PartitionKey): Promise<{ acquired: true } | { acquired: false; heldBy: string }> {
      return db.transaction(async (tx) => {
        const keyParams = [claim.org_slug, key.target, key.pipelineId, key.credentialId];
        await tx.query("SELECT pg_advisory_xact_lock(8002, hashtext($1 || '/' || $2 || '/' || $3 || '/' || $4))", keyParams);
        await tx.query(
          `DELETE FROM partition_locks l
            WHERE l.org_slug = $1 AND l.target = $2 AND l.pipeline_id = $3 AND l.credential_id = $4
              AND NOT EXISTS (SELECT 1 FROM run_queue q WHERE q.org_slug = l.org_slug AND q.run_id = l.run_id AND q.claims = l.claims AND q.lease_expires_at > now())`,
          keyParams,
        );
        const [holder] = await tx.query<{ run_id: string }>(
          `SELECT run_id::text AS run_id FROM partition_locks
            WHERE org_slug = $1 AND target = $2 AND pipeline_id = $3 AND credential_id = $4 AND first_day <= $6::date AND last_day >= $5::date LIMIT 1`,
          [...keyParams, key.firstDay, key.lastDay],
        );
        if (holder) return { acquired: false, heldBy: holder.run_id };
        const taken = await tx.query(
          `INSERT INTO partition_locks (org_slug, target, pipeline_id, credential_id, first_day, last_day, run_id, claims)
           SELECT $1, $5, $6, $7, $8, $9, $2, $4 WHERE EXISTS (${FENCE} AND lease_expires_at > now() FOR SHARE) RETURNING 1`,
          [...fenceParams(claim), key.target, key.pipelineId, key.credentialId, key.firstDay, key.lastDay],
        );
        if (taken.length === 0) throw lost(claim);
        return { acquired: true };
      });
    },

    /** Whether the claim still holds the partition, with time left on its lease: checked right before the warehouse commits. */
    async holdsPartition(claim: Claim, key: PartitionKey): Promise<boolean> {
      const rows = await db.query(
        `SELECT 1 FROM partition_locks l JOIN run_queue q ON q.org_slug = l.org_slug AND q.run_id = l.run_id AND q.claims = l.claims
          WHERE l.org_slug = $1 AND l.run_id = $2 AND q.worker_id = $3 AND l.claims = $4 AND q.lease_expires_at > now()
            AND l.target = $5 AND l.pipeline_id = $6 AND l.credential_id = $7 AND l.first_day = $8::date`,
        [...fenceParams(claim), key.target, key.pipelineId, key.credentialId, key.firstDay],
      );
      return rows.length > 0;
    },

    async unlockPartition(claim: Claim, key: PartitionKey): Promise<void> {
      await db.query(
        'DELETE FROM partition_locks WHERE org_slug = $1 AND run_id = $2 AND claims = $3 AND target = $4 AND pipeline_id = $5 AND credential_id = $6 AND first_day = $7::date',
        [claim.org_slug, claim.run_id, claim.claims, key.target, key.pipelineId, key.credentialId, key.firstDay],
      );
    },
  };
}

async function updateStep(tx: Queryable, claim: Claim, stepId: string, update: StepUpdate): Promise<void> {
  const entries = Object.entries(update).filter(([, value]) => value !== undefined);
  const sets = entries.map(([column], i) => `${column} = $${i + 6}`).join(', ');
  const values = entries.map(([column, value]) => (column === 'result' && value !== null ? JSON.stringify(value) : value));
  const rows = await tx.query(
    `UPDATE step_runs SET ${sets} WHERE org_slug = $1 AND run_id = $2 AND step_id = $5 AND EXISTS (${FENCE} FOR SHARE) RETURNING 1`,
    [...fenceParams(claim), stepId, ...values],
  );
  if (rows.length === 0) throw lost(claim);
}

/** The end of a run whose queue row the caller has removed (and so locked first). */
async function endRun(tx: Queryable, orgSlug: string, runId: string, end: RunEnd): Promise<void> {
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
  await tx.query('DELETE FROM partition_locks WHERE org_slug = $1 AND run_id = $2', [orgSlug, runId]);
}

export type ExecutionStore = ReturnType<typeof executionStore>;
