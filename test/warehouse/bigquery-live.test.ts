import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BigQuery } from '@google-cloud/bigquery';
import { openBigQueryWarehouse } from '../../src/warehouse/bigquery/bigquery-warehouse.ts';
import type { PartitionWrite, Warehouse } from '../../src/warehouse/warehouse.ts';
import { CONFIGS } from '../support/test-app.ts';

/**
 * The BigQuery warehouse against a real project: BIGQUERY_TEST_PROJECT names it, credentials are
 * Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, or `gcloud auth
 * application-default login`), BIGQUERY_TEST_LOCATION the location (US by default). It makes one
 * dataset of its own, `finops_live_<random>_dev`, and deletes it with its tables at the end.
 */
const project = process.env.BIGQUERY_TEST_PROJECT;
const credentials = process.env.GOOGLE_APPLICATION_CREDENTIALS || existsSync(join(homedir(), '.config', 'gcloud', 'application_default_credentials.json'));
const skip = !project ? 'BIGQUERY_TEST_PROJECT is not set: the live BigQuery suite needs a project to create a dataset in' : !credentials ? 'no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS or run gcloud auth application-default login' : false;

describe('BigQuery warehouse, live', { skip }, () => {
  const location = process.env.BIGQUERY_TEST_LOCATION || 'US';
  const dataset = `finops_live_${randomBytes(4).toString('hex')}_dev`;
  const lineage = { orgSlug: 'finops_live', pipelineId: 'demo_usage_daily_cost', credentialId: 'default', runId: `live-${randomBytes(4).toString('hex')}`, ingestedAt: new Date() };
  const procedures = `finops_live_procedures_${randomBytes(4).toString('hex')}`;
  let warehouse: Warehouse;
  const write = (factor: number, overrides: Partial<PartitionWrite> = {}): PartitionWrite => ({
    dataset,
    table: 'demo_usage_raw',
    schema: 'demo/demo_usage_raw',
    lineage,
    runDates: { start: '2026-01-01', end: '2026-01-02' },
    runDateColumn: 'usage_date',
    select: {
      sql: `SELECT day AS usage_date, team, 'compute' AS service, CAST(@factor AS NUMERIC) AS usage_quantity, CAST(0.045 AS NUMERIC) AS unit_price
              FROM UNNEST(GENERATE_DATE_ARRAY(CAST(@start AS DATE), CAST(@end AS DATE))) AS day CROSS JOIN UNNEST(['team_a', 'team_b']) AS team`,
      params: { factor, start: '2026-01-01', end: '2026-01-02' },
    },
    ...overrides,
  });
  const count = async () => Number((await warehouse.query(`SELECT count(*) AS n FROM \`${dataset}.demo_usage_raw\``))[0]?.n);

  before(async () => {
    warehouse = await openBigQueryWarehouse({ projectId: project as string, location, configsDir: CONFIGS, maximumBytesBilled: 1024 ** 3, proceduresDataset: procedures });
  });
  after(async () => {
    await warehouse?.close();
    const client = new BigQuery({ projectId: project as string, location });
    await Promise.all([dataset, procedures].map((name) => client.dataset(name).delete({ force: true }).catch(() => undefined)));
  });

  test('replace, re-run and zero-row replace of a partition in one transaction each', async () => {
    assert.equal((await warehouse.replacePartition(write(1))).rows, 4);
    assert.equal((await warehouse.replacePartition(write(2, { lineage: { ...lineage, ingestedAt: new Date() } }))).rows, 4);
    assert.equal(await count(), 4, 'replaced, not doubled');
    const total = await warehouse.query(`SELECT CAST(SUM(usage_quantity) AS STRING) AS q FROM \`${dataset}.demo_usage_raw\` WHERE x_run_id = @run`, { run: lineage.runId });
    assert.deepEqual(total, [{ q: '8' }]);
    await warehouse.replacePartition(write(1, { select: { ...write(1).select, sql: `${write(1).select.sql} WHERE FALSE` }, lineage: { ...lineage, ingestedAt: new Date() } }));
    assert.equal(await count(), 0, 'a write of zero rows empties its range');
  });

  test('rows from TypeScript go through a load job', async () => {
    async function* batches() {
      yield [{ usage_date: '2026-01-01', team: 'team_c', service: 'storage', usage_quantity: '12.345678901', unit_price: '0.000000001' }];
    }
    const result = await warehouse.replacePartitionFromBatches({ ...write(1), columns: ['usage_date', 'team', 'service', 'usage_quantity', 'unit_price'], batches: batches(), lineage: { ...lineage, ingestedAt: new Date() } });
    assert.deepEqual([result.rows, result.staged], [1, 1]);
    assert.ok((result.usage?.bytesLoaded ?? 0) > 0, 'the load job read the file');
    assert.deepEqual(await warehouse.query(`SELECT CAST(usage_quantity AS STRING) AS q FROM \`${dataset}.demo_usage_raw\``), [{ q: '12.345678901' }]);
  });

  test('a shipped procedure: checked by a dry run, registered as a procedure, CALLed, dropped', async () => {
    const sql = await readFile(join(CONFIGS, 'system', 'procedures', 'demo', 'sp_demo_1_generate_usage.bigquery.sql'), 'utf8');
    const sample = { org_dataset: 'procedure_check_dev', start_date: '2026-01-01', end_date: '2026-01-02', teams: '2' };
    await warehouse.procedures.check(sql, sample);
    // A table of a sample org's dataset is not there: BigQuery parsed the text first, so that is not a problem.
    await warehouse.procedures.check('SELECT team FROM procedure_check_dev.demo_usage_raw WHERE usage_date = CAST(@start_date AS DATE)', sample);
    await assert.rejects(warehouse.procedures.check('SELEC 1', sample), /not valid BigQuery/);
    await warehouse.procedures.register('sp_demo_1_generate_usage', sql);
    // (end_date, start_date, teams): the parameters it binds, by name.
    const rows = await warehouse.query(`CALL \`${procedures}.sp_demo_1_generate_usage\`('2026-01-02', '2026-01-01', '2')`);
    assert.equal(rows.length, 2 * 2 * 3, '2 days x 2 teams x 3 services');
    await warehouse.procedures.drop('sp_demo_1_generate_usage');
    await assert.rejects(warehouse.query(`CALL \`${procedures}.sp_demo_1_generate_usage\`('2026-01-02', '2026-01-01', '2')`), /not found|Not found/i);
  });

  test('invalid SQL is refused with BigQuery’s reason', async () => {
    await assert.rejects(warehouse.query('SELEC 1'), /the SQL is not valid BigQuery/);
  });
});
