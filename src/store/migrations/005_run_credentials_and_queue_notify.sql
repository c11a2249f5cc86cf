-- The providers whose credentials a run needs, known at admission from its pipeline's steps.
-- A run that needs none is moved straight to running by the claim that takes it; one that
-- does is checked while `validating`, by the worker, before its first step.
ALTER TABLE pipeline_runs ADD COLUMN credential_providers text[] NOT NULL DEFAULT '{}';
