-- Data-quality results of a run's steps: FOCUS conformance rules, reconciliations, and the
-- warnings processors raise (unpriced models, unmapped services, restated days).
CREATE TABLE run_quality_results (
  id            bigint GENERATED ALWAYS AS IDENTITY,
  org_slug      text NOT NULL,
  run_id        uuid NOT NULL,
  step_id       text NOT NULL,
  check_kind    text NOT NULL,
  rule_id       text NOT NULL,
  level         text NOT NULL,
  status        text NOT NULL CHECK (status IN ('pass', 'fail', 'skipped', 'warn')),
  description   text NOT NULL,
  failing_rows  bigint NOT NULL DEFAULT 0,
  details       jsonb,
  FOREIGN KEY (org_slug, run_id) REFERENCES pipeline_runs ON DELETE CASCADE
);
CREATE INDEX run_quality_results_run ON run_quality_results (org_slug, run_id, id);
