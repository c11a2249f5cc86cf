import { NotAllowedError, QuotaExceededError } from '../shared/errors.ts';
import type { Db, Queryable } from './db.ts';
import type { NewRun } from './runs.ts';

const RUNNABLE = new Set(['ACTIVE', 'TRIAL']);
/** A run that cannot start for lack of a concurrency slot is worth retrying about this soon. */
const CONCURRENT_RETRY_AFTER_SECONDS = 30;
/**
 * Workers LISTEN on this channel, suffixed with the control plane's schema (notifications are
 * database-wide, and two deployments or test runs may share a database); every admission
 * notifies it, delivered at commit.
 */
export const RUN_QUEUED_CHANNEL = 'pipeline_run_queued';

/** A run's queue lane from its trigger (see queue_lanes in migration 006). */
export const LANE_OF = (trigger: string) => `CASE WHEN ${trigger} IN ('api', 'cli') THEN 'adhoc' WHEN ${trigger} = 'schedule' THEN 'scheduled' ELSE 'backfill' END`;
/** How far one queued run moves its lane's virtual clock. */
export const LANE_STEP = "interval '1 second'";

interface LockedSubscription {
  status: string;
  daily_limit: number;
  monthly_limit: number;
  concurrent_limit: number;
  runs_today: number;
  runs_this_month: number;
  running_count: number;
}

/**
 * FR-PIP-001 steps 2-4 and NFR-PIP-001 as one statement: the reservation of the daily /
 * monthly / concurrent quota by a conditional UPDATE of the org's subscription row (its row
 * lock serialises admissions of one org), and only when it reserved, the run inserted as
 * `pending`, its transition, its queue row and the workers' notification. Its cost does not
 * depend on the org's backlog: nothing is counted. On refusal nothing was written, and a second
 * transaction finds out why (and repairs a drifted slot counter before refusing for concurrency).
 */
const ADMIT = `
  WITH reserved AS (
    UPDATE subscriptions SET
        runs_today = CASE WHEN quota_day = $2::date THEN runs_today + 1 ELSE 1 END,
        quota_day = $2::date,
        runs_this_month = CASE WHEN quota_month = $3::date THEN runs_this_month + 1 ELSE 1 END,
        quota_month = $3::date,
        running_count = running_count + 1,
        updated_at = now()
      WHERE org_slug = $1 AND status IN ('ACTIVE', 'TRIAL')
        AND running_count < concurrent_limit
        AND (quota_day <> $2::date OR runs_today < daily_limit)
        AND (quota_month <> $3::date OR runs_this_month < monthly_limit)
      RETURNING org_slug),
  run AS (
    INSERT INTO pipeline_runs (org_slug, run_id, pipeline_id, provider, domain, pipeline, status, parameters, trigger, created_by, created_at, credential_providers)
    SELECT org_slug, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, $12, $13::text[] FROM reserved
    RETURNING org_slug, run_id),
  transition AS (
    INSERT INTO run_transitions (org_slug, run_id, from_status, to_status, at, reason)
    SELECT org_slug, run_id, NULL, 'pending', $12, $14 FROM run),
  lane AS (
    INSERT INTO queue_lanes AS l (org_slug, lane, clock)
    SELECT org_slug, ${LANE_OF('$10')}, $12 FROM reserved
    ON CONFLICT (org_slug, lane) DO UPDATE SET clock = greatest(l.clock + ${LANE_STEP}, excluded.clock)
    RETURNING clock),
  queued AS (
    INSERT INTO run_queue (org_slug, run_id, enqueued_at, priority_at) SELECT org_slug, run_id, $12, (SELECT clock FROM lane) FROM run RETURNING run_id)
  SELECT run_id, pg_notify('${RUN_QUEUED_CHANNEL}_' || current_schema(), '') FROM queued`;

export async function admitRun(db: Db, run: NewRun): Promise<void> {
  const day = run.created_at.toISOString().slice(0, 10);
  const month = `${day.slice(0, 7)}-01`;
  const params = [
    run.org_slug, day, month, run.run_id, run.pipeline_id, run.provider, run.domain, run.pipeline, JSON.stringify(run.parameters),
    run.trigger, run.created_by, run.created_at, run.credential_providers ?? [], `requested via ${run.trigger} by ${run.created_by}`,
  ];
  if ((await db.query(ADMIT, params)).length > 0) return;
  await db.transaction(async (tx) => {
    // The row lock: the counts below are exact until this transaction ends.
    const [locked] = await tx.query<LockedSubscription>(
      `SELECT status, daily_limit, monthly_limit, concurrent_limit, running_count,
              CASE WHEN quota_day = $2::date THEN runs_today ELSE 0 END AS runs_today,
              CASE WHEN quota_month = $3::date THEN runs_this_month ELSE 0 END AS runs_this_month
         FROM subscriptions WHERE org_slug = $1 FOR UPDATE`,
      [run.org_slug, day, month],
    );
    if (!locked) throw new NotAllowedError(`Organization ${run.org_slug} has no subscription`);
    if (!RUNNABLE.has(locked.status)) throw new NotAllowedError(`Organization subscription is ${locked.status}`);
    // Another admission may have ended between the two statements; and a counter that drifted
    // from the runs really holding a slot is repaired here, right before it would refuse.
    if (locked.running_count >= locked.concurrent_limit) await healSlots(tx, run.org_slug);
    if ((await tx.query(ADMIT, params)).length > 0) return;
    const [current] = await tx.query<{ running_count: number }>('SELECT running_count FROM subscriptions WHERE org_slug = $1', [run.org_slug]);
    throw quotaError({ ...locked, running_count: current?.running_count ?? locked.running_count }, run.created_at);
  });
}

/**
 * A slot is held by a run until the statement that ends it releases it. A run that reached an
 * end without releasing (a crash between two writes on an older version, a manual fix in the
 * database) must not block the org forever: release those, then make the counter equal the
 * number of runs really holding a slot. The caller holds the org's subscription row, so the
 * count is exact. Says whether the counter changed.
 */
export async function healSlots(tx: Queryable, orgSlug: string): Promise<boolean> {
  await tx.query(
    `UPDATE pipeline_runs SET holds_slot = false
      WHERE org_slug = $1 AND holds_slot AND status IN ('completed', 'failed', 'cancelled')`,
    [orgSlug],
  );
  const changed = await tx.query(
    `UPDATE subscriptions s SET running_count = c.n
       FROM (SELECT count(*)::int AS n FROM pipeline_runs WHERE org_slug = $1 AND holds_slot) c
      WHERE s.org_slug = $1 AND s.running_count <> c.n RETURNING 1`,
    [orgSlug],
  );
  return changed.length > 0;
}

function quotaError(sub: LockedSubscription, now: Date): QuotaExceededError {
  if (sub.running_count >= sub.concurrent_limit) {
    return new QuotaExceededError(`Concurrent pipeline limit reached (${sub.running_count}/${sub.concurrent_limit} running)`, {
      limit: 'concurrent',
      retryAfterSeconds: CONCURRENT_RETRY_AFTER_SECONDS,
    });
  }
  if (sub.runs_today >= sub.daily_limit) {
    const tomorrow = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    return new QuotaExceededError(`Daily pipeline limit reached (${sub.daily_limit} runs)`, {
      limit: 'daily',
      retryAfterSeconds: Math.ceil((tomorrow - now.getTime()) / 1000),
    });
  }
  const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return new QuotaExceededError(`Monthly pipeline limit reached (${sub.monthly_limit} runs)`, {
    limit: 'monthly',
    retryAfterSeconds: Math.ceil((nextMonth - now.getTime()) / 1000),
  });
}
