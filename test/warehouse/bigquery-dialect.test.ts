/**
 * The BigQuery forms of the procedures (configs/system/procedures/**\/*.bigquery.sql) checked
 * offline by ZetaSQL, BigQuery's own SQL front end: every statement is analysed with BigQuery's
 * language options against the org dataset's catalog (configs/schemas), and each procedure's
 * SELECT is evaluated by ZetaSQL's reference implementation over the rows the DuckDB warehouse
 * holds, and must give the rows the DuckDB form wrote, row for row.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { checkFocusFile } from '../../src/focus/check-focus-file.ts';
import { checkFocusTable } from '../../src/focus/check-focus-table.ts';
import { BIGQUERY_FOCUS_SQL, DUCKDB_FOCUS_SQL, type FocusSqlDialect } from '../../src/focus/sql-dialect.ts';
import { verifyConversion } from '../../src/focus/verify-conversion.ts';
import { resolveSqlTemplates, sqlIdentifiers } from '../../src/pipelines/templates.ts';
import type { QualityResult } from '../../src/shared/quality.ts';
import { REFERENCE_VIEWS } from '../../src/processors/cloud/reference-views.ts';
import { procedureDefinition } from '../../src/warehouse/bigquery/procedure-catalog.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import { loadTableSchema } from '../../src/warehouse/table-schema.ts';
import type { Lineage, SqlParams, VerifyContext, Warehouse } from '../../src/warehouse/warehouse.ts';
import { SAMPLES, duckdb, openCloudHarness, skipWithoutShared, type CloudHarness } from '../cloud/cloud-fixture.ts';
import { openDb, type Db } from '../focus/focus-fixture.ts';
import { CONFIGS, REPO } from '../support/test-app.ts';
import { startZetaSql, zetasqlBinary, type ZetaSql } from '../support/zetasql-service.ts';
import { assertSameChecks, bigQueryDialect, canonicalRows, procedureStatements, readAsText, schemaTable, sqlRunner, stagedTable, zetaSqlRunner, type BigQueryDialect, type Query } from './dialect-harness.ts';
import { bigQueryLanguage, parseRoutine, type BqTable } from './zetasql-catalog.ts';

const binary = zetasqlBinary();
const ORG = 'acme';
const DATASET = `${ORG}_dev`;
const PROCEDURES = join(CONFIGS, 'system', 'procedures');
const FOCUS_SAMPLES = join(REPO, '..', 'shared', 'focus', 'samples');
const FOCUS_SAMPLE = join(FOCUS_SAMPLES, 'official_focus-1.0_focus_sample_1000rows.csv');
const SYNTHETIC_FOCUS = 'synthetic_focus-1.3_costandusage_aws_100rows.csv';
const VIEWS: Record<string, string> = { aws: 'aws_billing_export', gcp: 'gcp_billing_export', oci: 'oci_cost_report' };
const CONTRACTS: Record<string, string> = { aws: 'cloud/aws_cur', gcp: 'cloud/gcp_billing_export', oci: 'cloud/oci_cost_report' };

/** The run's variables as runVariables builds them (all text, as the executor binds them). */
function runVariables(pipeline: string, start: string, end: string, runId = 'run_1'): Record<string, string> {
  return { org_slug: ORG, env: 'dev', org_dataset: DATASET, project_id: 'test-project', run_id: runId, pipeline_id: pipeline, credential_id: 'default', date: start, start_date: start, end_date: end, year: start.slice(0, 4), month: start.slice(5, 7), day: start.slice(8, 10), today: end, yesterday: end };
}
const lineage = (pipeline: string, runId = 'run_1'): Lineage => ({ orgSlug: ORG, pipelineId: pipeline, credentialId: 'default', runId, ingestedAt: new Date('2026-01-02T03:04:05Z') });

test('every DuckDB procedure has a BigQuery form beside it', async () => {
  const files = (await readdir(PROCEDURES, { recursive: true })).map(String);
  const missing = files.filter((f) => f.endsWith('.duckdb.sql') && !files.includes(f.replace(/\.duckdb\.sql$/, '.bigquery.sql')));
  assert.deepEqual(missing, []);
});

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

  test('the analysis refuses what BigQuery refuses: DuckDB spellings, ZetaSQL-only functions, internal types', async () => {
    const dialect = bigQueryDialect(zeta, language, DATASET, [], []);
    await assert.rejects(dialect.analyze("SELECT list_contains(['a'], 'a') AS a", {}), /list_contains/i);
    await assert.rejects(dialect.analyze('SELECT ARRAY_TRANSFORM([1, 2], x -> x + 1) AS a', {}), /ARRAY_TRANSFORM/);
    await assert.rejects(dialect.analyze('SELECT CAST(1 AS INT32) AS a', {}), /INT32/);
    await dialect.analyze("SELECT ARRAY_LENGTH(SPLIT('a/b', '/')) AS a", {});
  });

  test('every procedure as BigQuery keeps it (CREATE PROCEDURE, a statement per EXECUTE IMMEDIATE) parses as a BigQuery script', async () => {
    const files = (await readdir(PROCEDURES, { recursive: true })).map(String).filter((file) => file.endsWith('.bigquery.sql'));
    assert.ok(files.length >= 15, files.join(', '));
    for (const file of files) {
      const name = file.split('/').pop()!.replace(/\.bigquery\.sql$/, '');
      const definition = procedureDefinition('organizations', name, await readFile(join(PROCEDURES, file), 'utf8'));
      const parsed = await zeta.call<{ parsedScript?: { statementListNode?: { statementList?: Record<string, unknown>[] } } }>('Parse', { sqlStatement: definition, options: language, allowScript: true }).catch((error: Error) => {
        throw new Error(`${file}: ${error.message}\n${definition.slice(0, 400)}`);
      });
      const statements = parsed.parsedScript?.statementListNode?.statementList ?? [];
      assert.equal(statements.length, 1, `${file}: one CREATE PROCEDURE`);
      assert.ok('astDdlStatementNode' in (statements[0] ?? {}), file);
    }
    // The arguments: the identifiers spliced, in SQL_IDENTIFIERS' order, then the parameters bound, by name.
    const definition = procedureDefinition('organizations', 'sp_x', "SELECT @start_date AS s FROM {org_dataset}.t WHERE c = '{credential_id}' AND a = @credential_id;\nDELETE FROM ${org_dataset}.u WHERE d < @end_date");
    assert.equal(
      definition,
      'CREATE OR REPLACE PROCEDURE `organizations.sp_x`(`org_dataset` STRING, `credential_id` STRING, `end_date` STRING, `start_date` STRING)\nBEGIN\n' +
        '  EXECUTE IMMEDIATE CONCAT(r"""SELECT @start_date AS s FROM """, `org_dataset`, r""".t WHERE c = \'""", `credential_id`, r"""\' AND a = @credential_id""") USING `credential_id` AS `credential_id`, `start_date` AS `start_date`;\n' +
        '  EXECUTE IMMEDIATE CONCAT(r"""DELETE FROM """, `org_dataset`, r""".u WHERE d < @end_date""") USING `end_date` AS `end_date`;\nEND',
    );
    await zeta.call('Parse', { sqlStatement: definition, options: language, allowScript: true });
  });

  /** The tables with the rows the DuckDB warehouse holds in them. */
  async function filled(tables: BqTable[], query: Query = (sql) => warehouse.query(sql)): Promise<BqTable[]> {
    return Promise.all(tables.map(async (t) => ({ ...t, rows: await query(`SELECT ${t.columns.map((c) => `"${c.name}"`).join(', ')} FROM ${t.name}`) })));
  }

  /** Inserts rows (column -> SQL literal text or value) into a table of the org dataset, lineage filled in. */
  async function insert(table: string, pipeline: string, rows: Record<string, string | number | boolean | null>[]) {
    const literal = (v: string | number | boolean | null) => (v === null ? 'NULL' : typeof v === 'string' ? `'${v.replaceAll("'", "''")}'` : String(v));
    const line = (row: Record<string, string | number | boolean | null>) => {
      // The raw tables' required bucket (or point) of the day the row counts.
      const day = String(row.usage_date ?? '2026-01-01');
      const bucket = table.endsWith('gemini_usage_raw') ? { point_start: `${day} 00:00:00+00`, point_end: `${day} 23:59:59+00`, metric_type: 'token_count' } : { bucket_start: `${day} 00:00:00+00`, bucket_end: `${day} 23:59:59+00` };
      const all = { ...bucket, ...row, x_org_slug: ORG, x_pipeline_id: pipeline, x_credential_id: 'default', x_pipeline_run_date: String(row.usage_date ?? '2026-01-01'), x_run_id: 'raw_1', x_ingested_at: '2026-01-02 00:00:00+00', x_ingestion_date: '2026-01-02' };
      return `SELECT ${Object.entries(all).map(([k, v]) => `${literal(v)} AS "${k}"`).join(', ')}`;
    };
    await warehouse.runScript([{ sql: `INSERT INTO ${table} BY NAME ${rows.map(line).join(' UNION ALL BY NAME ')}` }]);
  }

  /** Runs a DuckDB procedure the way generic.procedure_executor does: setup statements, then its SELECT replaces the partition. */
  async function runDuckDb(procedure: string, variables: Record<string, string>, target: { table: string; schema: string; runDateColumn: string }) {
    const statements = await procedureStatements(procedure, 'duckdb', variables);
    await warehouse.replacePartition({
      dataset: DATASET, table: target.table, schema: target.schema, lineage: lineage(variables.pipeline_id as string),
      runDates: { start: variables.start_date as string, end: variables.end_date as string }, runDateColumn: target.runDateColumn,
      setup: statements.slice(0, -1).map((sql) => ({ sql, params: variables })), select: { sql: statements.at(-1) as string, params: variables },
    });
  }

  /** A table schema's column types by name. */
  const schemaTypes = async (schema: string) => Object.fromEntries((await loadTableSchema(CONFIGS, schema)).fields.map((f) => [f.name, f.type]));

  /** Every statement analyses; the last one evaluates to the rows DuckDB wrote to `target` (lineage aside). */
  async function assertSameRows(dialect: BigQueryDialect, statements: string[], params: SqlParams, target: { table: string; schema: string; where: string; dataset?: string }, query: Query = (sql) => warehouse.query(sql)) {
    for (const sql of statements) await dialect.analyze(sql, params);
    const { columns, rows } = await dialect.evaluate(statements.at(-1) as string, params);
    const types = await schemaTypes(target.schema);
    const names = columns.map((c) => c.name);
    assert.deepEqual(names.filter((n) => !(n in types)), [], 'every output column is a column of the target table');
    const duck = await query(`SELECT ${names.map((n) => `"${n}"`).join(', ')} FROM ${target.dataset ?? DATASET}.${target.table} WHERE ${target.where}`);
    assert.ok(duck.length > 0, 'DuckDB wrote rows to compare with');
    assert.deepEqual(canonicalRows(rows, names, types), canonicalRows(duck, names, types));
    return rows.length;
  }

  /** A shipped pipeline's SQL field (`pick` of a step's config) in both dialects, its templates resolved for the test org. */
  async function pipelineSql(file: string, stepId: string, pick: (config: Record<string, any>) => { duckdb: string; bigquery: string }, variables: Record<string, string>) {
    const { steps } = parseYaml(await readFile(join(CONFIGS, file), 'utf8')) as { steps: { step_id: string; config: Record<string, any> }[] };
    const text = pick(steps.find((step) => step.step_id === stepId)?.config ?? {});
    const identifiers = sqlIdentifiers(variables);
    return { duckdb: resolveSqlTemplates(text.duckdb, identifiers, file), bigquery: resolveSqlTemplates(text.bigquery, identifiers, file) };
  }

  /** The BigQuery form analyses, and evaluates to the rows of the DuckDB form (compared as `types`). */
  async function assertSameQuery(dialect: BigQueryDialect, sql: { duckdb: string; bigquery: string }, params: SqlParams, types: Record<string, string>): Promise<number> {
    await dialect.analyze(sql.bigquery, params);
    const { columns, rows } = await dialect.evaluate(sql.bigquery, params);
    const names = columns.map((c) => c.name);
    const duck = await warehouse.query(sql.duckdb, params);
    assert.ok(duck.length > 0, 'DuckDB gives rows to compare with');
    assert.deepEqual(Object.keys(duck[0] ?? {}), names, 'the same columns in the same order');
    assert.deepEqual(canonicalRows(rows, names, types), canonicalRows(duck, names, types));
    return rows.length;
  }
  const RECONCILED = { billed_cost: 'NUMERIC', effective_cost: 'NUMERIC' };
  const reconcileSource = (config: Record<string, any>) => config.focus.reconcile.source;

  describe('genai', () => {
    const pipeline = 'openai_payg';
    const variables = runVariables(pipeline, '2026-03-01', '2026-03-03');
    const raw = ['genai_openai_usage_raw', 'genai_openai_costs_raw', 'genai_anthropic_usage_raw', 'genai_anthropic_costs_raw', 'genai_gemini_usage_raw'];
    let rawTables: BqTable[];

    before(async () => {
      for (const table of [...raw, 'genai_payg_usage_daily', 'genai_payg_cost_daily']) await warehouse.ensureTable(DATASET, table, `genai/${table}`);
      rawTables = await Promise.all(raw.map((table) => schemaTable(DATASET, table, `genai/${table}`)));
      const account = { billing_account_id: 'org-1', billing_account_name: 'Acme AI' };
      // Both OpenAI token definitions (docs/genai-costs.md), a batch and a flex tier, embeddings,
      // images, vector storage, web search; cost lines of models and of tools.
      await insert(`${DATASET}.genai_openai_usage_raw`, pipeline, [
        { ...account, usage_date: '2026-03-01', endpoint: 'completions', project_id: 'proj_a', model: 'gpt-4o', batch: false, service_tier: 'default', input_tokens: 1000, output_tokens: 800, input_cached_tokens: 200, input_audio_tokens: 50, output_audio_tokens: 3103 },
        { ...account, usage_date: '2026-03-02', endpoint: 'completions', project_id: 'proj_a', model: 'gpt-4o', batch: false, service_tier: 'flex', input_tokens: 1500, output_tokens: 900, input_cached_tokens: 300, input_cache_write_tokens: 100, input_text_tokens: 1000, input_audio_tokens: 60, input_image_tokens: 40, output_text_tokens: 850, output_image_tokens: 50 },
        { ...account, usage_date: '2026-03-02', endpoint: 'completions', project_id: 'proj_b', model: 'gpt-4o-mini', batch: true, service_tier: null, input_tokens: 70, output_tokens: 30, input_uncached_tokens: 60, input_cached_text_tokens: 10 },
        { ...account, usage_date: '2026-03-02', endpoint: 'embeddings', project_id: 'proj_b', model: 'text-embedding-3-small', input_tokens: 5000 },
        { ...account, usage_date: '2026-03-03', endpoint: 'images', project_id: 'proj_a', model: 'dall-e-3', images: 4 },
        { ...account, usage_date: '2026-03-03', endpoint: 'vector_stores', project_id: 'proj_a', usage_bytes: 123456789 },
        { ...account, usage_date: '2026-03-03', endpoint: 'web_search_calls', project_id: 'proj_a', num_requests: 7 },
      ]);
      await insert(`${DATASET}.genai_openai_costs_raw`, pipeline, [
        { ...account, usage_date: '2026-03-02', project_id: 'proj_a', line_item: 'gpt-4o, input', amount_value: 0.0025, currency: 'usd', quantity: 1000, quantity_unit: 'tokens' },
        { ...account, usage_date: '2026-03-02', project_id: 'proj_a', line_item: 'gpt-4o, cached input', amount_value: 0.000375, currency: 'usd', quantity: 0.3, quantity_unit: '1000_tokens' },
        { ...account, usage_date: '2026-03-02', project_id: 'proj_a', line_item: 'gpt-4o, output flex', amount_value: 0.0085, currency: 'usd', quantity: 850, quantity_unit: 'tokens' },
        { ...account, usage_date: '2026-03-02', project_id: 'proj_b', line_item: 'Web search tool calls', amount_value: 0.07, currency: 'usd', quantity: null, quantity_unit: null },
        { ...account, usage_date: '2026-03-02', project_id: 'proj_b', line_item: 'odd, line, item', amount_value: 1.5, currency: 'usd', quantity: null, quantity_unit: null },
      ]);
      await insert(`${DATASET}.genai_anthropic_usage_raw`, pipeline, [
        { ...account, usage_date: '2026-03-01', workspace_id: null, model: 'claude-sonnet-4', service_tier: 'standard', context_window: '0-200k', uncached_input_tokens: 900, cache_creation_5m_input_tokens: 100, cache_creation_1h_input_tokens: 0, cache_read_input_tokens: 300, output_tokens: 400, web_search_requests: 2 },
      ]);
      await insert(`${DATASET}.genai_anthropic_costs_raw`, pipeline, [
        { ...account, usage_date: '2026-03-01', workspace_id: null, cost_type: 'tokens', model: 'claude-sonnet-4', service_tier: 'standard', token_type: 'uncached_input_tokens', context_window: '0-200k', amount_cents: 0.27, currency: 'USD' },
        { ...account, usage_date: '2026-03-01', workspace_id: null, cost_type: 'web_search', model: 'claude-sonnet-4', service_tier: 'standard', token_type: null, context_window: '0-200k', amount_cents: 2, currency: 'USD' },
      ]);
      await insert(`${DATASET}.genai_gemini_usage_raw`, pipeline, [
        { ...account, usage_date: '2026-03-03', gcp_project_id: 'gp-1', direction: 'input', model: 'gemini-2.5-pro', token_count: 12345 },
        { ...account, usage_date: '2026-03-03', gcp_project_id: 'gp-1', direction: 'output', model: 'gemini-2.5-pro', token_count: 0 },
      ]);
    });

    test('sp_genai_1_consolidate_usage_daily: analysed, and evaluated to DuckDB\'s rows', async () => {
      await runDuckDb('genai/sp_genai_1_consolidate_usage_daily', variables, { table: 'genai_payg_usage_daily', schema: 'genai/genai_payg_usage_daily', runDateColumn: 'usage_date' });
      const dialect = bigQueryDialect(zeta, language, DATASET, await filled(rawTables), []);
      const rows = await assertSameRows(dialect, await procedureStatements('genai/sp_genai_1_consolidate_usage_daily', 'bigquery', variables), variables, { table: 'genai_payg_usage_daily', schema: 'genai/genai_payg_usage_daily', where: `x_run_id = 'run_1'` });
      assert.ok(rows >= 25, `${rows} usage keys`);
    });

    test('sp_genai_2_calculate_costs: analysed, and evaluated to DuckDB\'s rows over the same staged prices', async () => {
      const columns = ['usage_date', 'model', 'token_type', 'pricing_tier', 'context_window', 'pricing_unit', 'pricing_factor', 'list_unit_price', 'contracted_unit_price', 'price_status', 'list_price_source', 'price_model_id', 'price_source', 'price_effective_from', 'override_note'];
      const price = (day: string, model: string | null, tokenType: string, tier: string, window: string | null, unit: string, factor: string, list: string | null, contracted: string | null) =>
        [day, model, tokenType, tier, window, unit, factor, list, contracted, list ? 'priced' : 'unknown_model', list ? 'price_list' : null, model, list ? 'genai-prices' : null, list ? '2026-01-01' : null, null];
      const prices = [
        price('2026-03-01', 'gpt-4o', 'input', 'standard', null, 'MTok', '0.000001', '2.5', '2.25'),
        price('2026-03-01', 'gpt-4o', 'output', 'standard', null, 'MTok', '0.000001', '10', '10'),
        price('2026-03-01', 'claude-sonnet-4', 'input', 'standard', '0-200k', 'MTok', '0.000001', '3', '3'),
        price('2026-03-02', 'gpt-4o', 'input', 'flex', null, 'MTok', '0.000001', '1.25', '1.25'),
        price('2026-03-02', 'gpt-4o', 'output', 'flex', null, 'MTok', '0.000001', null, null),
        price('2026-03-03', 'gemini-2.5-pro', 'input', 'standard', null, 'MTok', '0.000001', '1.25', '1.1'),
        price('2026-03-03', null, 'vector_storage', 'standard', null, 'GiB-Hours', '1', '0.000138888888888889', '0.000138888888888889'),
      ];
      const literal = (v: string | null) => (v === null ? 'NULL' : `'${v}'`);
      await warehouse.runScript([{ sql: `CREATE OR REPLACE TABLE staged (${columns.map((c) => `"${c}" VARCHAR`).join(', ')})` }, { sql: `INSERT INTO staged VALUES ${prices.map((p) => `(${p.map(literal).join(', ')})`).join(', ')}` }]);
      await runDuckDb('genai/sp_genai_2_calculate_costs', variables, { table: 'genai_payg_cost_daily', schema: 'genai/genai_payg_cost_daily', runDateColumn: 'usage_date' });
      const usage = await schemaTable(DATASET, 'genai_payg_usage_daily', 'genai/genai_payg_usage_daily');
      const staged: BqTable = { name: 'staged', columns: columns.map((name) => ({ name, type: 'STRING' })), rows: prices.map((p) => Object.fromEntries(columns.map((c, i) => [c, p[i]]))) };
      const dialect = bigQueryDialect(zeta, language, DATASET, [...(await filled([usage])), staged], []);
      await assertSameRows(dialect, await procedureStatements('genai/sp_genai_2_calculate_costs', 'bigquery', variables), variables, { table: 'genai_payg_cost_daily', schema: 'genai/genai_payg_cost_daily', where: `x_run_id = 'run_1'` });
    });

    test('sp_genai_3_convert_to_focus: analysed, and evaluated to DuckDB\'s rows', async () => {
      await runDuckDb('genai/sp_genai_3_convert_to_focus', variables, { table: 'cost_data_standard_1_3', schema: 'focus/cost_data_standard_1_3', runDateColumn: 'ChargePeriodStart' });
      const costs = await schemaTable(DATASET, 'genai_payg_cost_daily', 'genai/genai_payg_cost_daily');
      const dialect = bigQueryDialect(zeta, language, DATASET, await filled([costs]), []);
      const rows = await assertSameRows(dialect, await procedureStatements('genai/sp_genai_3_convert_to_focus', 'bigquery', variables), variables, { table: 'cost_data_standard_1_3', schema: 'focus/cost_data_standard_1_3', where: `x_pipeline_id = '${pipeline}'` });
      assert.ok(rows >= 5, `${rows} FOCUS rows`);
    });

    test("the pipelines' own SQL in BigQuery's form (the conversion's reconciliation, the unified summary) gives DuckDB's rows", async () => {
      const costs = await schemaTable(DATASET, 'genai_payg_cost_daily', 'genai/genai_payg_cost_daily');
      const dialect = bigQueryDialect(zeta, language, DATASET, await filled([costs]), []);
      for (const file of ['genai/payg/openai.yml', 'genai/payg/anthropic.yml', 'genai/payg/gemini.yml']) {
        await assertSameQuery(dialect, await pipelineSql(file, 'convert_to_focus', reconcileSource, variables), variables, RECONCILED);
      }
      const summary = await pipelineSql('genai/unified/consolidate.yml', 'summarise', (config) => config.query, variables);
      const rows = await assertSameQuery(dialect, summary, variables, await schemaTypes('genai/genai_usage_cost_daily'));
      assert.ok(rows >= 5, `${rows} summary rows`);
    });
  });

  test('demo/sp_demo_1_generate_usage: analysed; evaluated to the same days, teams, services and prices (quantities are FARM_FINGERPRINT\'s, see the file)', async () => {
    const variables = { ...runVariables('demo_usage_daily_cost', '2026-02-27', '2026-03-02'), teams: '4' };
    await warehouse.ensureTable(DATASET, 'demo_usage_raw', 'demo/demo_usage_raw');
    await runDuckDb('demo/sp_demo_1_generate_usage', variables, { table: 'demo_usage_raw', schema: 'demo/demo_usage_raw', runDateColumn: 'usage_date' });
    const dialect = bigQueryDialect(zeta, language, DATASET, [], []);
    const [select] = await procedureStatements('demo/sp_demo_1_generate_usage', 'bigquery', variables);
    await dialect.analyze(select as string, variables);
    const { rows } = await dialect.evaluate(select as string, variables);
    const key = (r: Record<string, unknown>) => `${String(r.usage_date).slice(0, 10)} ${String(r.team)} ${String(r.service)} ${Number(r.unit_price)}`;
    const duck = await warehouse.query(`SELECT usage_date, team, service, unit_price FROM ${DATASET}.demo_usage_raw`);
    assert.deepEqual(rows.map(key).sort(), duck.map(key).sort());
    assert.equal(rows.length, 4 * 4 * 3, '4 days x 4 teams x 3 services');
    assert.ok(rows.every((r) => Number(r.usage_quantity) >= 1 && Number(r.usage_quantity) < 1001));
    assert.deepEqual((await dialect.evaluate(select as string, variables)).rows, rows, 'the same run gives the same quantities');
    // The pipeline's own cost queries, over the rows DuckDB generated.
    const usage = bigQueryDialect(zeta, language, DATASET, await filled([await schemaTable(DATASET, 'demo_usage_raw', 'demo/demo_usage_raw')]), []);
    for (const [step, schema] of [['cost_by_team', 'demo/demo_cost_daily_by_team'], ['cost_by_service', 'demo/demo_cost_daily_by_service']] as const) {
      const count = await assertSameQuery(usage, await pipelineSql('demo/usage/daily_cost.yml', step, (config) => config.query, variables), variables, await schemaTypes(schema));
      assert.equal(count, step === 'cost_by_team' ? 4 * 4 : 4 * 3, step);
    }
  });


  describe('cloud conversions on the shared sample exports', { skip: skipWithoutShared(SAMPLES) || skipWithoutShared(FOCUS_SAMPLE) }, () => {
    const SAMPLE_RUNS = [
      { file: 'aws/koku__aws_2023-06-01.csv', provider: 'aws', view: 'aws_billing_export', contract: 'cloud/aws_cur', start: '2023-06-01', end: '2023-06-30' },
      { file: 'aws/koku__test_cur.csv', provider: 'aws', view: 'aws_billing_export', contract: 'cloud/aws_cur', start: '2018-06-01', end: '2018-06-30' },
      { file: 'gcp/koku__gcp_202011_credits.csv', provider: 'gcp', view: 'gcp_billing_export', contract: 'cloud/gcp_billing_export', start: '2020-11-01', end: '2020-11-30' },
      { file: 'gcp/koku__gcp_2022-08-01_5_detailed.csv', provider: 'gcp', view: 'gcp_billing_export', contract: 'cloud/gcp_billing_export', start: '2022-08-01', end: '2022-08-31' },
      { file: 'azure/focus_converters__sample-anonymous-ea-export-dataset.csv', provider: 'azure', view: 'azure_cost_details', contract: 'cloud/azure_cost_details', start: '2023-09-01', end: '2023-09-30' },
      { file: 'azure/koku__azure_mca_camel_azure_version_2.csv', provider: 'azure', view: 'azure_cost_details', contract: 'cloud/azure_cost_details', start: '2023-08-01', end: '2023-08-31' },
      { file: 'oci/koku__oci_reports_cost-csv_0001000000603747.csv', provider: 'oci', view: 'oci_cost_report', contract: 'cloud/oci_cost_report', start: '2022-04-01', end: '2022-04-30' },
      { file: 'oci/koku__oci_reports_usage-csv_0001000000829494.csv', provider: 'oci', view: 'oci_cost_report', contract: 'cloud/oci_cost_report', start: '2022-04-01', end: '2022-04-30' },
      // Native FOCUS exports (focus_native_rows): the official FOCUS 1.0 sample's Microsoft rows (its
      // AWS and Oracle rows fail MUST rules in DuckDB, sample defects, so DuckDB writes none to
      // compare), and the synthetic FOCUS 1.3 sample through each provider's native path.
      { file: 'focus:Microsoft', provider: 'azure', view: 'azure_cost_details', contract: 'cloud/azure_cost_details', start: '2024-09-01', end: '2024-09-30' },
      ...['aws', 'gcp', 'oci'].map((provider) => ({ file: `focus-file:${SYNTHETIC_FOCUS}`, provider, view: VIEWS[provider] as string, contract: CONTRACTS[provider] as string, start: '2026-05-01', end: '2026-05-31' })),
    ];
    /** The sample's file as the run names it; a FOCUS sample's rows of one provider are written to a file of their own. */
    async function source(file: string): Promise<string> {
      if (file.startsWith('focus-file:')) return h.place(join(FOCUS_SAMPLES, file.slice(11)), join('focus', file.slice(11)));
      if (!file.startsWith('focus:')) return h.place(join(SAMPLES, file), join('samples', file));
      const path = join(await h.folder('focus'), `${file.slice(6).toLowerCase()}.csv`);
      await duckdb(`COPY (SELECT * FROM read_csv('${FOCUS_SAMPLE}', all_varchar = true) WHERE ProviderName = '${file.slice(6)}') TO '${path}' (FORMAT csv, HEADER)`);
      return h.uri(path);
    }
    let h: CloudHarness;
    const dataset = 'bq_samples_dev';
    before(async () => {
      h = await openCloudHarness('bq_samples');
    });
    after(() => h?.close());

    for (const sample of SAMPLE_RUNS) {
      test(`${sample.file}: the ${sample.provider} functions and conversion analysed, and the conversion evaluated to DuckDB's rows`, async () => {
        const { status, error, runId } = await h.run(`${sample.provider}/cost/billing`, { start_date: sample.start, end_date: sample.end, source_uri: await source(sample.file) });
        assert.equal(status, 'completed', error ?? '');
        const [load] = await h.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${dataset}' AND table_name LIKE '${sample.view}_load__%'`);
        const credential = String(load?.table_name).slice(`${sample.view}_load__`.length);
        const variables = { ...runVariables(`${sample.provider}_cost_billing`, sample.start, sample.end, runId), org_slug: 'bq_samples', org_dataset: dataset, credential_id: credential, currency: 'USD' };

        const macros = [...(await procedureStatements('cloud/sp_cloud_0_macros_focus', 'bigquery', variables)), ...(await procedureStatements(`cloud/sp_cloud_0_macros_${sample.provider}`, 'bigquery', variables))];
        const routines = macros.map(parseRoutine);
        const tables = [
          await stagedTable(dataset, `${sample.view}__${credential}`, sample.contract),
          await stagedTable(dataset, `${sample.view}_focus__${credential}`, 'cloud/focus_export'),
          { name: `${dataset}.${sample.view}_load__${credential}`, columns: [{ name: 'x_load_run_id', type: 'STRING' }, { name: 'x_load_shape', type: 'STRING' }, { name: 'x_source_files', type: 'ARRAY<STRING>' }, { name: 'x_loaded_at', type: 'TIMESTAMP' }] },
          ...Object.entries(REFERENCE_VIEWS).map(([view, { columns }]) => ({ name: `${dataset}.${view}`, columns: Object.entries(columns).map(([name, type]) => ({ name, type: type === 'DOUBLE' ? 'FLOAT64' : 'STRING' })) })),
        ];
        const dialect = bigQueryDialect(zeta, language, dataset, await filled(tables, h.query), routines);
        for (const sql of macros) await dialect.analyze(sql, variables);
        const statements = await procedureStatements(`cloud/sp_cloud_1_convert_to_focus_${sample.provider}`, 'bigquery', variables);
        await assertSameRows(dialect, statements, variables, { table: 'cost_data_standard_1_3', schema: 'focus/cost_data_standard_1_3', where: `x_run_id = '${runId}'`, dataset }, h.query);
        // The staged export replaced by another run: the first statement stops the conversion.
        await assert.rejects(dialect.evaluate(statements[0] as string, { ...variables, run_id: 'another_run' }), /was replaced by run/);
      });
    }

    test("the FOCUS checks compiled for BigQuery, on the converted rows: analysed, and evaluated to DuckDB's results", async () => {
      const table = await schemaTable(dataset, 'cost_data_standard_1_3', 'focus/cost_data_standard_1_3');
      const duck = await checkFocusTable(sqlRunner(h.query), { table: `${dataset}.cost_data_standard_1_3` });
      const bq = await checkFocusTable(zetaSqlRunner(bigQueryDialect(zeta, language, dataset, await filled([table], h.query), [])), { table: `\`${table.name}\``, dialect: BIGQUERY_FOCUS_SQL, columns: table.columns });
      assertSameChecks(bq, duck);
    });

    test("a conversion's verification (checks, then reconciliation per billing period) in BigQuery's form records DuckDB's results", async () => {
      const table = await schemaTable(dataset, 'cost_data_standard_1_3', 'focus/cost_data_standard_1_3');
      const dialect = bigQueryDialect(zeta, language, dataset, await filled([table], h.query), []);
      const source = (from: string, scale: string) => `SELECT BillingPeriodStart AS billing_period_start, BilledCost * ${scale} AS billed_cost, EffectiveCost AS effective_cost FROM ${from} WHERE x_SourceSystem = 'gcp'`;
      const verify = async (sql: FocusSqlDialect, context: VerifyContext, scale: string) => {
        const recorded: QualityResult[] = [];
        const from = sql === BIGQUERY_FOCUS_SQL ? `\`${table.name}\`` : table.name;
        const outcome = await verifyConversion({ provider: 'gcp', reconcile: { source: source(from, scale), per_billing_period: true } }, {}, (results) => recorded.push(...results), sql)(context).then(() => 'committed', (error: Error) => error.message);
        return { outcome, recorded: recorded.map((r) => `${r.rule_id} ${r.status} ${r.failing_rows} ${r.description}`) };
      };
      const duckContext: VerifyContext = { table: table.name, rows: "x_SourceSystem = 'gcp'", parts: [], all: (sql) => h.query(sql), query: (sql) => h.query(sql) };
      const runner = zetaSqlRunner(dialect);
      const zetaContext = { table: `\`${table.name}\``, rows: "x_SourceSystem = 'gcp'", parts: [], all: (sql: string) => runner.all(sql), query: (sql: string) => runner.all(sql), columns: table.columns };
      for (const scale of ['1', '2']) {
        const [duck, bq] = [await verify(DUCKDB_FOCUS_SQL, duckContext, scale), await verify(BIGQUERY_FOCUS_SQL, zetaContext, scale)];
        assert.deepEqual(bq, duck);
        assert.match(duck.outcome, scale === '1' ? /^committed$/ : /^reconciliation failed: BilledCost total/);
        const periods = duck.recorded.filter((r) => /^RECONCILE-BilledCost-\d{4}-\d{2}-\d{2} /.test(r));
        // Doubled amounts differ from the FOCUS rows in every period with a cost (a period of zero cost still reconciles).
        assert.ok(periods.length > 0 && (scale === '1' ? periods.every((r) => r.includes(' pass ')) : periods.some((r) => r.includes(' fail '))), periods.join('; '));
      }
    });
  });


  describe('the FOCUS checks on the shared FOCUS sample files, read as text', { skip: skipWithoutShared(FOCUS_SAMPLES) }, () => {
    let db: Db;
    before(async () => {
      db = await openDb();
    });
    after(() => db?.close());
    for (const file of ['synthetic_focus-1.3_costandusage_aws_100rows.csv', 'official_focus-1.0_focus_sample_1000rows.csv', 'handauthored_focus-1.3_costandusage_multiprovider.csv']) {
      test(`${file}: analysed, and evaluated to DuckDB's results`, async () => {
        const path = join(FOCUS_SAMPLES, file);
        const duck = await checkFocusFile(db.sql, path);
        const { columns, rows } = await readAsText(path);
        const table: BqTable = { name: `${DATASET}.focus_file`, columns: columns.map((name) => ({ name, type: 'STRING' })), rows };
        const bq = await checkFocusTable(zetaSqlRunner(bigQueryDialect(zeta, language, DATASET, [table], [])), { table: `\`${table.name}\``, dialect: BIGQUERY_FOCUS_SQL, columns: table.columns });
        assertSameChecks(bq, duck);
        assert.ok(duck.filter((r) => r.status !== 'skipped').length > 150, 'most rules ran');
      });
    }
  });

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
      await runDuckDb('subscription/sp_subscription_2_calculate_daily_costs', variables, { table: 'saas_subscription_costs_daily', schema: 'subscription/saas_subscription_costs_daily', runDateColumn: 'cost_date' });
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
      await runDuckDb('subscription/sp_subscription_3_convert_to_focus', variables, { table: 'cost_data_standard_1_3', schema: 'focus/cost_data_standard_1_3', runDateColumn: 'ChargePeriodStart' });
      const daily = await schemaTable(DATASET, 'saas_subscription_costs_daily', 'subscription/saas_subscription_costs_daily');
      const dialect = bigQueryDialect(zeta, language, DATASET, await filled([daily]), []);
      await assertSameRows(dialect, await procedureStatements('subscription/sp_subscription_3_convert_to_focus', 'bigquery', variables), variables, { table: 'cost_data_standard_1_3', schema: 'focus/cost_data_standard_1_3', where: `x_pipeline_id = '${pipeline}'` });
      // The conversion's reconciliation, in BigQuery's form, totals what DuckDB's does.
      await assertSameQuery(dialect, await pipelineSql('subscription/costs/subscription_cost.yml', 'convert_to_focus', reconcileSource, variables), variables, RECONCILED);
    });
  });
});
