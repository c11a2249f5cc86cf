import type { Queryable } from './db.ts';

export interface RunQueueStats {
  /** Runs waiting for a worker: never claimed, or their worker's lease expired. */
  queued: number;
  /** Runs held by a live lease (executing). */
  held: number;
  /** Seconds since the oldest waiting run was admitted; 0 when none waits. */
  oldestQueuedSeconds: number;
}

/**
 * The queue at a glance, for the metrics scrape: one statement over run_queue, which holds
 * only the runs not yet ended (a run's end deletes its row), so it stays as small as the
 * work in flight. It is the one store read across every org, as an operator's view is.
 * Waiting means what the claim query takes (executions.ts); `now` is the clock the rows'
 * enqueued_at were written with.
 */
export async function runQueueStats(db: Queryable, now: Date): Promise<RunQueueStats> {
  const [row] = await db.query<{ queued: number; held: number; oldest_seconds: number }>(
    `SELECT count(*) FILTER (WHERE worker_id IS NULL OR lease_expires_at < now())::int AS queued,
            count(*) FILTER (WHERE worker_id IS NOT NULL AND lease_expires_at >= now())::int AS held,
            greatest(coalesce(extract(epoch FROM $1::timestamptz - min(enqueued_at) FILTER (WHERE worker_id IS NULL OR lease_expires_at < now())), 0), 0)::float8 AS oldest_seconds
       FROM run_queue`,
    [now],
  );
  return { queued: row?.queued ?? 0, held: row?.held ?? 0, oldestQueuedSeconds: row?.oldest_seconds ?? 0 };
}
