import type { Db, Queryable } from '../store/db.ts';
import { DEFAULT_SETTINGS, type OrgNotificationSettings } from './channel-store.ts';
import type { DeliveryStore, NewDelivery } from './delivery-store.ts';
import { routeTakes, type RoutableKind, type Route } from './message-kinds.ts';
import type { EventFacts } from './messages.ts';
import { HEALTHY, judgeRunEnd, type PipelineStreak } from './pipeline-streaks.ts';

/** A notification_events row, as messages read it, with the org it belongs to. */
interface OutboxEvent extends EventFacts {
  org_slug: string;
  kind: 'run_ended' | 'cost_alert' | 'cost_alert_resolved' | 'test';
}

interface PlanChannel {
  org_slug: string;
  channel_id: string;
  routes: Route[];
  delivery: 'instant' | 'digest';
}

interface StreakRow extends PipelineStreak {
  org_slug: string;
  provider: string;
  domain: string;
  pipeline: string;
}

export interface PlanResult {
  planned: number;
  deliveries: number;
  /** Events left for a later pass: an earlier event of the same pipeline is another planner's right now. */
  deferred: number;
}

const keyOf = (e: { org_slug: string; provider: string | null; domain: string | null; pipeline: string | null }) => `${e.org_slug}/${e.provider}/${e.domain}/${e.pipeline}`;

/**
 * Turns unplanned outbox events into deliveries, one per (event, channel) routed, in one
 * transaction that also sets the events' planned_at and the pipelines' failure streaks. Events
 * are taken FOR UPDATE SKIP LOCKED, so planners in several processes take disjoint batches;
 * a pipeline's streak row is locked while it is read and written, and a pipeline's events are
 * judged in order: one whose earlier event is in another planner's batch waits for a later pass.
 */
export async function planEvents(db: Db, deliveries: DeliveryStore, options: { now: Date; batch: number; maxAttempts: number }): Promise<PlanResult> {
  return db.transaction(async (tx) => {
    const events = await tx.query<OutboxEvent>(
      `SELECT org_slug, event_id::text AS event_id, kind, provider, domain, pipeline, run_id::text AS run_id, payload, created_at
         FROM notification_events WHERE planned_at IS NULL
        ORDER BY created_at, CASE WHEN kind = 'run_ended' THEN (payload->>'ended_at')::timestamptz END, event_id
        LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [options.batch],
    );
    if (events.length === 0) return { planned: 0, deliveries: 0, deferred: 0 };
    const orgs = [...new Set(events.map((e) => e.org_slug))];
    const channels = await tx.query<PlanChannel>(
      'SELECT org_slug, channel_id::text AS channel_id, routes, delivery FROM notification_channels WHERE org_slug = ANY($1::text[]) AND is_enabled ORDER BY org_slug, name',
      [orgs],
    );
    const settings = new Map(
      (await tx.query<OrgNotificationSettings>('SELECT org_slug, timezone, digest_time, reminder_after_failures, reminder_after_hours FROM notification_settings WHERE org_slug = ANY($1::text[])', [orgs])).map((s) => [s.org_slug, s]),
    );
    const runEvents = events.filter((e) => e.kind === 'run_ended' && e.provider && e.domain && e.pipeline);
    const streaks = await lockStreaks(tx, runEvents);
    const blockedFrom = await earlierElsewhere(tx, runEvents);

    const planned: OutboxEvent[] = [];
    const rows: NewDelivery[] = [];
    const changed = new Map<string, OutboxEvent>();
    let deferred = 0;
    for (const event of events) {
      let kinds: RoutableKind[] = [];
      let details: Record<string, unknown> = {};
      let pipelineRoute: string | undefined;
      if (event.kind === 'run_ended' && runEvents.includes(event)) {
        const key = keyOf(event);
        const blocked = blockedFrom.get(key);
        if (blocked && event.created_at >= blocked) {
          deferred += 1;
          continue;
        }
        const org = settings.get(event.org_slug) ?? { org_slug: event.org_slug, ...DEFAULT_SETTINGS };
        const endedAt = typeof event.payload.ended_at === 'string' ? new Date(event.payload.ended_at) : event.created_at;
        const verdict = judgeRunEnd(streaks.get(key) ?? HEALTHY, String(event.payload.status), endedAt, { afterFailures: org.reminder_after_failures, afterHours: org.reminder_after_hours });
        streaks.set(key, { ...(streaks.get(key) as StreakRow), ...verdict.next });
        changed.set(key, event);
        kinds = verdict.kinds;
        details = verdict.details;
        pipelineRoute = `${event.provider}/${event.domain}/${event.pipeline}`;
      } else if (event.kind === 'cost_alert' || event.kind === 'cost_alert_resolved') {
        kinds = [event.kind];
      } else if (event.kind === 'test' && typeof event.payload.channel_id === 'string') {
        const target = channels.find((c) => c.org_slug === event.org_slug && c.channel_id === event.payload.channel_id);
        if (target) rows.push({ org_slug: event.org_slug, channel_id: target.channel_id, event_id: event.event_id, message_kind: 'test', details: {}, idempotency_key: `${event.event_id}:${target.channel_id}`, status: 'pending', created_at: event.created_at });
      }
      planned.push(event);
      for (const channel of channels) {
        if (channel.org_slug !== event.org_slug) continue;
        const kind = kinds.find((k) => channel.routes.some((route) => routeTakes(route, k, pipelineRoute)));
        if (!kind) continue;
        rows.push({
          org_slug: event.org_slug, channel_id: channel.channel_id, event_id: event.event_id, message_kind: kind, details,
          idempotency_key: `${event.event_id}:${channel.channel_id}`, status: channel.delivery === 'digest' ? 'held' : 'pending', created_at: event.created_at,
        });
      }
    }

    const inserted = await deliveries.insert(tx, rows, options.maxAttempts, options.now);
    await saveStreaks(tx, [...changed].map(([key, last]) => ({ ...(streaks.get(key) as StreakRow), last })));
    if (planned.length > 0) {
      await tx.query(
        `UPDATE notification_events e SET planned_at = $3 FROM unnest($1::text[], $2::uuid[]) AS p(org_slug, event_id)
          WHERE e.org_slug = p.org_slug AND e.event_id = p.event_id`,
        [planned.map((e) => e.org_slug), planned.map((e) => e.event_id), options.now],
      );
    }
    return { planned: planned.length, deliveries: inserted, deferred };
  });
}

/** The streak rows of the batch's pipelines, created when new and locked in one order (two planners never wait on each other in a cycle). */
async function lockStreaks(tx: Queryable, runEvents: OutboxEvent[]): Promise<Map<string, StreakRow>> {
  if (runEvents.length === 0) return new Map();
  const keys = [...new Map(runEvents.map((e) => [keyOf(e), { org_slug: e.org_slug, provider: e.provider, domain: e.domain, pipeline: e.pipeline }])).values()];
  const json = JSON.stringify(keys);
  await tx.query(
    `INSERT INTO notification_pipeline_state (org_slug, provider, domain, pipeline)
     SELECT k.org_slug, k.provider, k.domain, k.pipeline FROM jsonb_to_recordset($1::jsonb) AS k(org_slug text, provider text, domain text, pipeline text)
      ORDER BY 1, 2, 3, 4
     ON CONFLICT DO NOTHING`,
    [json],
  );
  const rows = await tx.query<StreakRow>(
    `SELECT s.org_slug, s.provider, s.domain, s.pipeline, s.consecutive_failures, s.failing_since, s.notified_at, s.reminded_at
       FROM notification_pipeline_state s JOIN jsonb_to_recordset($1::jsonb) AS k(org_slug text, provider text, domain text, pipeline text)
         ON s.org_slug = k.org_slug AND s.provider = k.provider AND s.domain = k.domain AND s.pipeline = k.pipeline
      ORDER BY 1, 2, 3, 4
      FOR UPDATE OF s`,
    [json],
  );
  return new Map(rows.map((row) => [keyOf(row), row]));
}

/** Per pipeline of the batch: the earliest unplanned event of it outside the batch (another planner's, locked by it), read after the streak lock. */
async function earlierElsewhere(tx: Queryable, runEvents: OutboxEvent[]): Promise<Map<string, Date>> {
  if (runEvents.length === 0) return new Map();
  const keys = [...new Map(runEvents.map((e) => [keyOf(e), { org_slug: e.org_slug, provider: e.provider, domain: e.domain, pipeline: e.pipeline }])).values()];
  const rows = await tx.query<{ org_slug: string; provider: string; domain: string; pipeline: string; first: Date }>(
    `SELECT e.org_slug, e.provider, e.domain, e.pipeline, min(e.created_at) AS first
       FROM notification_events e JOIN jsonb_to_recordset($1::jsonb) AS k(org_slug text, provider text, domain text, pipeline text)
         ON e.org_slug = k.org_slug AND e.provider = k.provider AND e.domain = k.domain AND e.pipeline = k.pipeline
      WHERE e.planned_at IS NULL AND e.kind = 'run_ended' AND NOT (e.event_id = ANY($2::uuid[]))
      GROUP BY 1, 2, 3, 4`,
    [JSON.stringify(keys), runEvents.map((e) => e.event_id)],
  );
  return new Map(rows.map((row) => [keyOf(row), row.first]));
}

async function saveStreaks(tx: Queryable, rows: (StreakRow & { last: OutboxEvent })[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `UPDATE notification_pipeline_state s SET consecutive_failures = r.consecutive_failures, failing_since = r.failing_since, notified_at = r.notified_at,
            reminded_at = r.reminded_at, last_run_id = r.last_run_id, last_status = r.last_status, updated_at = now()
       FROM jsonb_to_recordset($1::jsonb) AS r(org_slug text, provider text, domain text, pipeline text, consecutive_failures int, failing_since timestamptz,
            notified_at timestamptz, reminded_at timestamptz, last_run_id uuid, last_status text)
      WHERE s.org_slug = r.org_slug AND s.provider = r.provider AND s.domain = r.domain AND s.pipeline = r.pipeline`,
    [JSON.stringify(rows.map((row) => ({
      org_slug: row.org_slug, provider: row.provider, domain: row.domain, pipeline: row.pipeline, consecutive_failures: row.consecutive_failures,
      failing_since: row.failing_since, notified_at: row.notified_at, reminded_at: row.reminded_at, last_run_id: row.last.run_id, last_status: String(row.last.payload.status),
    })))],
  );
}
