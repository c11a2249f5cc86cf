-- Backfills: one child run per day of a range, admitted a few at a time by the coordinator
-- (src/scheduler/backfills.ts). All their state is here, so a backfill survives a restart and
-- any process's coordinator may carry it on. A day's outcome is its child's pipeline_runs row.
CREATE TABLE backfills (
  org_slug          text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  backfill_id       uuid NOT NULL,
  pipeline_id       text NOT NULL,
  provider          text NOT NULL,
  domain            text NOT NULL,
  pipeline          text NOT NULL,
  start_date        date NOT NULL,
  end_date          date NOT NULL CHECK (end_date >= start_date),
  mode              text NOT NULL CHECK (mode IN ('missing', 'failed', 'all')),
  max_concurrent    integer NOT NULL CHECK (max_concurrent BETWEEN 1 AND 20),
  -- The declared run parameters every child gets besides its date.
  parameters        jsonb NOT NULL,
  status            text NOT NULL CHECK (status IN ('running', 'cancelling', 'completed', 'completed_with_failures', 'cancelled')),
  created_by        text NOT NULL,
  created_at        timestamptz NOT NULL,
  ended_at          timestamptz,
  -- When a coordinator should look at it next: now while it admits or waits for children, later
  -- while the org's daily or monthly quota is spent.
  next_attempt_at   timestamptz NOT NULL,
  -- Why the last pass admitted fewer children than it had room for (a quota, the org's lane).
  last_deferral     text,
  last_deferred_at  timestamptz,
  PRIMARY KEY (org_slug, backfill_id)
);
CREATE INDEX backfills_history ON backfills (org_slug, created_at DESC, backfill_id DESC);
-- The coordinators' scan, across orgs, of the backfills not yet ended.
CREATE INDEX backfills_due ON backfills (next_attempt_at) WHERE status IN ('running', 'cancelling');

-- A day of a backfill. pending until admitted, then admitted with its child's run_id (a UUID
-- derived from backfill, day and attempt, so a day is never admitted twice), skipped when the
-- mode did not select it, refused when its run could not be admitted, cancelled when the
-- backfill was cancelled first. reason says why a day was skipped or refused.
CREATE TABLE backfill_days (
  org_slug       text NOT NULL,
  backfill_id    uuid NOT NULL,
  day            date NOT NULL,
  status         text NOT NULL CHECK (status IN ('pending', 'admitted', 'skipped', 'refused', 'cancelled')),
  attempt        integer NOT NULL DEFAULT 1,
  run_id         uuid,
  reason         text,
  admitted_at    timestamptz,
  PRIMARY KEY (org_slug, backfill_id, day),
  FOREIGN KEY (org_slug, backfill_id) REFERENCES backfills ON DELETE CASCADE
);
