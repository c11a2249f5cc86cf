-- The control plane: tenants, their keys and quotas, and every run's full trace.
-- Tenant (org_slug) leads every primary key and composite index (STYLE.md).

CREATE TABLE organizations (
  org_slug    text PRIMARY KEY CHECK (org_slug ~ '^[a-z][a-z0-9_]{1,48}[a-z0-9]$'),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org_api_keys (
  org_slug      text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  key_id        text NOT NULL,
  key_hash      text NOT NULL UNIQUE,
  key_prefix    text NOT NULL,
  name          text NOT NULL DEFAULT 'default',
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  PRIMARY KEY (org_slug, key_id)
);

-- Plan limits and the counters reserved against them. quota_day / quota_month say which
-- day and month runs_today / runs_this_month count, so a new day resets them in the same
-- conditional UPDATE that reserves.
CREATE TABLE subscriptions (
  org_slug          text PRIMARY KEY REFERENCES organizations ON DELETE CASCADE,
  plan              text NOT NULL,
  status            text NOT NULL CHECK (status IN ('ACTIVE', 'TRIAL', 'PAST_DUE', 'SUSPENDED', 'CANCELLED')),
  daily_limit       integer NOT NULL CHECK (daily_limit >= 0),
  monthly_limit     integer NOT NULL CHECK (monthly_limit >= 0),
  concurrent_limit  integer NOT NULL CHECK (concurrent_limit >= 0),
  quota_day         date NOT NULL DEFAULT '1970-01-01',
  runs_today        integer NOT NULL DEFAULT 0,
  quota_month       date NOT NULL DEFAULT '1970-01-01',
  runs_this_month   integer NOT NULL DEFAULT 0,
  running_count     integer NOT NULL DEFAULT 0,
  success_count     bigint NOT NULL DEFAULT 0,
  failure_count     bigint NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pipeline_runs (
  org_slug           text NOT NULL REFERENCES organizations ON DELETE CASCADE,
  run_id             uuid NOT NULL,
  pipeline_id        text NOT NULL,
  provider           text NOT NULL,
  domain             text NOT NULL,
  pipeline           text NOT NULL,
  status             text NOT NULL CHECK (status IN ('pending', 'validating', 'running', 'completed', 'failed', 'cancelled')),
  parameters         jsonb NOT NULL,
  trigger            text NOT NULL,
  created_by         text NOT NULL,
  holds_slot         boolean NOT NULL DEFAULT true,
  cancel_requested   boolean NOT NULL DEFAULT false,
  created_at         timestamptz NOT NULL,
  started_at         timestamptz,
  ended_at           timestamptz,
  duration_ms        integer,
  records_processed  bigint NOT NULL DEFAULT 0,
  error_message      text,
  PRIMARY KEY (org_slug, run_id)
);
CREATE INDEX pipeline_runs_history ON pipeline_runs (org_slug, created_at DESC, run_id DESC);
CREATE INDEX pipeline_runs_slots ON pipeline_runs (org_slug) WHERE holds_slot;

CREATE TABLE step_runs (
  org_slug           text NOT NULL,
  run_id             uuid NOT NULL,
  step_id            text NOT NULL,
  ps_type            text NOT NULL,
  position           integer NOT NULL,
  status             text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'skipped', 'cancelled')),
  attempts           integer NOT NULL DEFAULT 0,
  started_at         timestamptz,
  ended_at           timestamptz,
  duration_ms        integer,
  records_processed  bigint NOT NULL DEFAULT 0,
  error_message      text,
  result             jsonb,
  PRIMARY KEY (org_slug, run_id, step_id),
  FOREIGN KEY (org_slug, run_id) REFERENCES pipeline_runs ON DELETE CASCADE
);

CREATE TABLE run_transitions (
  id           bigint GENERATED ALWAYS AS IDENTITY,
  org_slug     text NOT NULL,
  run_id       uuid NOT NULL,
  from_status  text,
  to_status    text NOT NULL,
  at           timestamptz NOT NULL,
  reason       text NOT NULL,
  FOREIGN KEY (org_slug, run_id) REFERENCES pipeline_runs ON DELETE CASCADE
);
CREATE INDEX run_transitions_run ON run_transitions (org_slug, run_id, id);

CREATE TABLE run_logs (
  id        bigint GENERATED ALWAYS AS IDENTITY,
  org_slug  text NOT NULL,
  run_id    uuid NOT NULL,
  at        timestamptz NOT NULL,
  level     text NOT NULL,
  step_id   text,
  message   text NOT NULL,
  fields    jsonb,
  FOREIGN KEY (org_slug, run_id) REFERENCES pipeline_runs ON DELETE CASCADE
);
CREATE INDEX run_logs_run ON run_logs (org_slug, run_id, id);

-- The run queue: a row per run not yet finished. A worker claims a row by setting worker_id
-- and a lease; `claims` is the fencing token every later write of that worker must match.
CREATE TABLE run_queue (
  org_slug          text NOT NULL,
  run_id            uuid NOT NULL,
  enqueued_at       timestamptz NOT NULL,
  worker_id         text,
  lease_expires_at  timestamptz,
  claims            integer NOT NULL DEFAULT 0,
  PRIMARY KEY (org_slug, run_id),
  FOREIGN KEY (org_slug, run_id) REFERENCES pipeline_runs ON DELETE CASCADE
);
CREATE INDEX run_queue_claimable ON run_queue (lease_expires_at NULLS FIRST, enqueued_at);
