import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planProblems } from '../../src/engine/plan.ts';
import { retryDecision } from '../../src/engine/retry-policy.ts';
import { resolveRunParameters } from '../../src/engine/run-parameters.ts';
import type { PipelineConfig } from '../../src/pipelines/config-schema.ts';
import { resolveStepConfig, resolveTemplates, runVariables, sqlInDialect } from '../../src/pipelines/templates.ts';
import { localBqTransformer } from '../../src/processors/generic/local-bq-transformer.ts';
import { InputError, ProcessorError } from '../../src/shared/errors.ts';
import { splitStatements } from '../../src/warehouse/split-statements.ts';

const variables = runVariables({ orgSlug: 'acme', env: 'prod', projectId: 'proj', runId: 'r1', pipelineId: 'p1', credentialId: 'c1', startDate: '2026-02-28', endDate: '2026-03-01', requestedOn: '2026-03-01', parameters: { team: 'data' } });

test('templates resolve in all three spellings, recursively', () => {
  const resolved = resolveTemplates({ a: '{{org_slug}}.${org_dataset}.{run_id}', list: ['{start_date}..{end_date}', { deep: '{{ yesterday }} {team} {year}-{month}-{day}' }], n: 3 }, variables);
  assert.deepEqual(resolved, { a: 'acme.acme_prod.r1', list: ['2026-02-28..2026-03-01', { deep: '2026-02-28 data 2026-02-28' }], n: 3 });
});

test('an unknown variable is an error naming it and where it is', () => {
  assert.throws(() => resolveTemplates({ q: ['x', '{{nope}} and {also_nope}'] }, variables), (error: Error) => error.message === 'Unknown template variables: nope (in config.q[1]), also_nope (in config.q[1])');
});

test('run parameters cannot shadow built-in variables', () => {
  const shadowed = runVariables({ orgSlug: 'acme', env: 'dev', projectId: 'p', runId: 'r', pipelineId: 'p', credentialId: 'c', startDate: '2026-01-01', endDate: '2026-01-01', requestedOn: '2026-01-02', parameters: { org_slug: 'evil' } });
  assert.equal(shadowed.org_slug, 'acme');
});

test('retry decisions: exponential backoff, capped attempts, permanent errors stop', () => {
  const policy = { maxAttempts: 4, backoffSeconds: 3 };
  assert.deepEqual([1, 2, 3].map((attempt) => retryDecision(attempt, new Error('x'), policy)), [{ retry: true, delayMs: 3000 }, { retry: true, delayMs: 6000 }, { retry: true, delayMs: 12000 }]);
  assert.deepEqual(retryDecision(4, new Error('x'), policy), { retry: false });
  assert.deepEqual(retryDecision(1, new ProcessorError('x', { retryable: false }), policy), { retry: false });
  assert.deepEqual(retryDecision(1, new InputError('x'), policy), { retry: false });
  assert.deepEqual(retryDecision(30, new Error('x'), { maxAttempts: 40, backoffSeconds: 10 }), { retry: true, delayMs: 3_600_000 });
});

test('the plan finds self, unknown and cyclic dependencies', () => {
  assert.deepEqual(planProblems([{ step_id: 'a' }, { step_id: 'b', depends_on: ['a'] }]), []);
  assert.match(planProblems([{ step_id: 'a', depends_on: ['a'] }])[0]?.message ?? '', /depends on itself/);
  assert.match(planProblems([{ step_id: 'a', depends_on: ['c'] }, { step_id: 'c', depends_on: ['b'] }, { step_id: 'b', depends_on: ['a'] }])[0]?.message ?? '', /cycle: a -> c -> b -> a/);
});

const pipeline = { route: 'demo/usage/daily_cost', parameters: { teams: { type: 'integer', default: 3 }, tier: { type: 'string', enum: ['a', 'b'] }, must: { type: 'boolean', required: false } } } as unknown as PipelineConfig;

test('run parameters: dates default to yesterday, date is one day, ranges are checked', () => {
  assert.deepEqual(resolveRunParameters(pipeline, {}, '2026-03-01', 31).parameters, { start_date: '2026-02-28', end_date: '2026-02-28', credential_id: 'default', teams: 3 });
  assert.equal(resolveRunParameters(pipeline, { date: '2024-02-29' }, '2026-03-01', 31).endDate, '2024-02-29');
  const field = (body: Record<string, unknown>) => {
    try {
      resolveRunParameters(pipeline, body, '2026-03-01', 31);
    } catch (error) {
      return (error as InputError).field;
    }
    return undefined;
  };
  assert.equal(field({ date: '2026-02-30' }), 'date');
  assert.equal(field({ start_date: '2026-02-10', end_date: '2026-02-01' }), 'start_date');
  assert.equal(field({ start_date: '2026-01-01', end_date: '2026-03-01' }), 'end_date');
  assert.equal(field({ start_date: '2026-01-01' }), 'end_date');
  assert.equal(field({ teams: 'many' }), 'teams');
  assert.equal(field({ tier: 'c' }), 'tier');
  assert.equal(field({ surprise: 1 }), 'surprise');
  assert.equal(field({ credential_id: "x'; drop" }), 'credential_id');
  assert.equal(field({ start_date: '2026-02-01', end_date: '2026-03-03' }), undefined, '31 days is the bound, inclusive');
});

test('scripts split at top-level semicolons only', () => {
  assert.deepEqual(splitStatements("SELECT ';' AS a; -- c; d\nSELECT \"x;y\" FROM t /* ; */;\n\n"), ["SELECT ';' AS a", 'SELECT "x;y" FROM t']);
});

test('production refuses weak settings, naming each problem', async () => {
  const { loadSettings } = await import('../../src/config/settings.ts');
  assert.throws(() => loadSettings({ ENVIRONMENT: 'production', CA_ROOT_API_KEY: 'short' }), (error: Error) =>
    /CA_ROOT_API_KEY must be at least 32 characters/.test(error.message) && /KMS_KEY_NAME is required/.test(error.message) && /DATABASE_URL is required/.test(error.message));
  assert.equal(loadSettings({ ENVIRONMENT: 'production', CA_ROOT_API_KEY: 'k'.repeat(40), KMS_KEY_NAME: 'projects/p/locations/l/keyRings/r/cryptoKeys/k', DATABASE_URL: 'postgres://x' }).env, 'prod');
  assert.throws(() => loadSettings({ PORT: 'eighty' }), /PORT must be an integer/);
  assert.equal(loadSettings({}).bigquery.proceduresDataset, 'organizations');
  assert.equal(loadSettings({ BIGQUERY_PROCEDURES_DATASET: 'finops_procs' }).bigquery.proceduresDataset, 'finops_procs');
  assert.throws(() => loadSettings({ BIGQUERY_PROCEDURES_DATASET: 'procs; DROP' }), /BIGQUERY_PROCEDURES_DATASET must be a BigQuery dataset id \(letters, digits and _\), got "procs; DROP"/);
});

test('SQL of a step is one string in the warehouse\'s dialect, or a form per dialect; a missing form fails naming the field', () => {
  assert.equal(sqlInDialect('SELECT 1', 'bigquery', 'query'), 'SELECT 1');
  const both = { duckdb: 'SELECT $a', bigquery: 'SELECT @a' };
  assert.equal(sqlInDialect(both, 'duckdb', 'query'), 'SELECT $a');
  assert.equal(sqlInDialect(both, 'bigquery', 'query'), 'SELECT @a');
  assert.throws(() => sqlInDialect({ duckdb: 'SELECT 1' }, 'bigquery', 'focus.reconcile.source'), (error: ProcessorError) =>
    !error.retryable && error.message === "the step's focus.reconcile.source has no bigquery form (it gives duckdb); this warehouse runs bigquery SQL: add `bigquery: |` beside it");
  // Each form's templates resolve with the identifiers only, as a single string's do.
  const variables = runVariables({ orgSlug: 'acme', env: 'dev', projectId: 'p', runId: 'r', pipelineId: 'x', credentialId: 'default', startDate: '2026-01-01', endDate: '2026-01-01', requestedOn: '2026-01-01', parameters: { region: 'eu' } });
  const config = { target_table: 't', schema: 's', query: { duckdb: 'SELECT * FROM {org_dataset}.u', bigquery: 'SELECT * FROM `{org_dataset}.u`' } };
  assert.deepEqual(resolveStepConfig(config, localBqTransformer.configSchema, variables).query, { duckdb: 'SELECT * FROM acme_dev.u', bigquery: 'SELECT * FROM `acme_dev.u`' });
  assert.throws(() => resolveStepConfig({ ...config, query: { bigquery: 'SELECT * FROM {region}.u' } }, localBqTransformer.configSchema, variables), /names \{region\} as a template/);
});
