-- The notification outbox (issue 13). An event is written in the same transaction as what it
-- tells of (a run's end in END_RUNS, an alert's evaluation), so it can neither be lost nor sent
-- for something that did not happen; delivery to each channel is recorded apart
-- (notification tables of migration 009).
CREATE TABLE notification_events (
  org_slug     text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  event_id     uuid NOT NULL DEFAULT gen_random_uuid(),
  -- run_ended: every end of a run of an org with a notification channel (the notifier turns
  -- them into success / failure / reminder / recovery messages); cost_alert, cost_alert_resolved; test.
  kind         text NOT NULL CHECK (kind IN ('run_ended', 'cost_alert', 'cost_alert_resolved', 'test')),
  severity     text NOT NULL CHECK (severity IN ('INFO', 'WARNING', 'ERROR')),
  provider     text,
  domain       text,
  pipeline     text,
  run_id       uuid,
  payload      jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- Set once the notifier has planned the event's deliveries.
  planned_at   timestamptz,
  PRIMARY KEY (org_slug, event_id)
);
CREATE INDEX notification_events_unplanned ON notification_events (created_at) WHERE planned_at IS NULL;

-- The org's channels; END_RUNS writes run_ended events only for orgs that have one enabled.
CREATE TABLE notification_channels (
  org_slug     text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  channel_id   uuid NOT NULL DEFAULT gen_random_uuid(),
  kind         text NOT NULL CHECK (kind IN ('email', 'slack', 'webhook')),
  name         text NOT NULL,
  is_enabled   boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_slug, channel_id),
  UNIQUE (org_slug, name)
);
