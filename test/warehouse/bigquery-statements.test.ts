/**
 * Every statement the BigQuery warehouse sends, as the local server received it, analysed by
 * ZetaSQL (BigQuery's SQL front end) with BigQuery's language options: the staging scripts, the
 * commit transaction, the loads' selects over `staged`, migration records, exports, queries. The
 * local server evaluates them in DuckDB after a translation (bigquery-sql.ts), which proves
 * nothing about BigQuery's dialect; this does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBigQueryWarehouse } from '../../src/warehouse/bigquery/bigquery-warehouse.ts';
import { splitStatements } from '../../src/warehouse/split-statements.ts';
import { loadTableSchema } from '../../src/warehouse/table-schema.ts';
import type { SqlParams, Warehouse } from '../../src/warehouse/warehouse.ts';
import { startBigQueryServer, type BigQueryTestServer } from '../support/bigquery-server.ts';
import { CONFIGS } from '../support/test-app.ts';
import { startZetaSql, zetasqlBinary, type ZetaSql } from '../support/zetasql-service.ts';
import { analyzerOptions, bigQueryLanguage, catalogProto, type BqTable } from './zetasql-catalog.ts';

const binary = zetasqlBinary();
const DATASET = 'acme_dev';
const COLUMNS = ['usage_date', 'team', 'service', 'usage_quantity', 'unit_price'];
const lineage = { orgSlug: 'acme', pipelineId: 'demo_usage_daily_cost', credentialId: 'default', runId: 'run-1', ingestedAt: new Date('2026-02-01T10:00:00Z') };

/** The statement kinds the warehouse's scripts are made of (beyond the queries the harness allows). */
const STATEMENT_KINDS = ['RESOLVED_QUERY_STMT', 'RESOLVED_BEGIN_STMT', 'RESOLVED_COMMIT_STMT', 'RESOLVED_DELETE_STMT', 'RESOLVED_INSERT_STMT', 'RESOLVED_CREATE_TABLE_AS_SELECT_STMT'];

describe('the BigQuery statements the warehouse sends, through ZetaSQL', { skip: 'skip' in binary ? binary.skip : false }, () => {
  let zeta: ZetaSql;
  let server: BigQueryTestServer;
  let warehouse: Warehouse;

  before(async () => {
    zeta = await startZetaSql((binary as { path: string }).path);
    server = await startBigQueryServer();
    warehouse = await openBigQueryWarehouse({ projectId: server.projectId, location: 'EU', configsDir: CONFIGS, apiEndpoint: server.url, scratchRoot: mkdtempSync(join(tmpdir(), 'bq-statements-')), clock: { now: () => new Date('2026-02-01T10:00:00Z'), sleep: async () => undefined } });
  });
  after(async () => {
    await warehouse?.close();
    await server?.close();
    zeta?.close();
  });

  test('every statement of every job analyses as BigQuery SQL', async () => {
    async function* batches() {
      yield [{ usage_date: '2026-01-01', team: 'team_a', service: 'compute', usage_quantity: '1.5', unit_price: '0.5' }];
    }
    const write = { dataset: DATASET, table: 'demo_usage_raw', schema: 'demo/demo_usage_raw', lineage, runDates: { start: '2026-01-01', end: '2026-01-01' }, runDateColumn: 'usage_date' };
    await warehouse.replacePartition({ ...write, select: { sql: 'SELECT CAST(@day AS DATE) AS usage_date, team, \'compute\' AS service, CAST(1 AS NUMERIC) AS usage_quantity, CAST(0.5 AS NUMERIC) AS unit_price FROM (SELECT \'team_a\' AS team)', params: { day: '2026-01-01' } } });
    await warehouse.replacePartitionFromBatches({ ...write, columns: COLUMNS, batches: batches(), verify: async (check) => void (await check.query(`SELECT count(*) AS n FROM ${check.table} WHERE ${check.rows}`)) });
    await warehouse.replacePartitionFromBatches({ ...write, columns: COLUMNS, batches: batches(), select: { sql: 'SELECT CAST(usage_date AS DATE) AS usage_date, team, service, CAST(usage_quantity AS NUMERIC) AS usage_quantity, CAST(unit_price AS NUMERIC) AS unit_price FROM staged' } });
    await warehouse.runScript([{ sql: 'DELETE FROM `acme_dev.demo_usage_raw` WHERE x_run_id = @run', params: { run: 'none' } }]);
    await warehouse.exportRows({ dataset: DATASET, table: 'demo_usage_raw', orgSlug: 'acme', from: '2026-01-01', to: '2026-01-31', runId: '00000000-0000-0000-0000-000000000000', format: 'csv', path: join(mkdtempSync(join(tmpdir(), 'bq-export-')), 'x.csv') });

    const language = { ...(await bigQueryLanguage((method, request) => zeta.call(method, request))), supportedStatementKinds: STATEMENT_KINDS };
    const target = await loadTableSchema(CONFIGS, 'demo/demo_usage_raw');
    const targetColumns = target.fields.map((field) => ({ name: field.name, type: field.type }));
    const tables: BqTable[] = [
      { name: `${DATASET}.demo_usage_raw`, columns: targetColumns },
      { name: `${DATASET}._schema_migrations`, columns: [{ name: 'version', type: 'STRING' }, { name: 'applied_at', type: 'TIMESTAMP' }] },
      { name: 'staged', columns: COLUMNS.map((name) => ({ name, type: 'STRING' })) },
    ];
    const jobs = [...server.jobs.values()].map((job) => job.resource.configuration as { query?: { query: string; queryParameters?: { name: string; parameterType: { type: string }; parameterValue: { value?: string } }[] } });
    const scripts = jobs.flatMap((job) => (job.query ? [job.query] : []));
    assert.ok(scripts.length >= 10, `the jobs were captured (${scripts.length})`);
    let analysed = 0;
    for (const script of scripts) {
      const params: SqlParams = Object.fromEntries((script.queryParameters ?? []).map((p) => [p.name, p.parameterType.type === 'INT64' || p.parameterType.type === 'FLOAT64' ? Number(p.parameterValue.value) : p.parameterType.type === 'BOOL' ? p.parameterValue.value === 'true' : (p.parameterValue.value ?? null)]));
      // The tables a script creates (staging) are in the catalog for the statements after.
      const scratch = [...script.query.matchAll(/`acme_dev\.(_stag(?:ing|ed)_[0-9a-f]+)`/g)].map((match) => match[1] as string);
      const catalog = catalogProto(language, DATASET, [...tables, ...scratch.map((name) => ({ name: `${DATASET}.${name}`, columns: name.startsWith('_staged_') ? COLUMNS.map((column) => ({ name: column, type: 'STRING' })) : targetColumns }))], []);
      for (const statement of splitStatements(script.query)) {
        await zeta.call('analyze', { sqlStatement: statement, options: analyzerOptions(language, params), simpleCatalog: catalog }).catch((error: Error) => {
          throw new Error(`ZetaSQL refused: ${error.message}\n--- statement:\n${statement}`);
        });
        analysed++;
      }
    }
    assert.ok(analysed > scripts.length, `${analysed} statements analysed`);
    // The check has teeth: DuckDB's spellings, which the local server would run, are refused.
    const catalog = catalogProto(language, DATASET, tables, []);
    for (const duckdbForm of ['SELECT CAST(team AS VARCHAR) AS t FROM staged', 'SELECT * EXCLUDE (team) FROM staged', 'SELECT $x AS x']) {
      await assert.rejects(zeta.call('analyze', { sqlStatement: duckdbForm, options: analyzerOptions(language, {}), simpleCatalog: catalog }), Error, duckdbForm);
    }
  });
});
