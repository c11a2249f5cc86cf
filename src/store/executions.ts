import type { QualityResult } from '../shared/quality.ts';
import { RUN_QUEUED_CHANNEL } from './admission.ts';
import { jsonb, type Db, type Queryable } from './db.ts';
import { insertTransition, RUN_COLUMNS_OF, type Run, type RunStatus, type StepRun } from './runs.ts';

/** A worker's hold on a queued run. `claims` is the fencing token: a stale holder's writes match nothing. */
export interface Claim {
  org_slug: string;
  run_id: string;
  worker_id: string;
  claims: number;
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
const FENCE = 'SELECT run_id FROM run_queue WHERE org_slug = $1 AND run_id = $2 AND worker_id = $3 AND claims = $4';
const fenceParams = (claim: Claim) => [claim.org_slug, claim.run_id, claim.worker_id, claim.claims];
const lost = (claim: Claim) => new LeaseLostError(`run ${claim.run_id} is no longer held by worker ${claim.worker_id}`);

/** A step's row as the journal holds it, written whole (an upsert resets a recovered run's rows). */
export type StepRow = StepRun;

/** What a run's journal writes at once: step rows, log lines, and the steps whose quality results it replaces. */
export interface JournalBatch {
  steps: StepRow[];
  logs: NewLogLine[];
  quality: { step_id: string; results: QualityResult[] }[];
}

const EMPTY_BATCH: JournalBatch = { steps: [], logs: [], quality: [] };

/** Four parameters: the journal batches of one org's runs as JSON, each row naming its run, whatever their size. */
const journalParams = (batches: { runId: string; batch: JournalBatch }[]) => [
  jsonb(batches.flatMap(({ runId, batch }) => batch.steps.map((step) => ({ ...step, run_id: runId })))),
  jsonb(batches.flatMap(({ runId, batch }) => batch.logs.map((line) => ({ ...line, run_id: runId })))),
  jsonb(batches.flatMap(({ runId, batch }) => batch.quality.map((q) => ({ run_id: runId, step_id: q.step_id })))),
  jsonb(batches.flatMap(({ runId, batch }) => batch.quality.flatMap((q) => q.results.map((result) => ({ ...result, run_id: runId, step_id: q.step_id }))))),
];

/**
 * The journal's writes as CTEs of one statement, for the runs of org $1 whose ids `guard` (the
 * fence, or the dequeued rows of finishing runs) returns; $p..$p+3 are `journalParams`. A
 * step's quality results replace those an earlier claim of the run recorded for it: the DELETE
 * and the INSERT see one snapshot. Log lines keep their order (their ids order a run's log).
 */
const JOURNAL_WRITES = (guard: string, p: number) => `
  steps AS (
    INSERT INTO step_runs (org_slug, run_id, step_id, ps_type, position, status, attempts, started_at, ended_at, duration_ms, records_processed, error_message, result)
    SELECT $1, s.run_id, s.step_id, s.ps_type, s.position, s.status, s.attempts, s.started_at, s.ended_at, s.duration_ms, s.records_processed, s.error_message, s.result
      FROM jsonb_to_recordset($${p}::jsonb) AS s(run_id uuid, step_id text, ps_type text, position int, status text, attempts int, started_at timestamptz, ended_at timestamptz,
                                               duration_ms int, records_processed bigint, error_message text, result jsonb)
     WHERE s.run_id IN (SELECT run_id FROM ${guard})
    ON CONFLICT (org_slug, run_id, step_id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, started_at = excluded.started_at,
      ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, records_processed = excluded.records_processed,
      error_message = excluded.error_message, result = excluded.result
    RETURNING 1),
  logs AS (
    INSERT INTO run_logs (org_slug, run_id, at, level, step_id, message, fields)
    SELECT $1, l.run_id, l.at, l.level, l.step_id, l.message, l.fields
      FROM ROWS FROM (jsonb_to_recordset($${p + 1}::jsonb) AS (run_id uuid, at timestamptz, level text, step_id text, message text, fields jsonb))
           WITH ORDINALITY AS l(run_id, at, level, step_id, message, fields, n)
     WHERE l.run_id IN (SELECT run_id FROM ${guard})
     ORDER BY l.n
    RETURNING 1),
  cleared AS (
    DELETE FROM run_quality_results r USING jsonb_to_recordset($${p + 2}::jsonb) AS c(run_id uuid, step_id text)
     WHERE r.org_slug = $1 AND r.run_id = c.run_id AND r.step_id = c.step_id AND c.run_id IN (SELECT run_id FROM ${guard})
    RETURNING 1),
  quality AS (
    INSERT INTO run_quality_results (org_slug, run_id, step_id, check_kind, rule_id, level, status, description, failing_rows, details)
    SELECT $1, q.run_id, q.step_id, q.check_kind, q.rule_id, q.level, q.status, q.description, q.failing_rows, q.details
      FROM jsonb_to_recordset($${p + 3}::jsonb) AS q(run_id uuid, step_id text, check_kind text, rule_id text, level text, status text, description text, failing_rows bigint, details jsonb)
     WHERE q.run_id IN (SELECT run_id FROM ${guard})
    RETURNING 1)`;

/**
 * Ends runs of org $1 in one statement: their queue rows deleted first (the fence: a lost
 * claim deletes nothing, so nothing else is written for it), then the journal's last writes
 * (the last step's end, the buffered logs), each run's final status, the slots released with
 * the counters, the transitions, the partition locks, and for an org with a notification
 * channel the run_ended event (the outbox). A run can never end while still holding its slot. $2 is the ends as JSON, $3..$6 their journal batches. Returns the ids of
 * the runs it ended.
 */
const END_WRITES = `
  WITH ends AS (
    SELECT * FROM jsonb_to_recordset($2::jsonb) AS e(run_id uuid, worker_id text, claims int, status text, at timestamptz, error text, records bigint, from_status text, reason text)),
  dequeued AS (
    -- The ANY bounds the scan by the primary key: estimating the ends as the 100 rows any
    -- jsonb_to_recordset gets, the planner would rather hash the org's whole queue.
    DELETE FROM run_queue q USING ends e
     WHERE q.org_slug = $1 AND q.run_id = ANY (ARRAY(SELECT run_id FROM ends)) AND q.run_id = e.run_id AND q.worker_id = e.worker_id AND q.claims = e.claims
    RETURNING q.run_id),
  ${JOURNAL_WRITES('dequeued', 3)},
  prior AS (SELECT run_id, holds_slot FROM pipeline_runs WHERE org_slug = $1 AND run_id IN (SELECT run_id FROM ends)),
  ended AS (
    UPDATE pipeline_runs r SET status = e.status, ended_at = e.at, error_message = e.error, records_processed = e.records, holds_slot = false,
           duration_ms = CASE WHEN r.started_at IS NULL THEN NULL ELSE (extract(epoch FROM (e.at - r.started_at)) * 1000)::int END
      FROM ends e
     WHERE r.org_slug = $1 AND r.run_id = e.run_id AND e.run_id IN (SELECT run_id FROM dequeued)
    RETURNING r.run_id, e.status, e.at, e.from_status, e.reason),
  released AS (
    UPDATE subscriptions s SET running_count = greatest(s.running_count - c.n, 0), success_count = s.success_count + c.completed,
           failure_count = s.failure_count + c.failed, updated_at = now()
      FROM (SELECT count(*)::int AS n, count(*) FILTER (WHERE en.status = 'completed')::int AS completed, count(*) FILTER (WHERE en.status = 'failed')::int AS failed
              FROM ended en JOIN prior p ON p.run_id = en.run_id WHERE p.holds_slot) c
     WHERE s.org_slug = $1 AND c.n > 0
    RETURNING 1),
  transition AS (
    INSERT INTO run_transitions (org_slug, run_id, from_status, to_status, at, reason) SELECT $1, run_id, from_status, status, at, reason FROM ended),
  unlocked AS (DELETE FROM partition_locks WHERE org_slug = $1 AND run_id IN (SELECT run_id FROM dequeued)),
  notified AS (
    INSERT INTO notification_events (org_slug, kind, severity, provider, domain, pipeline, run_id, payload)
    SELECT $1, 'run_ended', CASE WHEN en.status = 'failed' THEN 'ERROR' ELSE 'INFO' END, r.provider, r.domain, r.pipeline, en.run_id,
           jsonb_build_object('status', en.status, 'ended_at', en.at, 'error', e.error, 'records', e.records)
      FROM ended en JOIN ends e ON e.run_id = en.run_id JOIN pipeline_runs r ON r.org_slug = $1 AND r.run_id = en.run_id
     WHERE EXISTS (SELECT 1 FROM notification_channels c WHERE c.org_slug = $1 AND c.is_enabled))`;
const END_RUNS = `${END_WRITES} SELECT run_id::text AS run_id FROM dequeued`;

/**
 * The claim as CTEs, its parameters $p..$p+4 (worker, lease ms, at, max claims, limit): up to
 * `limit` runs nobody holds or whose holder's lease expired, first by their lane's fair queue
 * time (migration 006); SKIP LOCKED passes over the candidates concurrent workers are taking.
 * Each is moved to `validating` (and on to `running` when it needs no credential check) with its
 * transitions. `exclude` keeps out the runs the same statement ends. CLAIMED_ROWS reads them.
 */
const CLAIM_RUNS = (p: number, exclude = 'FALSE') => `
  next AS (
    SELECT ctid FROM run_queue
     WHERE (worker_id IS NULL OR lease_expires_at < now()) AND NOT (${exclude})
     ORDER BY lease_expires_at NULLS FIRST, priority_at
     LIMIT $${p + 4} FOR UPDATE SKIP LOCKED),
  claimed AS (
    -- By ctid: joined on the key instead, a LIMIT of unknown size (the planner guesses a tenth
    -- of the queue) hashes the whole queue. A locked row cannot move before this update, and one
    -- changed between the snapshot and the lock would be skipped here (its ctid is the old one),
    -- but every other writer of a claimable row (a claim, a heartbeat) leaves it unclaimable, so
    -- the lock's recheck drops it from next first.
    UPDATE run_queue q SET worker_id = $${p}, lease_expires_at = now() + $${p + 1}::double precision * interval '1 millisecond', claims = q.claims + 1
     WHERE q.ctid = ANY (ARRAY(SELECT ctid FROM next))
    RETURNING q.org_slug, q.run_id, q.worker_id, q.claims),
  claim_prior AS (
    SELECT r.*, c.worker_id, c.claims FROM pipeline_runs r JOIN claimed c ON r.org_slug = c.org_slug AND r.run_id = c.run_id),
  moved AS (
    UPDATE pipeline_runs r
       SET status = CASE WHEN cardinality(p.credential_providers) = 0 THEN 'running' ELSE 'validating' END,
           started_at = CASE WHEN cardinality(p.credential_providers) = 0 THEN coalesce(r.started_at, $${p + 2}) ELSE r.started_at END
      FROM claim_prior p
     WHERE r.org_slug = p.org_slug AND r.run_id = p.run_id AND NOT p.cancel_requested AND p.claims <= $${p + 3}
    RETURNING r.org_slug, r.run_id, r.status),
  claim_transitions AS (
    INSERT INTO run_transitions (org_slug, run_id, from_status, to_status, at, reason)
    SELECT m.org_slug, m.run_id, t.from_status, t.to_status, $${p + 2}, t.reason
      FROM moved m JOIN claim_prior p ON p.org_slug = m.org_slug AND p.run_id = m.run_id
     CROSS JOIN LATERAL (VALUES
       (1, p.status, 'pending', 'recovered: the previous worker''s lease expired (claim ' || p.claims || ')'),
       (2, 'pending', 'validating', 'claimed by worker ' || p.worker_id),
       (3, 'validating', 'running', 'nothing to validate beyond admission')) AS t(n, from_status, to_status, reason)
     WHERE (t.n = 1 AND p.status <> 'pending') OR t.n = 2 OR (t.n = 3 AND m.status = 'running')
     ORDER BY t.n)`;
const CLAIMED_ROWS = `
  SELECT ${RUN_COLUMNS_OF('p')}, p.worker_id, p.claims, p.status AS prior_status, coalesce(m.status, p.status) AS moved_to, m.run_id IS NOT NULL AS moved
    FROM claim_prior p LEFT JOIN moved m ON m.org_slug = p.org_slug AND m.run_id = p.run_id`;
const claimParams = (next: { workerId: string; leaseMs: number; at: Date; maxClaims: number }, limit: number) => [next.workerId, next.leaseMs, next.at, next.maxClaims, limit];

/**
 * END_RUNS that also claims the successors of the runs it ends, for their worker: a run's end
 * and the next run's start share one round trip and one commit. $7..$11 are claimParams. Each
 * row carries the ended ids; with no run claimed, one row of them alone.
 */
const END_AND_CLAIM_RUNS = `${END_WRITES}, ${CLAIM_RUNS(7, 'run_id IN (SELECT run_id FROM ends)')}
  SELECT e.ended, c.* FROM (SELECT coalesce(array_agg(run_id::text), '{}') AS ended FROM dequeued) e LEFT JOIN (${CLAIMED_ROWS}) c ON true`;

/**
 * A worker's request, sent with a run's end, for the run to take the freed slot: the statement
 * that writes the end claims it (END_AND_CLAIM_RUNS). `claimed` gets what was claimed, or
 * undefined when the end went without a claim (then the worker claims on its own).
 */
export interface NextRun {
  workerId: string;
  leaseMs: number;
  maxClaims: number;
  at: Date;
  claimed(runs: ClaimedRun[] | undefined): void;
}

/** A run's end waiting for its org's statement. */
interface PendingEnd {
  claim: Claim;
  end: RunEnd;
  batch: JournalBatch;
  next: NextRun | undefined;
  settle(error?: unknown): void;
}

interface ClaimedRow extends Run {
  worker_id: string;
  claims: number;
  prior_status: RunStatus;
  moved_to: RunStatus;
  moved: boolean;
}

/** A claimed run, as the claim statement returns it. */
export interface ClaimedRun extends Claim {
  recovered: boolean;
  /** The run, with the status the claim moved it to. */
  run: Run;
  /** Its status before the claim (not `pending` when a lost worker's run is recovered). */
  priorStatus: RunStatus;
  /** False when the claim did not move the run: a cancel was asked, or it lost its workers too often. */
  started: boolean;
}

/**
 * The writes of run execution: queue claims and leases, status changes, steps, logs, quality,
 * partition locks and the end. Every write after the claim is fenced by the claim token, and
 * leases are computed from the database's clock, never a worker's.
 *
 * Lock order, everywhere: run_queue, then pipeline_runs, then subscriptions. Admission locks
 * only subscriptions and inserts new rows, so it never waits on a run's rows.
 */
function claimedRun({ worker_id, claims, prior_status, moved_to, moved, ...run }: ClaimedRow): ClaimedRun {
  return { org_slug: run.org_slug, run_id: run.run_id, worker_id, claims, recovered: claims > 1, run: { ...run, status: moved_to }, priorStatus: prior_status, started: moved };
}

export function executionStore(db: Db) {
  // Per org with an end statement in flight: the ends that arrived since, for the next one.
  const waitingEnds = new Map<string, PendingEnd[]>();

  async function endRunsOfOrg(orgSlug: string, items: PendingEnd[]): Promise<void> {
    await writeEnds(orgSlug, items);
    const next = waitingEnds.get(orgSlug) ?? [];
    if (next.length === 0) return void waitingEnds.delete(orgSlug);
    waitingEnds.set(orgSlug, []);
    await endRunsOfOrg(orgSlug, next);
  }

  /**
   * One statement for all, which claims the successors the first asking worker's ends asked for
   * (other workers' are told to claim on their own). If it fails, each run on its own and without
   * a claim, so one run's bad row fails only that run.
   */
  async function writeEnds(orgSlug: string, items: PendingEnd[]): Promise<void> {
    const worker = items.find((item) => item.next)?.next;
    const asking = items.filter((item) => item.next?.workerId === worker?.workerId).map((item) => item.next as NextRun);
    let ended: Set<string>;
    let claimed: ClaimedRun[] = [];
    try {
      const ends = items.map(({ claim, end }) => ({
        run_id: claim.run_id, worker_id: claim.worker_id, claims: claim.claims, status: end.status, at: end.at, error: end.error ?? null, records: end.records, from_status: end.from, reason: end.reason,
      }));
      const params = [orgSlug, jsonb(ends), ...journalParams(items.map(({ claim, batch }) => ({ runId: claim.run_id, batch })))];
      if (worker) {
        const rows = await db.query<{ ended: string[] } & Partial<ClaimedRow>>(END_AND_CLAIM_RUNS, [...params, ...claimParams(worker, asking.length)]);
        ended = new Set(rows[0]?.ended ?? []);
        claimed = rows.filter((row) => row.run_id !== null && row.run_id !== undefined).map(({ ended: _ended, ...row }) => claimedRun(row as ClaimedRow));
      } else {
        ended = new Set((await db.query<{ run_id: string }>(END_RUNS, params)).map((row) => row.run_id));
      }
    } catch (error) {
      for (const item of items) item.next?.claimed(undefined);
      if (items.length === 1) return items[0]?.settle(error);
      for (const item of items) await writeEnds(orgSlug, [{ ...item, next: undefined }]);
      return;
    }
    // The claimed runs go to the asking ends in turn; the others' workers claim for themselves.
    for (const item of items) {
      if (!item.next) continue;
      if (item.next.workerId !== worker?.workerId) item.next.claimed(undefined);
      else item.next.claimed(claimed.splice(0, 1));
    }
    for (const item of items) item.settle(ended.has(item.claim.run_id) ? undefined : lost(item.claim));
  }

  return {
    /**
     * Claims up to `limit` runs nobody holds, or whose holder's lease expired (a dead worker), and
     * starts them, in one statement (CLAIM_RUNS). A run whose cancel was asked, or that lost its
     * workers more than `maxClaims` times, is claimed but not moved: the worker ends it.
     */
    async claim(workerId: string, leaseMs: number, options: { at?: Date; maxClaims?: number; limit?: number } = {}): Promise<ClaimedRun[]> {
      const next = { workerId, leaseMs, at: options.at ?? new Date(), maxClaims: options.maxClaims ?? 3 };
      const rows = await db.query<ClaimedRow>(`WITH ${CLAIM_RUNS(1)} ${CLAIMED_ROWS}`, claimParams(next, options.limit ?? 1));
      return rows.map(claimedRun);
    },

    /** Runs queued and not held by a live worker (waiting to be claimed). */
    async queued(): Promise<number> {
      const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM run_queue WHERE worker_id IS NULL OR lease_expires_at < now()');
      return row?.n ?? 0;
    },

    /** Calls `onQueued` when a run is admitted anywhere (PostgreSQL LISTEN / NOTIFY; PGlite's own in the owning process). */
    async listenForRuns(onQueued: () => void): Promise<() => Promise<void>> {
      const [row] = await db.query<{ channel: string }>("SELECT $1 || '_' || current_schema() AS channel", [RUN_QUEUED_CHANNEL]);
      return db.listen(row?.channel ?? RUN_QUEUED_CHANNEL, onQueued);
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

    /**
     * Writes what a run's journal buffered (step rows, log lines, quality results) in one
     * statement fenced by the claim: a worker that lost the run writes none of it.
     */
    async flush(claim: Claim, batch: JournalBatch): Promise<void> {
      const [row] = await db.query<{ held: number }>(
        `WITH fence AS (${FENCE} FOR SHARE), ${JOURNAL_WRITES('fence', 5)}
         SELECT (SELECT count(*) FROM fence)::int AS held`,
        [...fenceParams(claim), ...journalParams([{ runId: claim.run_id, batch }])],
      );
      if (!row || row.held === 0) throw lost(claim);
    },

    /**
     * Ends a run (see END_RUNS). The ends of one org's runs that arrive while its previous end
     * statement is in flight are written together by the next one, so concurrent ends share a
     * commit and queue on the org's subscription row once, and an end never waits for a timer.
     * With `next`, the statement also claims the run that takes the freed slot (NextRun).
     */
    finish(claim: Claim, end: RunEnd, batch: JournalBatch = EMPTY_BATCH, next?: NextRun): Promise<void> {
      return new Promise((resolve, reject) => {
        const item: PendingEnd = { claim, end, batch, next, settle: (error) => (error === undefined ? resolve() : reject(error)) };
        const waiting = waitingEnds.get(claim.org_slug);
        if (waiting) return void waiting.push(item);
        waitingEnds.set(claim.org_slug, []);
        void endRunsOfOrg(claim.org_slug, [item]);
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
