-- Schedules (issue 12): one per org pipeline, made from the pipeline's YAML `schedule` when the
-- org can run it, or set by the org or the operator. Times are instants (timestamptz); the
-- cron expression is read in `timezone`.
CREATE TABLE schedules (
  org_slug         text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  schedule_id      uuid NOT NULL,
  provider         text NOT NULL,
  domain           text NOT NULL,
  pipeline         text NOT NULL,
  cron_expression  text NOT NULL,
  timezone         text NOT NULL DEFAULT 'UTC',
  -- The run-parameter template, evaluated for each tick (src/scheduler/schedule-template.ts).
  parameters       jsonb NOT NULL DEFAULT '{}',
  missed_policy    text NOT NULL DEFAULT 'skip' CHECK (missed_policy IN ('skip', 'once', 'all')),
  max_catchup      integer NOT NULL DEFAULT 10 CHECK (max_catchup BETWEEN 1 AND 100),
  is_enabled       boolean NOT NULL DEFAULT true,
  -- A deleted pipeline schedule stays as a tombstone, so the YAML does not bring it back.
  is_deleted       boolean NOT NULL DEFAULT false,
  -- 'pipeline' while it follows the YAML; 'org' or 'operator' once either of them changed it.
  source           text NOT NULL DEFAULT 'pipeline' CHECK (source IN ('pipeline', 'org', 'operator')),
  next_run_at      timestamptz,
  last_tick_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_slug, schedule_id),
  UNIQUE (org_slug, provider, domain, pipeline)
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE is_enabled AND NOT is_deleted;

-- Each (schedule, scheduled_for) at most once: the primary key. A tick is `due` until the
-- statement that admits it makes it `enqueued` (with its run) or `deferred` (quota; retried
-- at next_attempt_at), or it is `skipped` / `failed` with the reason.
CREATE TABLE schedule_ticks (
  org_slug              text NOT NULL,
  schedule_id           uuid NOT NULL,
  scheduled_for         timestamptz NOT NULL,
  status                text NOT NULL CHECK (status IN ('due', 'deferred', 'enqueued', 'skipped', 'failed')),
  reason                text,
  run_id                uuid NOT NULL,
  pipeline_id           text NOT NULL,
  parameters            jsonb NOT NULL DEFAULT '{}',
  credential_providers  text[] NOT NULL DEFAULT '{}',
  attempts              integer NOT NULL DEFAULT 0,
  next_attempt_at       timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_slug, schedule_id, scheduled_for),
  FOREIGN KEY (org_slug, schedule_id) REFERENCES schedules ON DELETE CASCADE
);
CREATE INDEX schedule_ticks_pending ON schedule_ticks (next_attempt_at) WHERE status IN ('due', 'deferred');
CREATE INDEX schedule_ticks_run ON schedule_ticks (org_slug, run_id);

-- Fair claim order. Each org's lane (adhoc: API and CLI; scheduled; backfill) keeps a virtual
-- clock: a run is queued at greatest(clock + 1 s, now), and workers claim by that time. An org
-- that queues 500 runs at once has them spread over 500 s of virtual time, so another org's
-- one run, queued a second later, is claimed after two of them, not after all 500; and an
-- org's ad-hoc run is not queued behind its own scheduled burst.
CREATE TABLE queue_lanes (
  org_slug  text NOT NULL,
  lane      text NOT NULL CHECK (lane IN ('adhoc', 'scheduled', 'backfill')),
  clock     timestamptz NOT NULL,
  PRIMARY KEY (org_slug, lane)
);
ALTER TABLE run_queue ADD COLUMN priority_at timestamptz;
UPDATE run_queue SET priority_at = enqueued_at;
ALTER TABLE run_queue ALTER COLUMN priority_at SET NOT NULL;
DROP INDEX run_queue_claimable;
CREATE INDEX run_queue_claimable ON run_queue (lease_expires_at NULLS FIRST, priority_at);
