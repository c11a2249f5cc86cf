-- Notifications (issue 13): an org's settings and channels, the deliveries the notifier plans
-- from the outbox (notification_events, migration 008), one per event and channel, and a row
-- per attempt to deliver one.

-- Per org: the timezone its daily digests are read in, and when a failing pipeline is reminded of.
CREATE TABLE notification_settings (
  org_slug                 text PRIMARY KEY REFERENCES organizations ON DELETE CASCADE,
  timezone                 text NOT NULL DEFAULT 'UTC',
  digest_time              text NOT NULL DEFAULT '08:00' CHECK (digest_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  reminder_after_failures  integer NOT NULL DEFAULT 3 CHECK (reminder_after_failures >= 1),
  reminder_after_hours     integer NOT NULL DEFAULT 24 CHECK (reminder_after_hours >= 1),
  updated_at               timestamptz NOT NULL DEFAULT now()
);

-- A channel's target: email recipients in clear; a Slack or webhook URL (whose path is the
-- credential) and the webhook's HMAC secret sealed as credentials are (envelope.ts), with a
-- hint (host, last 4 characters) for display. routes: [{kind, pipelines?}], the messages it
-- takes. paused_until: the channel asked for time (429 Retry-After) or is down (its next probe).
ALTER TABLE notification_channels
  ADD COLUMN recipients        text[] NOT NULL DEFAULT '{}',
  ADD COLUMN sealed_url        jsonb,
  ADD COLUMN url_hint          text,
  ADD COLUMN sealed_secret     jsonb,
  ADD COLUMN secret_hint       text,
  ADD COLUMN routes            jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN delivery          text NOT NULL DEFAULT 'instant' CHECK (delivery IN ('instant', 'digest')),
  ADD COLUMN next_digest_at    timestamptz,
  ADD COLUMN last_digest_at    timestamptz,
  ADD COLUMN paused_until      timestamptz,
  ADD COLUMN last_error        text,
  ADD COLUMN last_status_code  integer,
  ADD COLUMN last_error_at     timestamptz,
  ADD COLUMN last_success_at   timestamptz;
CREATE INDEX notification_channels_digest_due ON notification_channels (next_digest_at) WHERE delivery = 'digest' AND is_enabled;

-- Per (org, pipeline): the failure streak the planner reads and writes in its transaction, so
-- consecutive failures give one notice and one reminder, and the next success a recovery.
CREATE TABLE notification_pipeline_state (
  org_slug              text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  provider              text NOT NULL,
  domain                text NOT NULL,
  pipeline              text NOT NULL,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  failing_since         timestamptz,
  notified_at           timestamptz,
  reminded_at           timestamptz,
  last_run_id           uuid,
  last_status           text,
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_slug, provider, domain, pipeline)
);

-- One message to one channel: an event's (event_id set) or a digest of held ones (event_id
-- null). The idempotency key is unique per org, so a plan made twice delivers once, and the
-- generic webhook sends it in its Idempotency-Key header. A notifier claims a pending row with
-- a lease (claims is the fencing token of every later write); held rows wait for their
-- channel's digest, which sets digest_id.
CREATE TABLE notification_deliveries (
  org_slug            text NOT NULL,
  delivery_id         uuid NOT NULL DEFAULT gen_random_uuid(),
  -- Planning order (the order things happened): a channel gets its messages, and a digest lists them, in it.
  seq                 bigint GENERATED ALWAYS AS IDENTITY,
  channel_id          uuid NOT NULL,
  event_id            uuid,
  message_kind        text NOT NULL CHECK (message_kind IN ('pipeline_success', 'pipeline_failure', 'pipeline_recovered', 'cost_alert', 'cost_alert_resolved', 'test', 'digest')),
  details             jsonb NOT NULL DEFAULT '{}',
  idempotency_key     text NOT NULL,
  status              text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'held', 'digested', 'cancelled')),
  attempts            integer NOT NULL DEFAULT 0,
  max_attempts        integer NOT NULL,
  next_attempt_at     timestamptz NOT NULL,
  claims              integer NOT NULL DEFAULT 0,
  lease_owner         text,
  lease_expires_at    timestamptz,
  in_flight           boolean NOT NULL DEFAULT false,
  attempt_started_at  timestamptz,
  digest_id           uuid,
  last_error          text,
  last_status_code    integer,
  created_at          timestamptz NOT NULL,
  sent_at             timestamptz,
  PRIMARY KEY (org_slug, delivery_id),
  UNIQUE (org_slug, idempotency_key),
  FOREIGN KEY (org_slug, channel_id) REFERENCES notification_channels ON DELETE CASCADE,
  FOREIGN KEY (org_slug, event_id) REFERENCES notification_events ON DELETE CASCADE
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_deliveries_held ON notification_deliveries (org_slug, channel_id, created_at) WHERE status = 'held';
CREATE INDEX notification_deliveries_digest ON notification_deliveries (org_slug, digest_id) WHERE digest_id IS NOT NULL;

-- Every attempt to deliver: written by the statement that records its outcome on the delivery.
-- interrupted: a notifier's lease ran out during the attempt (the process died while sending).
CREATE TABLE notification_attempts (
  org_slug         text NOT NULL,
  attempt_id       bigint GENERATED ALWAYS AS IDENTITY,
  delivery_id      uuid NOT NULL,
  attempt          integer NOT NULL,
  status           text NOT NULL CHECK (status IN ('sent', 'retrying', 'failed', 'interrupted')),
  response_code    integer,
  error            text,
  started_at       timestamptz NOT NULL,
  ended_at         timestamptz NOT NULL,
  next_attempt_at  timestamptz,
  PRIMARY KEY (org_slug, attempt_id),
  FOREIGN KEY (org_slug, delivery_id) REFERENCES notification_deliveries ON DELETE CASCADE
);
CREATE INDEX notification_attempts_delivery ON notification_attempts (org_slug, delivery_id, attempt_id);
