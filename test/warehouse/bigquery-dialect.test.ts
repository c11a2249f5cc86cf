/**
 * The BigQuery forms of the procedures (configs/system/procedures/**\/*.bigquery.sql) checked
 * offline by ZetaSQL, BigQuery's own SQL front end: every statement is analysed with BigQuery's
 * language options against the org dataset's catalog (configs/schemas), and each procedure's
 * SELECT is evaluated by ZetaSQL's reference implementation over the rows the DuckDB warehouse
 * holds, and must give the rows the DuckDB form wrote, row for row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import { loadTableSchema } from '../../src/warehouse/table-schema.ts';
import type { Lineage, SqlParams, Warehouse } from '../../src/warehouse/warehouse.ts';
import { CONFIGS } from '../support/test-app.ts';
import { startZetaSql, zetasqlBinary, type ZetaSql } from '../support/zetasql-service.ts';
import { bigQueryDialect, canonicalRows, procedureStatements, schemaTable, type BigQueryDialect } from './dialect-harness.ts';
import { bigQueryLanguage, type BqTable } from './zetasql-catalog.ts';

const binary = zetasqlBinary();
const ORG = 'acme';
const DATASET = `${ORG}_dev`;

/** The run's variables as runVariables builds them (all text, as the executor binds them). */
function runVariables(pipeline: string, start: string, end: string, runId = 'run_1'): Record<string, string> {
  return { org_slug: ORG, env: 'dev', org_dataset: DATASET, project_id: 'test-project', run_id: runId, pipeline_id: pipeline, credential_id: 'default', date: start, start_date: start, end_date: end, year: start.slice(0, 4), month: start.slice(5, 7), day: start.slice(8, 10), today: end, yesterday: end };
}
const lineage = (pipeline: string, runId = 'run_1'): Lineage => ({ orgSlug: ORG, pipelineId: pipeline, credentialId: 'default', runId, ingestedAt: new Date('2026-01-02T03:04:05Z') });

describe('BigQuery procedures through ZetaSQL', { skip: 'skip' in binary ? binary.skip : false }, () => {
  let zeta: ZetaSql;
  let language: Record<string, unknown>;
  let warehouse: Warehouse;
  before(async () => {
    zeta = await startZetaSql((binary as { path: string }).path);
    language = await bigQueryLanguage((method, request) => zeta.call(method, request));
    warehouse = await openDuckDbWarehouse({ path: ':memory:', configsDir: CONFIGS, threads: 2 });
  });
  after(async () => {
    zeta?.close();
    await warehouse?.close();
  });

  /** The tables with the rows the DuckDB warehouse holds in them. */
  async function filled(tables: BqTable[]): Promise<BqTable[]> {
    return Promise.all(tables.map(async (t) => ({ ...t, rows: await warehouse.query(`SELECT ${t.columns.map((c) => `"${c.name}"`).join(', ')} FROM ${t.name}`) })));
  }

  /** Every statement analyses; the last one evaluates to the rows DuckDB wrote to `target` (lineage aside). */
  async function assertSameRows(dialect: BigQueryDialect, statements: string[], params: SqlParams, target: { table: string; schema: string; where: string }) {
    for (const sql of statements) await dialect.analyze(sql, params);
    const { columns, rows } = await dialect.evaluate(statements.at(-1) as string, params);
    const { fields } = await loadTableSchema(CONFIGS, target.schema);
    const types = Object.fromEntries(fields.map((f) => [f.name, f.type]));
    const names = columns.map((c) => c.name);
    assert.deepEqual(names.filter((n) => !(n in types)), [], 'every output column is a column of the target table');
    const duck = await warehouse.query(`SELECT ${names.map((n) => `"${n}"`).join(', ')} FROM ${DATASET}.${target.table} WHERE ${target.where}`);
    assert.ok(duck.length > 0, 'DuckDB wrote rows to compare with');
    assert.deepEqual(canonicalRows(rows, names, types), canonicalRows(duck, names, types));
    return rows.length;
  }

  describe('subscription', () => {
    const pipeline = 'subscription_costs';
    const variables = runVariables(pipeline, '2026-01-01', '2026-03-31');
    let plans: BqTable;

    before(async () => {
      plans = await schemaTable(DATASET, 'saas_subscription_plans', 'subscription/saas_subscription_plans');
      await warehouse.ensureTable(DATASET, 'saas_subscription_plans', 'subscription/saas_subscription_plans');
      // Monthly seats with a discount and a seat change mid-cycle; an annual flat fee anchored on
      // 31 Jan (month ends clamp); a quarterly plan ending mid-cycle; a trial, which is free.
      const plan = (id: string, start: string, end: string | null, cycle: string, model: string, seats: number | null, price: string, discount: string, status = 'active') =>
        `('${id}', 'Acme', 'Suite', 'Pro', NULL, '${status}', DATE '${start}', ${end ? `DATE '${end}'` : 'NULL'}, '${cycle}', '${model}', ${seats ?? 'NULL'}, ${price}, 'EUR', ${discount}, true, 30, 'ba1', 'Acme Billing', NULL, 'c-1', 'cc-7', ${id === 'sub_b' ? 'NULL' : "'team-x'"}, 'ann', NULL, NULL, NULL, 1, DATE '2026-01-01', '${ORG}', 'plans_import', 'default', DATE '2026-01-01', 'import_1', TIMESTAMPTZ '2026-01-01 00:00:00+00', DATE '2026-01-01')`;
      await warehouse.runScript([
        {
          sql: `INSERT INTO ${DATASET}.saas_subscription_plans VALUES ${[
            plan('sub_a', '2025-12-15', '2026-02-09', 'monthly', 'per_seat', 10, '12.500000000', '12.500000000'),
            plan('sub_a', '2026-02-10', null, 'monthly', 'per_seat', 14, '12.500000000', '12.500000000'),
            plan('sub_b', '2025-01-31', null, 'annual', 'flat', null, '1200.000000000', '0'),
            plan('sub_c', '2026-01-01', '2026-02-14', 'quarterly', 'per_seat', 3, '99.990000000', '10'),
            plan('sub_d', '2026-01-01', null, 'monthly', 'per_seat', 5, '20', '0', 'trial'),
          ].join(', ')}`,
        },
      ]);
    });

    test('sp_subscription_2_calculate_daily_costs: analysed, and evaluated to DuckDB\'s rows', async () => {
      const duckdb = await procedureStatements('subscription/sp_subscription_2_calculate_daily_costs', 'duckdb', variables);
      await warehouse.replacePartition({ dataset: DATASET, table: 'saas_subscription_costs_daily', schema: 'subscription/saas_subscription_costs_daily', lineage: lineage(pipeline), runDates: { start: variables.start_date as string, end: variables.end_date as string }, runDateColumn: 'cost_date', setup: duckdb.slice(0, -1).map((sql) => ({ sql, params: variables })), select: { sql: duckdb.at(-1) as string, params: variables } });
      const info = { name: `${DATASET}.INFORMATION_SCHEMA.TABLES`, columns: ['table_catalog', 'table_schema', 'table_name', 'table_type'].map((name) => ({ name, type: 'STRING' })), rows: [{ table_catalog: 'test-project', table_schema: DATASET, table_name: 'saas_subscription_plans', table_type: 'BASE TABLE' }] };
      const dialect = bigQueryDialect(zeta, language, DATASET, [info, ...(await filled([plans]))], []);
      const statements = await procedureStatements('subscription/sp_subscription_2_calculate_daily_costs', 'bigquery', variables);
      const rows = await assertSameRows(dialect, statements, variables, { table: 'saas_subscription_costs_daily', schema: 'subscription/saas_subscription_costs_daily', where: `x_run_id = 'run_1'` });
      assert.ok(rows > 200, `${rows} plan days`);
      // The plans table missing: the first statement fails with the message, not a missing table.
      const empty = bigQueryDialect(zeta, language, DATASET, [{ ...info, rows: [] }, plans], []);
      await assert.rejects(empty.evaluate(statements[0] as string, variables), /no SaaS subscription plans are imported for acme/);
    });

    test('sp_subscription_3_convert_to_focus: analysed, and evaluated to DuckDB\'s rows', async () => {
      const duckdb = await procedureStatements('subscription/sp_subscription_3_convert_to_focus', 'duckdb', variables);
      await warehouse.replacePartition({ dataset: DATASET, table: 'cost_data_standard_1_3', schema: 'focus/cost_data_standard_1_3', lineage: lineage(pipeline), runDates: { start: variables.start_date as string, end: variables.end_date as string }, runDateColumn: 'ChargePeriodStart', select: { sql: duckdb.at(-1) as string, params: variables } });
      const daily = await schemaTable(DATASET, 'saas_subscription_costs_daily', 'subscription/saas_subscription_costs_daily');
      const dialect = bigQueryDialect(zeta, language, DATASET, await filled([daily]), []);
      await assertSameRows(dialect, await procedureStatements('subscription/sp_subscription_3_convert_to_focus', 'bigquery', variables), variables, { table: 'cost_data_standard_1_3', schema: 'focus/cost_data_standard_1_3', where: `x_pipeline_id = '${pipeline}'` });
    });
  });
});
