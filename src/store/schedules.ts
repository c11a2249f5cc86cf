import { LANE_STEP, RUN_QUEUED_CHANNEL } from './admission.ts';
import type { Db, Queryable } from './db.ts';
import type { MissedTickPolicy } from '../scheduler/pipeline-schedule.ts';

export interface Schedule {
  org_slug: string;
  schedule_id: string;
  provider: string;
  domain: string;
  pipeline: string;
  cron_expression: string;
  timezone: string;
  parameters: Record<string, string | number | boolean>;
  missed_policy: MissedTickPolicy;
  max_catchup: number;
  is_enabled: boolean;
  is_deleted: boolean;
  source: 'pipeline' | 'org' | 'operator';
  next_run_at: Date | null;
  last_tick_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** A schedule as shown: with its latest tick and that tick's run. */
export interface ScheduleView extends Schedule {
  last_scheduled_for: Date | null;
  last_outcome: TickStatus | null;
  last_reason: string | null;
  last_run_id: string | null;
  last_run_status: string | null;
}

export type TickStatus = 'due' | 'deferred' | 'enqueued' | 'skipped' | 'failed';

export interface Tick {
  org_slug: string;
  schedule_id: string;
  scheduled_for: Date;
  status: TickStatus;
  reason: string | null;
  run_id: string;
  pipeline_id: string;
  parameters: Record<string, unknown>;
  attempts: number;
  next_attempt_at: Date | null;
  run_status: string | null;
}

/** A pipeline's YAML schedule, for every org that can run it. */
export interface PipelineScheduleRow {
  provider: string;
  domain: string;
  pipeline: string;
  cron: string;
  timezone: string;
  parameters: Record<string, unknown>;
  missed: MissedTickPolicy;
  max_catchup: number;
  /** The first tick after now; the same for every org, since they share the YAML. */
  next_run_at: Date;
  /** Credential providers the pipeline's steps read: the org must have each. */
  providers: string[];
}

/** A new tick row, as the scheduler planned it. */
export interface NewTick {
  org_slug: string;
  schedule_id: string;
  scheduled_for: Date;
  status: 'due' | 'skipped' | 'failed';
  reason?: string | null;
  run_id: string;
  pipeline_id: string;
  parameters: Record<string, unknown>;
  credential_providers: string[];
}

export type ScheduleChanges = Partial<Pick<Schedule, 'cron_expression' | 'timezone' | 'parameters' | 'missed_policy' | 'max_catchup' | 'is_enabled' | 'is_deleted'>>;

const VIEW = `
  SELECT s.*, t.scheduled_for AS last_scheduled_for, t.status AS last_outcome, t.reason AS last_reason,
         CASE WHEN t.status = 'enqueued' THEN t.run_id::text END AS last_run_id, r.status AS last_run_status
    FROM schedules s
    LEFT JOIN LATERAL (SELECT * FROM schedule_ticks t WHERE t.org_slug = s.org_slug AND t.schedule_id = s.schedule_id ORDER BY t.scheduled_for DESC LIMIT 1) t ON true
    LEFT JOIN pipeline_runs r ON t.status = 'enqueued' AND r.org_slug = t.org_slug AND r.run_id = t.run_id`;

/**
 * Admits ticks in one statement, exactly once each. `source` gives the ticks (the new ones of
 * a tick batch, or the stored due and deferred ones, taken with SKIP LOCKED), `record` writes
 * each tick's outcome and returns the ticks it wrote: only those are admitted, so a tick written
 * before (its primary key) or taken by another scheduler is never admitted twice. The orgs'
 * subscription rows are locked in org order (no deadlock between schedulers), each org's due
 * ticks ranked oldest first and admitted while its concurrent, daily and monthly room lasts, the
 * quota reserved, and the runs, transitions and queue rows inserted with their fair-queue times
 * (each org's k-th admitted tick k - 1 lane steps after its lane's first free time).
 * A tick refused is `deferred` with the limit and a retry time; one of an org whose subscription
 * is not active is `skipped`. $1 now, $2 today, $3 this month; `extra` adds CTEs.
 */
const admitTicks = (source: string, record: string, extra = '') => `
  WITH due AS (${source}),
  ranked AS (
    SELECT d.*, CASE WHEN d.planned = 'due' THEN row_number() OVER (PARTITION BY d.org_slug, d.planned = 'due' ORDER BY d.scheduled_for, d.schedule_id) END::int AS k FROM due d),
  locked AS (
    SELECT s.org_slug, s.status, s.concurrent_limit,
           s.concurrent_limit - s.running_count AS concurrent_room,
           s.daily_limit - CASE WHEN s.quota_day = $2::date THEN s.runs_today ELSE 0 END AS daily_room,
           s.monthly_limit - CASE WHEN s.quota_month = $3::date THEN s.runs_this_month ELSE 0 END AS monthly_room,
           -- The lane's first free queue time; its row is written only under the subscription's lock.
           greatest(coalesce(q.clock + ${LANE_STEP}, $1::timestamptz), $1::timestamptz) AS lane_from
      FROM subscriptions s LEFT JOIN queue_lanes q ON q.org_slug = s.org_slug AND q.lane = 'scheduled'
     WHERE s.org_slug IN (SELECT org_slug FROM due WHERE planned = 'due')
     ORDER BY s.org_slug FOR UPDATE OF s),
  decided AS (
    SELECT r.*,
           CASE WHEN r.planned <> 'due' THEN r.planned
                WHEN l.org_slug IS NULL OR l.status NOT IN ('ACTIVE', 'TRIAL') THEN 'skipped'
                WHEN r.k <= least(l.concurrent_room, l.daily_room, l.monthly_room) THEN 'enqueued'
                ELSE 'deferred' END AS outcome,
           CASE WHEN r.planned <> 'due' THEN r.planned_reason
                WHEN l.org_slug IS NULL THEN 'the organization has no subscription'
                WHEN l.status NOT IN ('ACTIVE', 'TRIAL') THEN 'subscription is ' || l.status
                WHEN r.k > l.concurrent_room THEN 'deferred: concurrent pipeline limit reached (' || l.concurrent_limit || ' running or queued)'
                WHEN r.k > l.daily_room THEN 'deferred: daily pipeline limit reached'
                WHEN r.k > l.monthly_room THEN 'deferred: monthly pipeline limit reached' END AS reason,
           CASE WHEN r.k > l.concurrent_room THEN $1::timestamptz + least(30 * power(2, least(r.attempts, 5)), 900) * interval '1 second'
                WHEN r.k > l.daily_room THEN ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
                ELSE ($3::date + interval '1 month')::timestamp AT TIME ZONE 'UTC' END AS retry_at,
           l.lane_from + (r.k - 1) * ${LANE_STEP} AS priority_at
      FROM ranked r LEFT JOIN locked l ON l.org_slug = r.org_slug),
  recorded AS (${record}),
  admitted AS (
    SELECT d.* FROM decided d JOIN recorded w ON w.org_slug = d.org_slug AND w.schedule_id = d.schedule_id AND w.scheduled_for = d.scheduled_for
     WHERE d.outcome = 'enqueued'),
  counts AS (SELECT org_slug, count(*)::int AS n, max(priority_at) AS clock FROM admitted GROUP BY org_slug),
  reserved AS (
    UPDATE subscriptions s SET
        runs_today = CASE WHEN s.quota_day = $2::date THEN s.runs_today + c.n ELSE c.n END, quota_day = $2::date,
        runs_this_month = CASE WHEN s.quota_month = $3::date THEN s.runs_this_month + c.n ELSE c.n END, quota_month = $3::date,
        running_count = s.running_count + c.n, updated_at = now()
      FROM counts c WHERE s.org_slug = c.org_slug),
  lanes AS (
    INSERT INTO queue_lanes (org_slug, lane, clock) SELECT org_slug, 'scheduled', clock FROM counts
    ON CONFLICT (org_slug, lane) DO UPDATE SET clock = excluded.clock),
  runs AS (
    INSERT INTO pipeline_runs (org_slug, run_id, pipeline_id, provider, domain, pipeline, status, parameters, trigger, created_by, created_at, credential_providers)
    SELECT org_slug, run_id, pipeline_id, provider, domain, pipeline, 'pending', parameters, 'schedule', 'scheduler', $1::timestamptz, credential_providers FROM admitted),
  transitions AS (
    INSERT INTO run_transitions (org_slug, run_id, from_status, to_status, at, reason)
    SELECT org_slug, run_id, NULL, 'pending', $1::timestamptz, 'scheduled for ' || scheduled_for FROM admitted),
  queued AS (
    INSERT INTO run_queue (org_slug, run_id, enqueued_at, priority_at) SELECT org_slug, run_id, $1::timestamptz, priority_at FROM admitted
    RETURNING 1)${extra}
  SELECT (SELECT count(*) FROM due)::int AS taken,
         (SELECT count(*) FROM queued)::int AS enqueued,
         (SELECT count(*) FROM decided d JOIN recorded w ON w.org_slug = d.org_slug AND w.schedule_id = d.schedule_id AND w.scheduled_for = d.scheduled_for WHERE d.outcome = 'deferred')::int AS deferred,
         (SELECT count(*) FROM decided WHERE outcome = 'skipped' AND planned = 'due')::int AS skipped,
         (SELECT coalesce(array_agg(extract(epoch FROM $1::timestamptz - scheduled_for)::float8), '{}') FROM admitted) AS lag_seconds,
         CASE WHEN (SELECT count(*) FROM queued) > 0 THEN pg_notify('${RUN_QUEUED_CHANNEL}_' || current_schema(), '') END AS notified`;

/** The stored ticks due again at $1 (new ones not yet admitted, deferred ones at their retry time); $4 the batch size. */
const ADMIT_STORED_TICKS = admitTicks(
  `SELECT t.org_slug, t.schedule_id, t.scheduled_for, t.run_id, t.pipeline_id, t.parameters, t.credential_providers, t.attempts,
          'due'::text AS planned, NULL::text AS planned_reason, s.provider, s.domain, s.pipeline
     FROM schedule_ticks t JOIN schedules s ON s.org_slug = t.org_slug AND s.schedule_id = t.schedule_id
    WHERE t.status IN ('due', 'deferred') AND t.next_attempt_at <= $1::timestamptz
    ORDER BY t.next_attempt_at, t.org_slug
    LIMIT $4
    FOR UPDATE OF t SKIP LOCKED`,
  `UPDATE schedule_ticks t SET status = d.outcome, reason = d.reason, attempts = t.attempts + 1, updated_at = now(),
          next_attempt_at = CASE WHEN d.outcome = 'deferred' THEN d.retry_at END
     FROM decided d WHERE t.org_slug = d.org_slug AND t.schedule_id = d.schedule_id AND t.scheduled_for = d.scheduled_for
   RETURNING t.org_slug, t.schedule_id, t.scheduled_for`,
);

/**
 * A tick batch's new ticks ($4, NewTick[] as JSON) written with their outcome and admitted in
 * the same statement, and the schedules' next tick times ($5) advanced: a tick is written once,
 * already decided, rather than written due and then updated.
 */
const ADMIT_NEW_TICKS = admitTicks(
  `SELECT t.org_slug, t.schedule_id, t.scheduled_for, t.run_id, t.pipeline_id, t.parameters, ARRAY(SELECT jsonb_array_elements_text(t.credential_providers)) AS credential_providers,
          0 AS attempts, t.status AS planned, t.reason AS planned_reason, s.provider, s.domain, s.pipeline
     FROM jsonb_to_recordset($4::jsonb) AS t(org_slug text, schedule_id uuid, scheduled_for timestamptz, status text, reason text, run_id uuid, pipeline_id text, parameters jsonb, credential_providers jsonb)
     JOIN schedules s ON s.org_slug = t.org_slug AND s.schedule_id = t.schedule_id`,
  `INSERT INTO schedule_ticks (org_slug, schedule_id, scheduled_for, status, reason, run_id, pipeline_id, parameters, credential_providers, attempts, next_attempt_at)
   SELECT org_slug, schedule_id, scheduled_for, outcome, reason, run_id, pipeline_id, parameters, credential_providers,
          CASE WHEN planned = 'due' THEN 1 ELSE 0 END, CASE WHEN outcome = 'deferred' THEN retry_at END
     FROM decided
   ON CONFLICT (org_slug, schedule_id, scheduled_for) DO NOTHING
   RETURNING org_slug, schedule_id, scheduled_for`,
  `,
  advanced AS (
    UPDATE schedules s SET next_run_at = n.next_run_at, last_tick_at = $1::timestamptz
      FROM jsonb_to_recordset($5::jsonb) AS n(org_slug text, schedule_id uuid, next_run_at timestamptz)
     WHERE s.org_slug = n.org_slug AND s.schedule_id = n.schedule_id)`,
);

export interface AdmittedTicks {
  taken: number;
  enqueued: number;
  deferred: number;
  skipped: number;
  /** Each enqueued tick's now - scheduled_for, for the schedule-lag histogram. */
  lag_seconds: number[];
}

const quotaPeriod = (now: Date) => {
  const day = now.toISOString().slice(0, 10);
  return [day, `${day.slice(0, 7)}-01`];
};

/** $1: NewTick[] as JSON. A due tick is admissible from its scheduled time; the primary key keeps each tick once. */
const INSERT_TICKS = `
  INSERT INTO schedule_ticks (org_slug, schedule_id, scheduled_for, status, reason, run_id, pipeline_id, parameters, credential_providers, next_attempt_at)
  SELECT t.org_slug, t.schedule_id, t.scheduled_for, t.status, t.reason, t.run_id, t.pipeline_id, t.parameters,
         ARRAY(SELECT jsonb_array_elements_text(t.credential_providers)), CASE WHEN t.status = 'due' THEN t.scheduled_for END
    FROM jsonb_to_recordset($1::jsonb) AS t(org_slug text, schedule_id uuid, scheduled_for timestamptz, status text, reason text, run_id uuid, pipeline_id text, parameters jsonb, credential_providers jsonb)
  ON CONFLICT (org_slug, schedule_id, scheduled_for) DO NOTHING`;

const SCHEDULE_COLUMNS = `org_slug, schedule_id::text AS schedule_id, provider, domain, pipeline, cron_expression, timezone, parameters, missed_policy, max_catchup,
  is_enabled, is_deleted, source, next_run_at, last_tick_at, created_at, updated_at`;

/** Schedules and their ticks (issue 12). Every query names the org first, but the scheduler's own, which serve all orgs. */
export function scheduleStore(db: Db) {
  return {
    /**
     * Makes the YAML schedules exist for every org (or one) that can run their pipelines, and
     * follows YAML changes in schedules nobody edited; in one statement. A schedule the org or
     * the operator changed or deleted is left as they left it. Says how many it created.
     */
    async syncFromPipelines(rows: PipelineScheduleRow[], orgSlug?: string): Promise<number> {
      if (rows.length === 0) return 0;
      const created = await db.query<{ created: boolean }>(
        `INSERT INTO schedules (org_slug, schedule_id, provider, domain, pipeline, cron_expression, timezone, parameters, missed_policy, max_catchup, next_run_at)
         SELECT o.org_slug, gen_random_uuid(), p.provider, p.domain, p.pipeline, p.cron, p.timezone, p.parameters, p.missed, p.max_catchup, p.next_run_at
           FROM organizations o
          CROSS JOIN jsonb_to_recordset($1::jsonb) AS p(provider text, domain text, pipeline text, cron text, timezone text, parameters jsonb, missed text, max_catchup int, next_run_at timestamptz, providers jsonb)
          WHERE ($2::text IS NULL OR o.org_slug = $2)
            AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(p.providers) AS need(provider)
                             WHERE NOT EXISTS (SELECT 1 FROM org_credentials c WHERE c.org_slug = o.org_slug AND c.provider = need.provider))
         ON CONFLICT (org_slug, provider, domain, pipeline) DO UPDATE SET
           cron_expression = excluded.cron_expression, timezone = excluded.timezone, parameters = excluded.parameters,
           missed_policy = excluded.missed_policy, max_catchup = excluded.max_catchup, updated_at = now(),
           next_run_at = CASE WHEN schedules.cron_expression = excluded.cron_expression AND schedules.timezone = excluded.timezone THEN schedules.next_run_at ELSE excluded.next_run_at END
          WHERE schedules.source = 'pipeline' AND NOT schedules.is_deleted
            AND (schedules.cron_expression, schedules.timezone, schedules.parameters, schedules.missed_policy, schedules.max_catchup)
                IS DISTINCT FROM (excluded.cron_expression, excluded.timezone, excluded.parameters, excluded.missed_policy, excluded.max_catchup)
         RETURNING (xmax = 0) AS created`,
        [JSON.stringify(rows), orgSlug ?? null],
      );
      return created.filter((row) => row.created).length;
    },

    async list(filter: { orgSlug?: string; includeDeleted?: boolean } = {}): Promise<ScheduleView[]> {
      return db.query<ScheduleView>(
        `SELECT * FROM (${VIEW}) v WHERE ($1::text IS NULL OR org_slug = $1) AND ($2 OR NOT is_deleted) ORDER BY org_slug, provider, domain, pipeline`,
        [filter.orgSlug ?? null, filter.includeDeleted ?? false],
      ).then((rows) => rows.map(viewRow));
    },

    async get(scheduleId: string, orgSlug?: string): Promise<ScheduleView | undefined> {
      const [row] = await db.query<ScheduleView>(`SELECT * FROM (${VIEW}) v WHERE schedule_id = $1::uuid AND ($2::text IS NULL OR org_slug = $2)`, [scheduleId, orgSlug ?? null]);
      return row && viewRow(row);
    },

    /**
     * Changes a schedule and marks it as the org's or the operator's. `nextRunAt(schedule)`
     * gives the next tick from the edit time: nothing from before the edit is ever ticked. A
     * schedule disabled or deleted gives up its pending ticks, recorded as skipped.
     */
    async update(scheduleId: string, orgSlug: string | undefined, changes: ScheduleChanges, by: 'org' | 'operator', nextRunAt: (schedule: Schedule) => Date): Promise<ScheduleView | undefined> {
      const updated = await db.transaction(async (tx) => {
        const [current] = await tx.query<Schedule>(`SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE schedule_id = $1::uuid AND ($2::text IS NULL OR org_slug = $2) FOR UPDATE`, [scheduleId, orgSlug ?? null]);
        if (!current) return undefined;
        const next = { ...current, ...changes };
        const timingChanged = next.cron_expression !== current.cron_expression || next.timezone !== current.timezone || (next.is_enabled && !current.is_enabled) || (!next.is_deleted && current.is_deleted);
        await tx.query(
          `UPDATE schedules SET cron_expression = $3, timezone = $4, parameters = $5::jsonb, missed_policy = $6, max_catchup = $7, is_enabled = $8, is_deleted = $9,
                  source = $10, next_run_at = $11, updated_at = now()
            WHERE org_slug = $1 AND schedule_id = $2::uuid`,
          [current.org_slug, scheduleId, next.cron_expression, next.timezone, JSON.stringify(next.parameters), next.missed_policy, next.max_catchup, next.is_enabled, next.is_deleted, by, timingChanged ? nextRunAt(next) : current.next_run_at],
        );
        if (!next.is_enabled || next.is_deleted) await skipPending(tx, current.org_slug, scheduleId, next.is_deleted ? 'schedule deleted' : 'schedule disabled');
        return current.org_slug;
      });
      return updated === undefined ? undefined : this.get(scheduleId, updated);
    },

    /**
     * One batch of the tick loop, in one transaction: up to `limit` enabled schedules due at
     * `now` locked (SKIP LOCKED: each scheduler process takes other schedules), `plan` turns
     * them into tick rows and next tick times, and one statement (ADMIT_NEW_TICKS) writes the
     * ticks, admits the due ones and advances the schedules.
     */
    async tickDue(now: Date, limit: number, plan: (due: Schedule[]) => Promise<{ ticks: NewTick[]; next: { org_slug: string; schedule_id: string; next_run_at: Date }[] }>): Promise<AdmittedTicks & { schedules: number }> {
      return db.transaction(async (tx) => {
        const due = await tx.query<Schedule>(
          `SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE is_enabled AND NOT is_deleted AND next_run_at <= $1 ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
          [now, limit],
        );
        if (due.length === 0) return { schedules: 0, taken: 0, enqueued: 0, deferred: 0, skipped: 0, lag_seconds: [] };
        const { ticks, next } = await plan(due);
        const [row] = await tx.query<AdmittedTicks>(ADMIT_NEW_TICKS, [now, ...quotaPeriod(now), JSON.stringify(ticks), JSON.stringify(next)]);
        return { schedules: due.length, ...(row as AdmittedTicks) };
      });
    },

    /** Tick rows written outside a pass (a trigger); one already written is left as it is. */
    async insertTicks(ticks: NewTick[]): Promise<void> {
      await db.query(INSERT_TICKS, [JSON.stringify(ticks)]);
    },

    /** One batch of stored ticks admitted (ADMIT_STORED_TICKS): new ones written outside a pass, deferred ones due again. */
    async admitDueTicks(now: Date, limit: number): Promise<AdmittedTicks> {
      const [row] = await db.query<AdmittedTicks>(ADMIT_STORED_TICKS, [now, ...quotaPeriod(now), limit]);
      return row ?? { taken: 0, enqueued: 0, deferred: 0, skipped: 0, lag_seconds: [] };
    },

    /** Ticks, newest first: those waiting (due, deferred) or of one schedule, for GET scheduler/queue. */
    async ticks(filter: { orgSlug?: string; scheduleId?: string; statuses?: TickStatus[]; before?: { scheduled_for: Date; schedule_id: string }; limit: number }): Promise<Tick[]> {
      return db.query<Tick>(
        `SELECT t.org_slug, t.schedule_id::text AS schedule_id, t.scheduled_for, t.status, t.reason, t.run_id::text AS run_id, t.pipeline_id, t.parameters, t.attempts, t.next_attempt_at, r.status AS run_status
           FROM schedule_ticks t LEFT JOIN pipeline_runs r ON t.status = 'enqueued' AND r.org_slug = t.org_slug AND r.run_id = t.run_id
          WHERE ($1::text IS NULL OR t.org_slug = $1) AND ($2::uuid IS NULL OR t.schedule_id = $2::uuid) AND ($3::text[] IS NULL OR t.status = ANY($3::text[]))
            AND ($4::timestamptz IS NULL OR (t.scheduled_for, t.schedule_id) < ($4, $5::uuid))
          ORDER BY t.scheduled_for DESC, t.schedule_id DESC LIMIT $6`,
        [filter.orgSlug ?? null, filter.scheduleId ?? null, filter.statuses ?? null, filter.before?.scheduled_for ?? null, filter.before?.schedule_id ?? null, filter.limit],
      );
    },
  };
}

async function skipPending(tx: Queryable, orgSlug: string, scheduleId: string, reason: string): Promise<void> {
  await tx.query(
    `UPDATE schedule_ticks SET status = 'skipped', reason = $3, next_attempt_at = NULL, updated_at = now()
      WHERE org_slug = $1 AND schedule_id = $2::uuid AND status IN ('due', 'deferred')`,
    [orgSlug, scheduleId, reason],
  );
}

function viewRow(row: ScheduleView): ScheduleView {
  return { ...row, schedule_id: String(row.schedule_id) };
}

export type ScheduleStore = ReturnType<typeof scheduleStore>;
