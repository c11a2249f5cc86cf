-- One writer per warehouse partition: a run holds the (org, table, pipeline, credential) key
-- over its days for the length of one write. A lock is live while its run's queue claim is
-- (same claim token, lease not expired); an expired holder's lock is taken over.
CREATE TABLE partition_locks (
  org_slug       text NOT NULL,
  target         text NOT NULL,
  pipeline_id    text NOT NULL,
  credential_id  text NOT NULL,
  first_day      date NOT NULL,
  last_day       date NOT NULL,
  run_id         uuid NOT NULL,
  claims         integer NOT NULL,
  acquired_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_slug, target, pipeline_id, credential_id, run_id, first_day),
  FOREIGN KEY (org_slug, run_id) REFERENCES pipeline_runs ON DELETE CASCADE
);

-- Retention: quality results get the time they were recorded; both sweeps scan by time.
ALTER TABLE run_quality_results ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX run_quality_results_age ON run_quality_results (recorded_at);
CREATE INDEX run_logs_age ON run_logs (at);
