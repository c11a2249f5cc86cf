import { NotAllowedError, QuotaExceededError } from '../shared/errors.ts';
import type { Db, Queryable } from './db.ts';
import { insertRun, type NewRun } from './runs.ts';

const RUNNABLE = new Set(['ACTIVE', 'TRIAL']);
/** A run that cannot start for lack of a concurrency slot is worth retrying about this soon. */
const CONCURRENT_RETRY_AFTER_SECONDS = 30;

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
 * FR-PIP-001 steps 2-4 and NFR-PIP-001 in one transaction: subscription status, reservation
 * of the daily / monthly / concurrent quota by one conditional UPDATE, then the run inserted as `pending` and enqueued. On any refusal the transaction
 * rolls back, so nothing is reserved.
 */
export async function admitRun(db: Db, run: NewRun): Promise<void> {
  const day = run.created_at.toISOString().slice(0, 10);
  const month = `${day.slice(0, 7)}-01`;
  await db.transaction(async (tx) => {
    // The row lock serialises admissions of one org, so a heal counts exactly.
    const [locked] = await tx.query<LockedSubscription>(
      `SELECT status, daily_limit, monthly_limit, concurrent_limit, running_count,
              CASE WHEN quota_day = $2::date THEN runs_today ELSE 0 END AS runs_today,
              CASE WHEN quota_month = $3::date THEN runs_this_month ELSE 0 END AS runs_this_month
         FROM subscriptions WHERE org_slug = $1 FOR UPDATE`,
      [run.org_slug, day, month],
    );
    if (!locked) throw new NotAllowedError(`Organization ${run.org_slug} has no subscription`);
    if (!RUNNABLE.has(locked.status)) throw new NotAllowedError(`Organization subscription is ${locked.status}`);

    let reserved = await reserve(tx, run.org_slug, day, month);
    // Slot counters are kept exact by the transitions that change them; a repair runs only
    // when a request is about to be refused for concurrency (and on the periodic sweep).
    if (!reserved && locked.running_count >= locked.concurrent_limit && (await healSlots(tx, run.org_slug))) reserved = await reserve(tx, run.org_slug, day, month);
    if (!reserved) {
      const [current] = await tx.query<{ running_count: number }>('SELECT running_count FROM subscriptions WHERE org_slug = $1', [run.org_slug]);
      throw quotaError({ ...locked, running_count: current?.running_count ?? locked.running_count }, run.created_at);
    }
    await insertRun(tx, run);
    await tx.query('INSERT INTO run_queue (org_slug, run_id, enqueued_at) VALUES ($1, $2, $3)', [run.org_slug, run.run_id, run.created_at]);
  });
}

/** Reserves one run against the daily, monthly and concurrent limits in one conditional UPDATE. */
async function reserve(tx: Queryable, orgSlug: string, day: string, month: string): Promise<boolean> {
  const rows = await tx.query(
    `UPDATE subscriptions SET
        runs_today = CASE WHEN quota_day = $2::date THEN runs_today + 1 ELSE 1 END,
        quota_day = $2::date,
        runs_this_month = CASE WHEN quota_month = $3::date THEN runs_this_month + 1 ELSE 1 END,
        quota_month = $3::date,
        running_count = running_count + 1,
        updated_at = now()
      WHERE org_slug = $1
        AND running_count < concurrent_limit
        AND (quota_day <> $2::date OR runs_today < daily_limit)
        AND (quota_month <> $3::date OR runs_this_month < monthly_limit)
      RETURNING org_slug`,
    [orgSlug, day, month],
  );
  return rows.length > 0;
}

/**
 * A slot is held by a run until the transaction that ends it releases it. A run that
 * reached an end without releasing (a crash between two writes on an older version, a
 * manual fix in the database) must not block the org forever: release those, then make
 * the counter equal the number of runs really holding a slot. The caller holds the org's
 * subscription row, so the count is exact. Says whether the counter changed.
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
