import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { openBigQueryWarehouse } from '../../src/warehouse/bigquery/bigquery-warehouse.ts';
import type { PartitionWrite, Warehouse } from '../../src/warehouse/warehouse.ts';
import { startBigQueryServer, type BigQueryTestServer } from '../support/bigquery-server.ts';
import { CONFIGS } from '../support/test-app.ts';

const lineage = { orgSlug: 'acme', pipelineId: 'demo_usage_daily_cost', credentialId: 'default', runId: 'run-1', ingestedAt: new Date('2026-02-01T10:00:00Z') };
/** BigQuery SQL: one row per team for the run's first day. */
const usage = (factor: number): PartitionWrite['select'] => ({
  sql: `SELECT CAST(@day AS DATE) AS usage_date, team, 'compute' AS service, CAST(@factor AS NUMERIC) AS usage_quantity, CAST(0.045 AS NUMERIC) AS unit_price
          FROM (SELECT 'team_a' AS team UNION ALL SELECT 'team_b')`,
  params: { factor, day: '2026-01-01', unused: 'x' },
});

describe('BigQuery warehouse against the local BigQuery server', () => {
  let server: BigQueryTestServer;
  let warehouse: Warehouse;
  const sleeps: number[] = [];
  const write = (overrides: Partial<PartitionWrite> = {}): PartitionWrite => ({
    dataset: 'acme_dev',
    table: 'demo_usage_raw',
    schema: 'demo/demo_usage_raw',
    lineage,
    runDates: { start: '2026-01-01', end: '2026-01-01' },
    runDateColumn: 'usage_date',
    select: usage(1),
    ...overrides,
  });
  const rows = () => server.rows(`SELECT team, CAST(usage_quantity AS VARCHAR) AS q, x_run_id FROM acme_dev.demo_usage_raw ORDER BY team`);
  const retryWaits = () => sleeps.filter((ms) => ms % 1001 === 0);
  const jobInserts = () => server.requests.filter((r) => r.method === 'POST' && /\/jobs$/.test(r.path));

  before(async () => {
    server = await startBigQueryServer();
    warehouse = await openBigQueryWarehouse({
      projectId: server.projectId,
      location: 'EU',
      configsDir: CONFIGS,
      apiEndpoint: server.url,
      maximumBytesBilled: 50 * 1024 * 1024,
      clock: { now: () => new Date('2026-02-01T10:00:00Z'), sleep: async (ms) => void sleeps.push(ms) },
      random: () => 1,
      // Retry waits are multiples of 1001 ms, told apart from the job polls' waits (50 ms doubling to 2 s).
      retry: { maxTries: 6, initialDelayMs: 1001, maxDelayMs: 32_000 },
      resultPageRows: 2,
    });
  });
  after(async () => {
    await warehouse.close();
    await server.close();
  });
  beforeEach(() => {
    server.requests.length = 0;
    sleeps.length = 0;
  });

  test('a replace creates the dataset and a table partitioned by run date and clustered by org and pipeline, and writes the rows with their lineage', async () => {
    const result = await warehouse.replacePartition(write());
    assert.equal(result.rows, 2);
    assert.deepEqual(await rows(), [
      { team: 'team_a', q: '1.000000000', x_run_id: 'run-1' },
      { team: 'team_b', q: '1.000000000', x_run_id: 'run-1' },
    ]);
    const dataset = server.requests.find((r) => r.method === 'POST' && r.path.endsWith('/datasets'))?.body as { datasetReference: { datasetId: string }; location: string };
    assert.equal(dataset.datasetReference.datasetId, 'acme_dev');
    assert.equal(dataset.location, 'EU');
    const table = server.requests.find((r) => r.method === 'POST' && r.path.endsWith('/datasets/acme_dev/tables') && (r.body as { tableReference: { tableId: string } }).tableReference.tableId === 'demo_usage_raw')?.body as Record<string, unknown>;
    assert.deepEqual(table.timePartitioning, { type: 'DAY', field: 'x_pipeline_run_date' });
    assert.deepEqual(table.clustering, { fields: ['x_org_slug', 'x_pipeline_id'] });
    const fields = (table.schema as { fields: { name: string; type: string }[] }).fields;
    assert.deepEqual(fields.slice(-7).map((f) => f.name), ['x_org_slug', 'x_pipeline_id', 'x_credential_id', 'x_pipeline_run_date', 'x_run_id', 'x_ingested_at', 'x_ingestion_date']);
    assert.equal(fields.find((f) => f.name === 'usage_quantity')?.type, 'NUMERIC');
    assert.ok(result.usage && result.usage.jobs === 2 && result.usage.bytesBilled > 0, `usage counted: ${JSON.stringify(result.usage)}`);
  });

  test('jobs carry labels, deterministic ids, maximumBytesBilled and typed named parameters (only those the SQL uses)', async () => {
    await warehouse.replacePartition(write());
    const inserts = jobInserts().map((r) => r.body as { jobReference: { jobId: string; location: string }; configuration: { labels: Record<string, string>; query: Record<string, unknown> } });
    assert.equal(inserts.length, 2, 'a staging job and a commit job');
    const [stage, commit] = inserts as [(typeof inserts)[number], (typeof inserts)[number]];
    assert.match(stage.jobReference.jobId, /^finops_acme_stage_[0-9a-f]{32}_t1$/);
    assert.match(commit.jobReference.jobId, /^finops_acme_commit_[0-9a-f]{32}_t1$/);
    assert.equal(stage.jobReference.location, 'EU');
    assert.deepEqual(stage.configuration.labels, { app: 'finops_pipeline', org: 'acme', pipeline: 'demo_usage_daily_cost', run: 'run-1' });
    assert.equal(stage.configuration.query.maximumBytesBilled, String(50 * 1024 * 1024));
    assert.equal(stage.configuration.query.useLegacySql, false);
    const params = stage.configuration.query.queryParameters as { name: string; parameterType: { type: string }; parameterValue: { value: string } }[];
    assert.deepEqual(params.find((p) => p.name === 'factor'), { name: 'factor', parameterType: { type: 'INT64' }, parameterValue: { value: '1' } });
    assert.equal(params.find((p) => p.name === 'unused'), undefined, 'a parameter the SQL does not name is not sent');
    assert.match(String(commit.configuration.query.query), /^BEGIN TRANSACTION;\nDELETE FROM `acme_dev.demo_usage_raw`[\s\S]*INSERT INTO `acme_dev.demo_usage_raw`[\s\S]*COMMIT TRANSACTION;$/);
  });

  test('a re-run replaces the rows (never doubles them), and a write of zero rows empties its key range', async () => {
    await warehouse.replacePartition(write({ select: usage(2), lineage: { ...lineage, runId: 'run-2', ingestedAt: new Date('2026-02-02T10:00:00Z') } }));
    assert.deepEqual((await rows()).map((r) => `${r.team}:${r.q}:${r.x_run_id}`), ['team_a:2.000000000:run-2', 'team_b:2.000000000:run-2']);
    const empty = await warehouse.replacePartition(write({ select: { sql: `${usage(1).sql} WHERE FALSE`, params: usage(1).params }, lineage: { ...lineage, runId: 'run-3', ingestedAt: new Date('2026-02-03T10:00:00Z') } }));
    assert.equal(empty.rows, 0);
    assert.deepEqual(await rows(), []);
  });

  test('a job failing after running mid-transaction leaves the old rows; a transient job failure is run again under the next id', async () => {
    await warehouse.replacePartition(write({ lineage: { ...lineage, runId: 'run-4', ingestedAt: new Date('2026-02-04T10:00:00Z') } }));
    server.failStatement(/^INSERT INTO "acme_dev"\."demo_usage_raw"/, 'invalidQuery', 'Division by zero: 1 / 0', 1);
    await assert.rejects(warehouse.replacePartition(write({ select: usage(3), lineage: { ...lineage, runId: 'run-5', ingestedAt: new Date('2026-02-05T10:00:00Z') } })), /BigQuery the commit job failed: the SQL is not valid BigQuery: Division by zero/);
    assert.deepEqual((await rows()).map((r) => r.x_run_id), ['run-4', 'run-4'], 'the DELETE of the failed transaction was rolled back');

    server.requests.length = 0;
    server.failStatement(/^INSERT INTO "acme_dev"\."demo_usage_raw"/, 'backendError', 'Error encountered during execution. Retrying may solve the problem.', 1);
    await warehouse.replacePartition(write({ select: usage(3), lineage: { ...lineage, runId: 'run-6', ingestedAt: new Date('2026-02-06T10:00:00Z') } }));
    const commits = jobInserts().map((r) => (r.body as { jobReference: { jobId: string } }).jobReference.jobId).filter((id) => id.includes('_commit_'));
    assert.equal(commits.length, 2);
    assert.match(commits[1] as string, /_t2$/, 'the second try is a new job');
    assert.deepEqual((await rows()).map((r) => `${r.q}:${r.x_run_id}`), ['3.000000000:run-6', '3.000000000:run-6']);
  });

  test('a commit whose response was lost is sent again, answered 409 duplicate, and waited on: the rows are not doubled', async () => {
    server.fail({ method: 'POST', path: /\/jobs$/, body: /_commit_/, status: 503, reason: 'backendError', afterHandling: true });
    await warehouse.replacePartition(write({ select: usage(4), lineage: { ...lineage, runId: 'run-7', ingestedAt: new Date('2026-02-07T10:00:00Z') } }));
    const commits = jobInserts().filter((r) => /_commit_/.test(JSON.stringify(r.body)));
    assert.deepEqual(commits.map((r) => r.status), [503, 409], 'the resent commit was refused as a duplicate');
    assert.equal(new Set(commits.map((r) => (r.body as { jobReference: { jobId: string } }).jobReference.jobId)).size, 1, 'under the same job id');
    assert.deepEqual((await rows()).map((r) => `${r.q}:${r.x_run_id}`), ['4.000000000:run-7', '4.000000000:run-7']);
    assert.deepEqual(retryWaits(), [1001], 'the resend waited a backoff first');
  });

  test('rateLimitExceeded (403) and backendError (503) are retried with growing backoff', async () => {
    server.fail({ method: 'POST', path: /\/jobs$/, status: 403, reason: 'rateLimitExceeded', message: 'Exceeded rate limits: too many api requests per user per method for this user_method.', times: 2 });
    server.fail({ method: 'GET', path: /\/queries\//, search: /maxResults=2(&|$)/, status: 503, reason: 'backendError', times: 1 });
    const result = await warehouse.query('SELECT team FROM `acme_dev.demo_usage_raw` ORDER BY team');
    assert.deepEqual(result, [{ team: 'team_a' }, { team: 'team_b' }]);
    assert.deepEqual(retryWaits(), [1001, 2002, 1001], 'the ceiling doubles (random()=1); the results page starts over');
    assert.deepEqual(server.requests.filter((r) => r.path.includes('/queries/') && r.query.get('maxResults') === '2').map((r) => r.status), [503, 200], 'the page was asked for again');
  });

  test('invalidQuery is a clear, non-retryable error; maximumBytesBilled stops a job before it runs', async () => {
    await assert.rejects(warehouse.query('SELEC nonsense FROM'), (error: Error & { retryable?: boolean }) => {
      assert.match(error.message, /^BigQuery the query job failed: the SQL is not valid BigQuery: /);
      assert.equal(error.retryable, false);
      return true;
    });
    const capped = await openBigQueryWarehouse({ projectId: server.projectId, location: 'EU', configsDir: CONFIGS, apiEndpoint: server.url, maximumBytesBilled: 1024, clock: { now: () => new Date(), sleep: async () => undefined } });
    await assert.rejects(capped.query('SELECT count(*) AS n FROM `acme_dev.demo_usage_raw`'), /would bill more than BIGQUERY_MAXIMUM_BYTES_BILLED allows/);
    await capped.close();
  });

  test('a step’s warehouse labels its jobs with the step and sums their bytes across calls', async () => {
    const step = warehouse.forStep?.({ orgSlug: 'acme', pipelineId: 'demo_usage_daily_cost', runId: 'run-9', stepId: 'cost_by_team' });
    assert.ok(step);
    await step.query('SELECT count(*) AS n FROM `acme_dev.demo_usage_raw`');
    const written = await step.replacePartition(write({ lineage: { ...lineage, runId: 'run-9', ingestedAt: new Date('2026-02-09T10:00:00Z') } }));
    const usage = step.usage();
    assert.equal(usage.jobs, 3, 'the query, the staging job and the commit');
    assert.equal(usage.bytesBilled, (written.usage?.bytesBilled ?? 0) + 10 * 1024 * 1024, 'the step’s sum is the calls’ sums (the query billed the 10 MB minimum)');
    const labels = jobInserts().map((r) => (r.body as { configuration: { labels: Record<string, string> } }).configuration.labels);
    assert.ok(labels.every((l) => l.step === 'cost_by_team' && l.run === 'run-9'), JSON.stringify(labels));
    assert.equal(warehouse.forStep?.({ orgSlug: 'acme', pipelineId: 'p', runId: 'r', stepId: 's' }).usage().jobs, 0, 'each step counts its own');
  });

  const SAMPLE = { org_dataset: 'procedure_check_dev', start_date: '2026-01-01' };
  test('procedures are checked by a dry run (a problem is the caller’s 422, the sample dataset’s absence is not) and created in the organizations dataset, callable', async () => {
    await assert.rejects(warehouse.procedures.check('SELEC nonsense FROM', SAMPLE), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'unprocessable_content');
      assert.match(error.message, /^the SQL is not valid BigQuery: /);
      return true;
    });
    const dryRun = jobInserts().at(-1)?.body as { configuration: { dryRun?: boolean } };
    assert.equal(dryRun.configuration.dryRun, true);
    await warehouse.procedures.check('SELECT 1 AS one', SAMPLE);
    // BigQuery parsed it, then found no dataset of the sample org: tables are bound at run time.
    await warehouse.procedures.check('SELECT team FROM procedure_check_dev.demo_usage_raw WHERE usage_date >= CAST(@start_date AS DATE)', SAMPLE);
    // Any other dataset that is not there is the procedure's problem.
    await assert.rejects(warehouse.procedures.check('SELECT 1 FROM elsewhere.t', SAMPLE), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'unprocessable_content');
      assert.match(error.message, /elsewhere/);
      return true;
    });
    await warehouse.procedures.register('sp_demo_1_generate_usage', 'DELETE FROM {org_dataset}.t WHERE d = @start_date;\nSELECT 1 AS one FROM {org_dataset}.t');
    assert.equal(
      server.procedures.get('organizations.sp_demo_1_generate_usage'),
      'CREATE OR REPLACE PROCEDURE `organizations.sp_demo_1_generate_usage`(`org_dataset` STRING, `start_date` STRING)\nBEGIN\n' +
        '  EXECUTE IMMEDIATE CONCAT(r"""DELETE FROM """, `org_dataset`, r""".t WHERE d = @start_date""") USING `start_date` AS `start_date`;\n' +
        '  EXECUTE IMMEDIATE CONCAT(r"""SELECT 1 AS one FROM """, `org_dataset`, r""".t""");\nEND',
    );
    await assert.rejects(warehouse.procedures.register('sp_demo_1_generate_usage', 'SELECT {not_an_identifier}'), (error: Error & { code?: string }) => error.code === 'unprocessable_content' && /\{not_an_identifier\}/.test(error.message));
    await warehouse.procedures.drop('sp_demo_1_generate_usage');
    assert.equal(server.procedures.size, 0);
  });

  test('query results are read page by page (pageToken, maxResults) in the DuckDB warehouse’s value shapes', async () => {
    server.requests.length = 0;
    const result = await warehouse.query(
      `SELECT n, CAST(n AS NUMERIC) AS amount, n > 1 AS big, CAST('2026-01-0' || CAST(n AS STRING) AS DATE) AS day, TIMESTAMP '2026-01-01 00:00:00+00' AS at
         FROM (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) ORDER BY n`,
    );
    assert.equal(result.length, 5);
    assert.deepEqual(result[1], { n: '2', amount: '2.000000000', big: true, day: '2026-01-02', at: '2026-01-01T00:00:00.000Z' });
    const calls = server.requests.filter((r) => r.path.includes('/queries/'));
    assert.deepEqual(calls.map((r) => [r.query.get('maxResults'), r.query.get('pageToken')]), [['0', null], ['2', null], ['2', '2'], ['2', '4']], 'a long poll for the end (no rows), then the pages');
    assert.equal(calls[0]?.query.get('timeoutMs'), '10000');
  });
});
