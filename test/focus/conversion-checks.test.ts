import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildServer } from '../../src/api/server.ts';
import { exportOrgTable } from '../../src/focus/export-focus.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { CONFIGS, testApp, waitForRunEnd } from '../support/test-app.ts';
import { LINEAGE_FIELDS } from '../../src/warehouse/table-schema.ts';
import { VALID_ROWS } from './focus-fixture.ts';

// The warehouse writes the lineage columns itself.
const LINEAGE = new Set(LINEAGE_FIELDS.map((field) => field.name));

/** A usage row and a tax row that satisfy every MUST rule: BilledCost 2.16 + 0.2. */
const rowsSql = (overrides: Record<string, string> = {}) =>
  VALID_ROWS.slice(0, 2)
    .map((row) => `SELECT ${Object.entries({ ...row, ...overrides }).filter(([column]) => !LINEAGE.has(column)).map(([column, value]) => `${value} AS "${column}"`).join(', ')}`)
    .join('\nUNION ALL BY NAME\n');

const pipeline = (name: string, procedure: string, source: string) => `
pipeline_id: test_${name}
name: ${name}
description: a conversion to FOCUS with its checks
provider: aws
domain: focus
version: "1"
steps:
  - step_id: convert
    ps_type: generic.procedure_executor
    config:
      procedure: test/${procedure}
      target_table: cost_data_standard_1_3
      schema: focus/cost_data_standard_1_3
      focus:
        provider: aws
        reconcile:
          source: "${source}"
`;

describe('conversion checks (conformance and reconciliation before commit)', () => {
  let cp: ControlPlane;
  let app: App;
  const org = 'focus_org';
  const runPipeline = async (name: string) => {
    const { run_id } = await app.requests.request({ orgSlug: org, route: `aws/focus/${name}`, body: { date: '2026-01-01' }, trigger: 'api', createdBy: 'test' });
    return { run: await waitForRunEnd(app, org, run_id), runId: run_id };
  };
  const focusRows = async () => (await app.warehouse!.query(`SELECT count(*)::INT AS n FROM focus_org_dev.cost_data_standard_1_3`))[0]?.n;

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'focus-configs-'));
    for (const shared of ['schemas', 'focus']) await symlink(join(CONFIGS, shared), join(dir, shared));
    await mkdir(join(dir, 'system', 'procedures', 'test'), { recursive: true });
    await symlink(join(CONFIGS, 'system', 'plans.json'), join(dir, 'system', 'plans.json'));
    await writeFile(join(dir, 'system', 'procedures', 'test', 'valid.duckdb.sql'), rowsSql());
    await writeFile(join(dir, 'system', 'procedures', 'test', 'bad_category.duckdb.sql'), rowsSql({ ChargeCategory: "'Bogus'" }));
    await mkdir(join(dir, 'aws', 'focus'), { recursive: true });
    await writeFile(join(dir, 'aws', 'focus', 'valid.yml'), pipeline('valid', 'valid', 'SELECT 2.36 AS billed_cost, 2.36 AS effective_cost'));
    await writeFile(join(dir, 'aws', 'focus', 'mismatch.yml'), pipeline('mismatch', 'valid', 'SELECT 2.37 AS billed_cost, 2.36 AS effective_cost'));
    await writeFile(join(dir, 'aws', 'focus', 'violation.yml'), pipeline('violation', 'bad_category', 'SELECT 2.36 AS billed_cost, 2.36 AS effective_cost'));
    cp = await openPglite();
    app = await testApp(cp, { settings: { PIPELINE_CONFIGS_DIR: dir } });
    await app.orgs.create(org, org, { plan: 'T', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 1 });
    app.worker?.start();
  });
  after(async () => {
    await app.close();
    await cp.close();
  });

  test('a conforming, reconciling conversion completes and stores every rule result', async () => {
    const { run, runId } = await runPipeline('valid');
    assert.equal(run.status, 'completed', run.error_message ?? '');
    assert.equal(await focusRows(), 2);
    const quality = await app.runs.quality(org, runId);
    assert.ok(quality.filter((q) => q.check_kind === 'focus_rule').length > 300, 'every rule has a result');
    assert.equal(quality.filter((q) => q.status === 'fail').length, 0);
    const reconciled = quality.filter((q) => q.check_kind === 'reconciliation');
    assert.deepEqual(reconciled.map((q) => [q.rule_id, q.status, q.details?.focus_total]), [['RECONCILE-BilledCost', 'pass', '2.360000000'], ['RECONCILE-EffectiveCost', 'pass', '2.360000000']]);
  });

  test('a reconciliation mismatch fails the step with both totals and rolls the rows back', async () => {
    const { run, runId } = await runPipeline('mismatch');
    assert.equal(run.status, 'failed');
    assert.equal(run.error_message, 'generic.procedure_executor: reconciliation failed: BilledCost total 2.360000000 in the FOCUS rows differs from the source total 2.370000000');
    assert.equal(await focusRows(), 2, 'the previous conversion’s rows are untouched, none of this one were kept');
    assert.equal((await app.runs.quality(org, runId, 'fail')).length, 1);
  });

  test('a failing MUST rule fails the step naming the rule and an example row; nothing is written', async () => {
    const { run, runId } = await runPipeline('violation');
    assert.equal(run.status, 'failed');
    assert.match(run.error_message ?? '', /^generic\.procedure_executor: FOCUS rule CAU-ChargeCategory-\S+ failed on 2 rows .*e\.g\. \{.*"ChargeCategory":"Bogus"/);
    assert.equal(await focusRows(), 2);
    const failed = await app.runs.quality(org, runId, 'fail');
    assert.ok(failed.some((q) => q.rule_id.startsWith('CAU-ChargeCategory') && q.failing_rows === 2));
  });

  test('the API serves the results with the run’s steps and at .../quality', async () => {
    const { runId } = await runPipeline('mismatch');
    const { api_key } = await app.orgs.createKey(org);
    const server = await buildServer(app);
    const headers = { 'x-api-key': api_key };
    const quality = await server.inject({ url: `/api/v1/pipelines/logs/${org}/${runId}/quality?status=fail`, headers });
    assert.equal(quality.statusCode, 200);
    const body = quality.json() as { summary: { fail: number }; results: { rule_id: string; step_id: string }[] };
    assert.deepEqual(body.results.map((r) => [r.step_id, r.rule_id]), [['convert', 'RECONCILE-BilledCost']]);
    assert.equal(body.summary.fail, 1);
    const steps = (await server.inject({ url: `/api/v1/pipelines/logs/${org}/${runId}/steps`, headers })).json() as { steps: { quality: { pass: number; fail: number } }[] };
    assert.equal(steps.steps[0]?.quality.fail, 1);
    assert.ok((steps.steps[0]?.quality.pass ?? 0) > 100);
    assert.equal((await server.inject({ url: `/api/v1/pipelines/logs/${org}/${runId}/quality?status=nope`, headers })).statusCode, 400);
    await server.close();
  });

  test('FOCUS export: CSV with FOCUS date-times and empty nulls, Parquet, by run and period, own org only', async () => {
    const { runId } = await runPipeline('valid');
    const dir = await mkdtemp(join(tmpdir(), 'focus-export-test-'));
    const csvPath = join(dir, 'focus.csv');
    assert.deepEqual(await exportOrgTable(app.warehouse!, { orgSlug: org, env: 'dev', runId, format: 'csv', path: csvPath }), { rows: 2, format: 'csv' });
    const header = (await readFile(csvPath, 'utf8')).split('\n')[0]!.split(',');
    assert.equal(header[0], 'AllocatedMethodId', 'columns in the schema file order');
    assert.deepEqual(header.slice(-7), LINEAGE_FIELDS.map((field) => field.name));
    const read = await app.warehouse!.query(`SELECT ChargePeriodStart, CapacityReservationId IS NULL AS null_read_back, BilledCost FROM read_csv('${csvPath}', all_varchar = true, nullstr = '') ORDER BY BilledCost`);
    assert.deepEqual(read.map((row) => row.BilledCost), ['0.200000000', '2.160000000']);
    for (const row of read) {
      assert.match(String(row.ChargePeriodStart), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      assert.equal(row.null_read_back, true, 'a null is an empty field');
    }
    await assert.rejects(exportOrgTable(app.warehouse!, { orgSlug: org, env: 'dev', format: 'xlsx', path: csvPath }), /format must be csv or parquet/);
    await assert.rejects(exportOrgTable(app.warehouse!, { orgSlug: 'nobody', env: 'dev', format: 'csv', path: csvPath }), /no rows for nobody/);

    const { api_key } = await app.orgs.createKey(org);
    const server = await buildServer(app);
    const parquet = await server.inject({ url: `/api/v1/focus/export/${org}?format=parquet&from=2020-01-01&to=2030-12-31`, headers: { 'x-api-key': api_key } });
    assert.equal(parquet.statusCode, 200);
    assert.equal(parquet.headers['content-type'], 'application/vnd.apache.parquet');
    await writeFile(join(dir, 'focus.parquet'), parquet.rawPayload);
    const [count] = await app.warehouse!.query(`SELECT count(*)::INT AS n, sum(BilledCost)::VARCHAR AS billed FROM read_parquet('${join(dir, 'focus.parquet')}')`);
    assert.equal(count?.n, Number(parquet.headers['x-row-count']));
    const none = await server.inject({ url: `/api/v1/focus/export/${org}?format=csv&from=2001-01-01&to=2001-01-31`, headers: { 'x-api-key': api_key } });
    assert.equal(none.payload.trim().split('\n').length, 1, 'only the header outside the period');
    await app.orgs.create('focus_other', 'other', { plan: 'T', status: 'ACTIVE', daily_limit: 1, monthly_limit: 1, concurrent_limit: 1 });
    const other = await app.orgs.createKey('focus_other');
    assert.equal((await server.inject({ url: `/api/v1/focus/export/${org}`, headers: { 'x-api-key': other.api_key } })).statusCode, 403);
    assert.equal((await server.inject({ url: `/api/v1/focus/export/${org}?from=2026-13-01`, headers: { 'x-api-key': api_key } })).statusCode, 400);
    await server.close();
  });
});
