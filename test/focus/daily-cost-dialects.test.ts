/**
 * The daily-cost statement (src/focus/daily-cost.ts) in BigQuery's dialect, checked offline by
 * ZetaSQL (BigQuery's SQL front end): analysed against the FOCUS table's schema, and evaluated
 * over the rows the DuckDB warehouse holds, it must give DuckDB's rows, amounts as the same text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { COST_COLUMNS, COST_GROUPS, dailyCostSql } from '../../src/focus/daily-cost.ts';
import { FOCUS_TABLE } from '../../src/focus/export-focus.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';
import { loadHistory, steadyRows } from '../alerts/focus-history.ts';
import { CONFIGS } from '../support/test-app.ts';
import { startZetaSql, zetasqlBinary, type ZetaSql } from '../support/zetasql-service.ts';
import { bigQueryDialect, canonicalRows, schemaTable, type BigQueryDialect } from '../warehouse/dialect-harness.ts';
import { bigQueryLanguage } from '../warehouse/zetasql-catalog.ts';

const binary = zetasqlBinary();
const ORG = 'acme';
const DATASET = `${ORG}_dev`;
const COLUMNS = ['row_type', 'day', 'grp', 'cost'];

describe('daily cost in BigQuery through ZetaSQL', { skip: 'skip' in binary ? binary.skip : false }, () => {
  let zeta: ZetaSql;
  let warehouse: Warehouse;
  let dialect: BigQueryDialect;

  before(async () => {
    zeta = await startZetaSql((binary as { path: string }).path);
    const language = await bigQueryLanguage((method, request) => zeta.call(method, request));
    warehouse = await openDuckDbWarehouse({ path: ':memory:', configsDir: CONFIGS, threads: 2 });
    const ingestedAt = new Date('2026-03-11T00:00:00Z');
    await loadHistory(warehouse, { orgSlug: ORG, sourceSystem: 'aws', providerName: 'AWS', start: '2026-02-20', end: '2026-03-10', ingestedAt, rows: steadyRows('2026-02-20', '2026-03-10', { services: 3, base: 12.345 }) });
    await loadHistory(warehouse, { orgSlug: ORG, sourceSystem: 'gcp', providerName: 'Google Cloud', pipelineId: 'gcp_cost_billing', start: '2026-03-01', end: '2026-03-10', ingestedAt, rows: steadyRows('2026-03-01', '2026-03-10', { services: 2, base: 7 }) });
    await loadHistory(warehouse, { orgSlug: ORG, sourceSystem: 'azure', providerName: 'Azure', pipelineId: 'azure_cost_billing', currency: 'EUR', start: '2026-03-03', end: '2026-03-04', ingestedAt, rows: steadyRows('2026-03-03', '2026-03-04', { services: 1 }) });
    // Another org's rows in the same table, which neither dialect may count.
    await loadHistory(warehouse, { orgSlug: 'globex', env: 'dev', start: '2026-03-05', end: '2026-03-05', ingestedAt, rows: steadyRows('2026-03-05', '2026-03-05') });
    const table = await schemaTable(DATASET, FOCUS_TABLE, 'focus/cost_data_standard_1_3');
    const rows = await warehouse.query(`SELECT ${table.columns.map((c) => `"${c.name}"`).join(', ')} FROM ${DATASET}.${FOCUS_TABLE}`);
    dialect = bigQueryDialect(zeta, language, DATASET, [{ ...table, rows }], []);
  });
  after(async () => {
    zeta?.close();
    await warehouse?.close();
  });

  const params = { org: ORG, from: '2026-03-02', to: '2026-03-08', today: '2026-03-10', month_start: '2026-03-01', currency: 'USD' };
  for (const groupBy of COST_GROUPS) {
    for (const costColumn of COST_COLUMNS) {
      test(`group_by=${groupBy}, ${costColumn}: analysed, and evaluated to DuckDB's rows`, async () => {
        const duck = await warehouse.query(dailyCostSql('duckdb', DATASET, groupBy, costColumn), params);
        assert.ok(duck.filter((row) => row.row_type === 'day').length >= 7 * 2, 'the range has rows of both providers');
        assert.deepEqual(duck.filter((row) => row.row_type === 'currency').map((row) => row.grp), ['EUR']);
        const sql = dailyCostSql('bigquery', DATASET, groupBy, costColumn);
        await dialect.analyze(sql, params);
        const { rows } = await dialect.evaluate(sql, params);
        const types = Object.fromEntries(COLUMNS.map((c) => [c, 'STRING']));
        assert.deepEqual(canonicalRows(rows, COLUMNS, types), canonicalRows(duck, COLUMNS, types));
      });
    }
  }
});
