-- The audit log (issue 14, item 3; docs/audit.md): one row per admin or credential action, who
-- did it, to what, when (the database clock) and how it ended. No foreign key to organizations:
-- the record of an org's actions outlives the org, and a refused action may name an org that
-- does not exist. Secrets and request bodies are never stored here.
CREATE TABLE audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The org acted on; null for an action on the service as a whole.
  org_slug    text,
  -- Milliseconds, as JavaScript dates hold them, so a (created_at, id) cursor round-trips exactly.
  created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  -- 'root', 'key:<key prefix>', 'cli:<os user>', 'engine' or 'anonymous'; never a whole key.
  actor       text NOT NULL,
  -- The org whose API key acted (null for root, the CLI and the engine).
  actor_org   text,
  via         text NOT NULL CHECK (via IN ('api', 'cli', 'engine')),
  action      text NOT NULL,
  -- The resource acted on within the org: a key id, provider/credential_id, schedule id...
  target_id   text,
  request_id  text,
  -- pending: written before the action ran, its end not (yet) recorded.
  outcome     text NOT NULL CHECK (outcome IN ('pending', 'success', 'failure')),
  status      integer,
  error_code  text,
  run_id      uuid,
  step_id     text,
  -- Non-secret facts picked field by field (a plan, a version, a rule kind), never a body.
  details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_org ON audit_log (org_slug, created_at DESC, id DESC);
-- The operator's listing across orgs, and the retention sweep.
CREATE INDEX audit_log_time ON audit_log (created_at DESC, id DESC);
