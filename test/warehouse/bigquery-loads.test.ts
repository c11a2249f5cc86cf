import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { openBigQueryWarehouse } from '../../src/warehouse/bigquery/bigquery-warehouse.ts';
import type { BatchPartitionWrite, VerifyContext, Warehouse } from '../../src/warehouse/warehouse.ts';
import { startBigQueryServer, type BigQueryTestServer } from '../support/bigquery-server.ts';
import { CONFIGS } from '../support/test-app.ts';

const lineage = { orgSlug: 'acme', pipelineId: 'demo_usage_daily_cost', credentialId: 'default', runId: 'run-1', ingestedAt: new Date('2026-02-01T10:00:00Z') };
async function* batches(rows: Record<string, unknown>[], size = 2) {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}
const usageRows = (quantity: string, days = ['2026-01-01', '2026-01-02']) => days.flatMap((day) => ['team_a', 'team_b'].map((team) => ({ usage_date: day, team, service: 'compute', usage_quantity: quantity, unit_price: '0.5' })));

describe('BigQuery warehouse: rows from TypeScript through load jobs', () => {
  let server: BigQueryTestServer;
  let warehouse: Warehouse;
  const scratchRoot = mkdtempSync(join(tmpdir(), 'bq-scratch-root-'));
  const write = (rows: Record<string, unknown>[], overrides: Partial<BatchPartitionWrite> = {}): BatchPartitionWrite => ({
    dataset: 'acme_dev',
    table: 'demo_usage_raw',
    schema: 'demo/demo_usage_raw',
    lineage,
    runDates: { start: '2026-01-01', end: '2026-01-02' },
    runDateColumn: 'usage_date',
    columns: ['usage_date', 'team', 'service', 'usage_quantity', 'unit_price'],
    batches: batches(rows),
    ...overrides,
  });
  const rows = () => server.rows(`SELECT CAST(usage_date AS VARCHAR) AS d, team, CAST(usage_quantity AS VARCHAR) AS q, x_run_id FROM acme_dev.demo_usage_raw ORDER BY d, team`);

  before(async () => {
    server = await startBigQueryServer();
    warehouse = await openBigQueryWarehouse({ projectId: server.projectId, location: 'EU', configsDir: CONFIGS, apiEndpoint: server.url, scratchRoot, clock: { now: () => new Date('2026-02-01T10:00:00Z'), sleep: async () => undefined } });
  });
  after(async () => {
    await warehouse.close();
    await server.close();
    assert.deepEqual(readdirSync(scratchRoot), [], 'the scratch folder is removed on close');
  });
  beforeEach(() => {
    server.requests.length = 0;
  });

  test('batches are staged in the scratch DuckDB, uploaded as one Parquet file to a load job, typed in BigQuery and swapped in by one transaction', async () => {
    const result = await warehouse.replacePartitionFromBatches(write(usageRows('1.25')));
    assert.deepEqual([result.rows, result.staged], [4, 4]);
    assert.equal((await rows()).length, 4);
    assert.equal((await rows())[0]?.q, '1.250000000');
    const uploads = server.requests.filter((r) => r.path.startsWith('/upload/'));
    assert.equal(uploads.length, 1, 'one upload, never streaming inserts');
    assert.equal(server.requests.filter((r) => r.path.endsWith('/insertAll')).length, 0);
    assert.equal(uploads[0]?.query.get('uploadType'), 'multipart');
    const load = (uploads[0]?.body as { metadata: { configuration: { load: Record<string, unknown> }; jobReference: { jobId: string } } }).metadata;
    assert.equal(load.configuration.load.sourceFormat, 'PARQUET');
    assert.equal(load.configuration.load.writeDisposition, 'WRITE_TRUNCATE');
    assert.deepEqual(load.configuration.load.labels, { app: 'finops_pipeline', org: 'acme', pipeline: 'demo_usage_daily_cost', run: 'run-1' });
    assert.match(load.jobReference.jobId, /^finops_acme_load_[0-9a-f]{32}_t1$/);
    assert.deepEqual(readdirSync(join(scratchRoot, readdirSync(scratchRoot)[0] as string)).filter((name) => name.endsWith('.parquet')), [], 'the load file is removed');
    assert.equal((await server.rows(`SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_schema = 'acme_dev' AND starts_with(table_name, '_stag')`))[0]?.n, 0, 'staging tables are dropped');
  });

  test('an upload whose response was lost is sent again, refused as a duplicate, and waited on: the rows are not doubled', async () => {
    server.fail({ method: 'POST', path: /^\/upload\//, status: 503, reason: 'backendError', afterHandling: true });
    const result = await warehouse.replacePartitionFromBatches(write(usageRows('2'), { lineage: { ...lineage, runId: 'run-2', ingestedAt: new Date('2026-02-02T10:00:00Z') } }));
    assert.equal(result.rows, 4);
    assert.deepEqual(server.requests.filter((r) => r.path.startsWith('/upload/')).map((r) => r.status), [503, 409]);
    assert.deepEqual((await rows()).map((r) => `${r.q}:${r.x_run_id}`), Array(4).fill('2.000000000:run-2'));
  });

  test('a check that fails before the commit leaves the old rows; the check reads exactly the staged rows, and is told their columns', async () => {
    let seen: unknown;
    let columns: VerifyContext['columns'];
    const failing = write(usageRows('3'), {
      lineage: { ...lineage, runId: 'run-3', ingestedAt: new Date('2026-02-03T10:00:00Z') },
      verify: async (check) => {
        columns = check.columns;
        seen = await check.query(`SELECT count(*) AS n, SUM(usage_quantity) AS total FROM ${check.table} WHERE ${check.rows} AND x_run_id = @run`, { run: 'run-3' });
        throw new Error('rule failed');
      },
    });
    await assert.rejects(warehouse.replacePartitionFromBatches(failing), /rule failed/);
    assert.deepEqual(seen, [{ n: '4', total: '12.000000000' }]);
    // BigQuery has no DESCRIBE: the FOCUS checks learn the staged table's columns from here.
    assert.deepEqual(columns?.slice(0, 5), [
      { name: 'usage_date', type: 'DATE' },
      { name: 'team', type: 'STRING' },
      { name: 'service', type: 'STRING' },
      { name: 'usage_quantity', type: 'NUMERIC' },
      { name: 'unit_price', type: 'NUMERIC' },
    ]);
    assert.deepEqual(columns?.slice(-2).map((column) => column.name), ['x_ingested_at', 'x_ingestion_date']);
    assert.deepEqual((await rows()).map((r) => r.x_run_id), Array(4).fill('run-2'));
  });

  test('a select of its own is BigQuery SQL over `staged`; a row outside the run range fails the write', async () => {
    const select = { sql: 'SELECT CAST(usage_date AS DATE) AS usage_date, team, service, CAST(usage_quantity AS NUMERIC) * @factor AS usage_quantity, CAST(unit_price AS NUMERIC) AS unit_price FROM staged', params: { factor: 10 } };
    const result = await warehouse.replacePartitionFromBatches(write(usageRows('1'), { select, lineage: { ...lineage, runId: 'run-4', ingestedAt: new Date('2026-02-04T10:00:00Z') } }));
    assert.equal(result.rows, 4);
    assert.deepEqual((await rows()).map((r) => r.q), Array(4).fill('10.000000000'));
    await assert.rejects(
      warehouse.replacePartitionFromBatches(write(usageRows('1', ['2026-01-05']), { lineage: { ...lineage, runId: 'run-5', ingestedAt: new Date('2026-02-05T10:00:00Z') } })),
      /outside the run range 2026-01-01\.\.2026-01-02/,
    );
    assert.deepEqual((await rows()).map((r) => r.x_run_id), Array(4).fill('run-4'));
  });

  test('exports read the org’s rows from BigQuery and write the file as the DuckDB warehouse does', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bq-export-')), 'rows.csv');
    const count = await warehouse.exportRows({ dataset: 'acme_dev', table: 'demo_usage_raw', orgSlug: 'acme', from: '2026-01-02', format: 'csv', path });
    assert.equal(count, 2);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[1] as string, /^2026-01-02,team_a,compute,10\.000000000,0\.500000000,acme,demo_usage_daily_cost,default,2026-01-02,run-4,2026-02-04T10:00:00Z,2026-02-04$/);
  });

  test('a dataset made before a migration is migrated in place once; a new one is marked latest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bq-migrations-'));
    writeFileSync(join(dir, '001_add_note.sql'), 'ALTER TABLE IF EXISTS {dataset}.demo_usage_raw ADD COLUMN IF NOT EXISTS note STRING;');
    const migrating = await openBigQueryWarehouse({ projectId: server.projectId, location: 'EU', configsDir: CONFIGS, apiEndpoint: server.url, migrationsDir: dir, clock: { now: () => new Date(), sleep: async () => undefined } });
    await migrating.ensureDataset('acme_dev');
    await migrating.ensureDataset('fresh_dev');
    await migrating.close();
    const columns = await server.rows(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'acme_dev' AND table_name = 'demo_usage_raw' AND column_name = 'note'`);
    assert.equal(columns.length, 1, 'the column was added to the existing table');
    assert.equal((await server.rows(`SELECT count(*)::INTEGER AS n FROM acme_dev.demo_usage_raw`))[0]?.n, 4, 'the table kept its rows: altered, not recreated');
    assert.deepEqual((await server.rows(`SELECT version FROM acme_dev._schema_migrations ORDER BY version`)).map((r) => r.version), ['001_add_note', '001_wide_unit_prices_and_quantities']);
    assert.deepEqual((await server.rows(`SELECT version FROM fresh_dev._schema_migrations`)).map((r) => r.version), ['001_add_note']);
  });
});
