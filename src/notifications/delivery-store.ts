import type { Db, Queryable } from '../store/db.ts';
import type { MessageKind } from './message-kinds.ts';
import type { EventFacts, RunFacts, StepFacts } from './messages.ts';

export type DeliveryStatus = 'pending' | 'sent' | 'failed' | 'held' | 'digested' | 'cancelled';
export type AttemptStatus = 'sent' | 'retrying' | 'failed' | 'interrupted';

/** A delivery a notifier holds a lease on; `claims` fences its writes. */
export interface ClaimedDelivery {
  org_slug: string;
  delivery_id: string;
  channel_id: string;
  event_id: string | null;
  message_kind: MessageKind;
  details: Record<string, unknown>;
  idempotency_key: string;
  attempts: number;
  max_attempts: number;
  claims: number;
  lease_expires_at: Date;
}

export interface NewDelivery {
  org_slug: string;
  channel_id: string;
  event_id: string | null;
  message_kind: MessageKind;
  details: Record<string, unknown>;
  idempotency_key: string;
  status: 'pending' | 'held';
  /** The event's time: deliveries go out, and digests list them, in the order things happened. */
  created_at: Date;
}

export interface AttemptRecord {
  status: AttemptStatus;
  deliveryStatus: DeliveryStatus;
  code: number | null;
  error: string | null;
  at: Date;
  nextAttemptAt: Date | null;
  /** The channel's next probe: set when it is down or asked for time. */
  pauseChannelUntil: Date | null;
}

export interface HistoryEntry {
  attempt_id: number;
  attempt: number;
  status: AttemptStatus;
  response_code: number | null;
  error: string | null;
  started_at: Date;
  ended_at: Date;
  next_attempt_at: Date | null;
  delivery_id: string;
  delivery_status: DeliveryStatus;
  message_kind: MessageKind;
  idempotency_key: string;
  details: Record<string, unknown>;
  channel: string;
  channel_kind: string;
  event_id: string | null;
  run_id: string | null;
  provider: string | null;
  domain: string | null;
  pipeline: string | null;
}

export interface HistoryQuery {
  channel?: string | undefined;
  status?: AttemptStatus | undefined;
  kind?: MessageKind | undefined;
  runId?: string | undefined;
  before?: number | undefined;
  limit: number;
}

const CLAIMED_COLUMNS = `d.org_slug, d.delivery_id::text AS delivery_id, d.channel_id::text AS channel_id, d.event_id::text AS event_id, d.message_kind, d.details,
  d.idempotency_key, d.attempts, d.max_attempts, d.claims, d.lease_expires_at`;

/**
 * Claims due deliveries with a lease computed from the database's clock (as the engine's run
 * leases are). Due-ness (next_attempt_at, a paused channel) is read against the notifier's
 * `now`, so tests drive backoff without waiting. A delivery whose previous holder was still
 * sending when its lease ran out gets an `interrupted` attempt row in the same statement.
 */
const CLAIM = `
  WITH due AS (
    SELECT d.org_slug, d.delivery_id, d.in_flight, d.attempts, d.attempt_started_at, d.lease_expires_at AS old_lease
      FROM notification_deliveries d
      JOIN notification_channels c ON c.org_slug = d.org_slug AND c.channel_id = d.channel_id
     WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
       AND c.is_enabled AND (c.paused_until IS NULL OR c.paused_until <= $1)
     ORDER BY d.next_attempt_at, d.seq
     LIMIT $2
     FOR UPDATE OF d SKIP LOCKED),
  interrupted AS (
    INSERT INTO notification_attempts (org_slug, delivery_id, attempt, status, error, started_at, ended_at)
    SELECT org_slug, delivery_id, attempts, 'interrupted', 'the notifier stopped during this attempt (its lease ran out); the receiver may have it', coalesce(attempt_started_at, old_lease), old_lease
      FROM due WHERE in_flight),
  claimed AS (
    UPDATE notification_deliveries d SET claims = d.claims + 1, lease_owner = $3, lease_expires_at = now() + make_interval(secs => $4::float8 / 1000), in_flight = false
      FROM due WHERE d.org_slug = due.org_slug AND d.delivery_id = due.delivery_id
    RETURNING ${CLAIMED_COLUMNS})
  SELECT * FROM claimed d`;

/** Sent, retrying or given up: the delivery's new state, its attempt row and its channel's last outcome, in one statement. */
const RECORD = `
  WITH d AS (
    UPDATE notification_deliveries SET status = $4, next_attempt_at = coalesce($9, next_attempt_at), in_flight = false, lease_owner = NULL, lease_expires_at = NULL,
           last_error = $6, last_status_code = $7, sent_at = CASE WHEN $4 = 'sent' THEN $8 ELSE sent_at END
     WHERE org_slug = $1 AND delivery_id = $2 AND claims = $3 AND in_flight
    RETURNING org_slug, delivery_id, channel_id, attempts, attempt_started_at),
  attempt AS (
    INSERT INTO notification_attempts (org_slug, delivery_id, attempt, status, response_code, error, started_at, ended_at, next_attempt_at)
    SELECT org_slug, delivery_id, attempts, $5, $7, $6, attempt_started_at, $8, $9 FROM d),
  channel AS (
    UPDATE notification_channels c SET last_status_code = coalesce($7, c.last_status_code),
           last_success_at = CASE WHEN $5 = 'sent' THEN $8 ELSE c.last_success_at END,
           last_error = CASE WHEN $5 = 'sent' THEN c.last_error ELSE $6 END,
           last_error_at = CASE WHEN $5 = 'sent' THEN c.last_error_at ELSE $8 END,
           paused_until = $10
      FROM d WHERE c.org_slug = d.org_slug AND c.channel_id = d.channel_id)
  SELECT 1 FROM d`;

const FACTS = `
  SELECT e.event_id::text AS event_id, e.kind, e.provider, e.domain, e.pipeline, e.run_id::text AS run_id, e.payload, e.created_at,
         CASE WHEN r.run_id IS NULL THEN NULL ELSE jsonb_build_object('status', r.status, 'trigger', r.trigger, 'started_at', r.started_at, 'ended_at', r.ended_at,
           'duration_ms', r.duration_ms, 'records_processed', r.records_processed, 'error_message', r.error_message) END AS run,
         (SELECT jsonb_build_object('step_id', s.step_id, 'ps_type', s.ps_type, 'attempts', s.attempts, 'error_message', s.error_message)
            FROM step_runs s WHERE s.org_slug = e.org_slug AND s.run_id = e.run_id AND s.status = 'failed' ORDER BY s.position LIMIT 1) AS failing_step
    FROM notification_events e
    LEFT JOIN pipeline_runs r ON r.org_slug = e.org_slug AND r.run_id = e.run_id
   WHERE e.org_slug = $1 AND e.event_id = ANY($2::uuid[])`;

export interface EventWithFacts {
  event: EventFacts;
  run: RunFacts | null;
  failingStep: StepFacts | null;
}

/** The notifier's SQL: deliveries' claims, attempts and outcomes, digests, history. */
export function deliveryStore(db: Db) {
  return {
    async insert(tx: Queryable, rows: NewDelivery[], maxAttempts: number, now: Date): Promise<number> {
      if (rows.length === 0) return 0;
      const inserted = await tx.query(
        `INSERT INTO notification_deliveries (org_slug, channel_id, event_id, message_kind, details, idempotency_key, status, max_attempts, next_attempt_at, created_at)
         SELECT r.org_slug, r.channel_id, r.event_id, r.message_kind, r.details, r.idempotency_key, r.status, $2, $3, r.created_at
           FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (org_slug text, channel_id uuid, event_id uuid, message_kind text, details jsonb, idempotency_key text, status text, created_at timestamptz))
                WITH ORDINALITY AS r(org_slug, channel_id, event_id, message_kind, details, idempotency_key, status, created_at, n)
          ORDER BY r.n
         ON CONFLICT (org_slug, idempotency_key) DO NOTHING
         RETURNING 1`,
        [JSON.stringify(rows), maxAttempts, now],
      );
      return inserted.length;
    },

    claim(now: Date, limit: number, owner: string, leaseMs: number): Promise<ClaimedDelivery[]> {
      return db.query<ClaimedDelivery>(CLAIM, [now, limit, owner, leaseMs]);
    },

    /** A test-send: its event (already planned) and its delivery, written claimed by the caller, who sends it at once. */
    async insertTest(orgSlug: string, channel: { channel_id: string; name: string }, owner: string, leaseMs: number, now: Date): Promise<ClaimedDelivery> {
      return db.transaction(async (tx) => {
        const [event] = await tx.query<{ event_id: string }>(
          `INSERT INTO notification_events (org_slug, kind, severity, payload, created_at, planned_at) VALUES ($1, 'test', 'INFO', $2, $3, $3) RETURNING event_id::text AS event_id`,
          [orgSlug, JSON.stringify({ channel_id: channel.channel_id, channel: channel.name }), now],
        );
        const eventId = (event as { event_id: string }).event_id;
        const [claimed] = await tx.query<ClaimedDelivery>(
          `INSERT INTO notification_deliveries AS d (org_slug, channel_id, event_id, message_kind, details, idempotency_key, status, max_attempts, next_attempt_at, created_at, claims, lease_owner, lease_expires_at)
           VALUES ($1, $2, $3, 'test', '{}', $4, 'pending', 1, $5, $5, 1, $6, now() + make_interval(secs => $7::float8 / 1000))
           RETURNING ${CLAIMED_COLUMNS}`,
          [orgSlug, channel.channel_id, eventId, `${eventId}:${channel.channel_id}`, now, owner, leaseMs],
        );
        return claimed as ClaimedDelivery;
      });
    },

    /**
     * The fence right before a send: the claim is still ours, the delivery still pending, and the
     * lease has `sendMs` left, so the send ends before anyone else may claim it. Counts the
     * attempt and marks it in flight. False: do not send.
     */
    async begin(delivery: ClaimedDelivery, sendMs: number, at: Date): Promise<number | undefined> {
      const [row] = await db.query<{ attempts: number }>(
        `UPDATE notification_deliveries SET attempts = attempts + 1, in_flight = true, attempt_started_at = $5
          WHERE org_slug = $1 AND delivery_id = $2 AND claims = $3 AND status = 'pending' AND lease_expires_at > now() + make_interval(secs => $4::float8 / 1000)
         RETURNING attempts`,
        [delivery.org_slug, delivery.delivery_id, delivery.claims, sendMs, at],
      );
      return row?.attempts;
    },

    /** False when the claim was lost meanwhile (nothing is written). */
    async record(delivery: ClaimedDelivery, outcome: AttemptRecord): Promise<boolean> {
      const rows = await db.query(RECORD, [
        delivery.org_slug, delivery.delivery_id, delivery.claims, outcome.deliveryStatus, outcome.status, outcome.error, outcome.code, outcome.at, outcome.nextAttemptAt, outcome.pauseChannelUntil,
      ]);
      return rows.length > 0;
    },

    /** Claimed deliveries not attempted (their channel paused meanwhile): free at once for the next pass. */
    async release(deliveries: ClaimedDelivery[]): Promise<void> {
      if (deliveries.length === 0) return;
      await db.query(
        `UPDATE notification_deliveries d SET lease_owner = NULL, lease_expires_at = NULL
           FROM jsonb_to_recordset($1::jsonb) AS r(org_slug text, delivery_id uuid, claims int)
          WHERE d.org_slug = r.org_slug AND d.delivery_id = r.delivery_id AND d.claims = r.claims AND NOT d.in_flight`,
        [JSON.stringify(deliveries.map(({ org_slug, delivery_id, claims }) => ({ org_slug, delivery_id, claims })))],
      );
    },

    /** What messages say, read when they are sent: the events, their runs and each run's first failed step. */
    async facts(orgSlug: string, eventIds: string[]): Promise<Map<string, EventWithFacts>> {
      if (eventIds.length === 0) return new Map();
      const rows = await db.query<EventFacts & { run: Record<string, unknown> | null; failing_step: StepFacts | null }>(FACTS, [orgSlug, eventIds]);
      return new Map(rows.map(({ run, failing_step, ...event }) => [event.event_id, { event, run: run ? runFacts(run) : null, failingStep: failing_step }]));
    },

    /** The held deliveries a digest folded in, oldest first. */
    digestItems(orgSlug: string, digestId: string): Promise<{ event_id: string; message_kind: MessageKind; details: Record<string, unknown> }[]> {
      return db.query(
        `SELECT d.event_id::text AS event_id, d.message_kind, d.details FROM notification_deliveries d
          WHERE d.org_slug = $1 AND d.digest_id = $2 ORDER BY d.seq`,
        [orgSlug, digestId],
      );
    },

    /**
     * Channels whose digest is due, each locked (SKIP LOCKED: one process makes a channel's
     * digest), with the held deliveries before the due time folded into one digest delivery.
     */
    async foldDigests(now: Date, limit: number, next: (channel: DueDigest) => { nextAt: Date; localDay: string }, maxAttempts: number): Promise<number> {
      return db.transaction(async (tx) => {
        const due = await tx.query<DueDigest>(
          `SELECT c.org_slug, c.channel_id::text AS channel_id, c.next_digest_at, c.last_digest_at, coalesce(s.timezone, 'UTC') AS timezone, coalesce(s.digest_time, '08:00') AS digest_time
             FROM notification_channels c LEFT JOIN notification_settings s ON s.org_slug = c.org_slug
            WHERE c.delivery = 'digest' AND c.is_enabled AND c.next_digest_at <= $1
            ORDER BY c.next_digest_at LIMIT $2
            FOR UPDATE OF c SKIP LOCKED`,
          [now, limit],
        );
        let made = 0;
        for (const channel of due) {
          const { nextAt, localDay } = next(channel);
          const folded = await tx.query(
            `WITH held AS (
               SELECT delivery_id FROM notification_deliveries WHERE org_slug = $1 AND channel_id = $2 AND status = 'held' AND created_at < $3 FOR UPDATE),
             digest AS (
               INSERT INTO notification_deliveries (org_slug, channel_id, message_kind, details, idempotency_key, status, max_attempts, next_attempt_at, created_at)
               SELECT $1, $2, 'digest', jsonb_build_object('from', $4::timestamptz, 'to', $3::timestamptz, 'count', count(*)), $5, 'pending', $6, $7, $7
                 FROM held HAVING count(*) > 0
               ON CONFLICT (org_slug, idempotency_key) DO NOTHING
               RETURNING delivery_id),
             folded AS (
               UPDATE notification_deliveries d SET status = 'digested', digest_id = digest.delivery_id FROM digest, held
                WHERE d.org_slug = $1 AND d.delivery_id = held.delivery_id
               RETURNING 1)
             UPDATE notification_channels SET next_digest_at = $8, last_digest_at = $3 WHERE org_slug = $1 AND channel_id = $2
             RETURNING (SELECT count(*) FROM digest)::int AS digests`,
            [channel.org_slug, channel.channel_id, channel.next_digest_at, channel.last_digest_at, `digest:${channel.channel_id}:${localDay}`, maxAttempts, now, nextAt],
          );
          made += (folded[0] as { digests: number } | undefined)?.digests ?? 0;
        }
        return made;
      });
    },

    async history(orgSlug: string, query: HistoryQuery): Promise<HistoryEntry[]> {
      return db.query<HistoryEntry>(
        `SELECT a.attempt_id, a.attempt, a.status, a.response_code, a.error, a.started_at, a.ended_at, a.next_attempt_at,
                d.delivery_id::text AS delivery_id, d.status AS delivery_status, d.message_kind, d.idempotency_key, d.details,
                c.name AS channel, c.kind AS channel_kind, d.event_id::text AS event_id, e.run_id::text AS run_id, e.provider, e.domain, e.pipeline
           FROM notification_attempts a
           JOIN notification_deliveries d ON d.org_slug = a.org_slug AND d.delivery_id = a.delivery_id
           JOIN notification_channels c ON c.org_slug = d.org_slug AND c.channel_id = d.channel_id
           LEFT JOIN notification_events e ON e.org_slug = d.org_slug AND e.event_id = d.event_id
          WHERE a.org_slug = $1 AND ($2::text IS NULL OR c.name = $2) AND ($3::text IS NULL OR a.status = $3) AND ($4::text IS NULL OR d.message_kind = $4)
            AND ($5::uuid IS NULL OR e.run_id = $5) AND ($6::bigint IS NULL OR a.attempt_id < $6)
          ORDER BY a.attempt_id DESC
          LIMIT $7`,
        [orgSlug, query.channel ?? null, query.status ?? null, query.kind ?? null, query.runId ?? null, query.before ?? null, query.limit],
      );
    },

    /** Events past the retention with nothing left to send, and with them their deliveries and attempts; digests likewise. */
    async prune(before: Date): Promise<number> {
      const events = await db.query(
        `DELETE FROM notification_events e WHERE e.created_at < $1 AND e.planned_at IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.org_slug = e.org_slug AND d.event_id = e.event_id AND d.status IN ('pending', 'held'))
         RETURNING 1`,
        [before],
      );
      await db.query("DELETE FROM notification_deliveries WHERE event_id IS NULL AND created_at < $1 AND status NOT IN ('pending', 'held')", [before]);
      return events.length;
    },
  };
}

export interface DueDigest {
  org_slug: string;
  channel_id: string;
  next_digest_at: Date;
  last_digest_at: Date | null;
  timezone: string;
  digest_time: string;
}

function runFacts(run: Record<string, unknown>): RunFacts {
  const date = (value: unknown) => (typeof value === 'string' ? new Date(value) : null);
  return {
    status: String(run.status),
    trigger: String(run.trigger),
    started_at: date(run.started_at),
    ended_at: date(run.ended_at),
    duration_ms: typeof run.duration_ms === 'number' ? run.duration_ms : null,
    records_processed: Number(run.records_processed ?? 0),
    error_message: typeof run.error_message === 'string' ? run.error_message : null,
  };
}

export type DeliveryStore = ReturnType<typeof deliveryStore>;
