/**
 * Benchmark of the cloud billing pipeline on a synthetic AWS CUR 2.0 export.
 *
 * Run: npx node scripts/bench-cloud.ts [rows=10000000] [--dir DIR] [--memory-limit 1GB] [--threads 2]
 *
 * 1. Writes a CUR 2.0 Parquet file of N rows with DuckDB (one COPY over range(), no JavaScript
 *    row loop) into the org `bench`'s source folder, DIR/sources/bench/ (DIR/sources is the
 *    runs' PIPELINE_SOURCE_ROOT), reused when it already holds one of that size: numbers as DOUBLE, as AWS writes
 *    them; map columns (product, resource_tags, cost_category, discount), Savings Plan covered
 *    usage with its paired negations and hourly fees (some commitment unused), RI discounted usage
 *    and fees, tax, credits, refunds and EDP discounts.
 * 2. Runs the AWS pipeline (configs/cloud/aws/cost/billing.yml) end to end in a child process:
 *    the run requested through the engine, staged, converted, FOCUS-checked, reconciled and
 *    reported, on a file-backed DuckDB warehouse; time from run requested to completed.
 * 3. Runs the bare conversion SQL in another child process: the pipeline's own staging of the
 *    same file and sp_cloud_1_convert_to_focus_aws's SELECT inserted into a table of the FOCUS
 *    table's columns and types (lineage aside), with no engine, lineage or checks.
 * 4. Prints both times, their ratio, rows per second and each process's peak RSS.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { procedureFileTexts } from '../src/procedures/procedure-texts.ts';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const CONFIGS = join(ROOT, 'configs');

interface Options {
  rows: number;
  dir: string;
  memoryLimit: string;
  threads: number;
}

function options(argv: string[]): Options & { phase?: string; file?: string } {
  const named = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const positional = argv.filter((arg, i) => !arg.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  return {
    rows: Number(positional[0] ?? 10_000_000),
    dir: named('--dir') ?? join(tmpdir(), 'bench-cloud'),
    memoryLimit: named('--memory-limit') ?? '1GB',
    threads: Number(named('--threads') ?? 2),
    ...(named('--phase') ? { phase: named('--phase') } : {}),
    ...(named('--file') ? { file: named('--file') } : {}),
  };
}

/**
 * Line types per 100 rows: 60 on-demand usage, 12 Savings-Plan-covered usage and their 12
 * negations (same account, resource, usage type, operation and hour), 2 SP hourly fees, 8 RI
 * discounted usage, 1 RIFee, 1 tax, 1 credit, 1 refund, 1 EDP discount, 1 spot usage.
 */
export function curSql(rows: number, file: string): string {
  return `COPY (
  SELECT
    md5(CAST(i AS VARCHAR)) AS identity_line_item_id,
    strftime(s, '%Y-%m-%dT%H:%M:%SZ') || '/' || strftime(s + INTERVAL 1 HOUR, '%Y-%m-%dT%H:%M:%SZ') AS identity_time_interval,
    CASE WHEN p % 3 = 0 THEN 'EUINGB26-' || (p % 7) END AS bill_invoice_id,
    'Amazon Web Services, Inc.' AS bill_invoicing_entity, CASE WHEN t = 'Refund' THEN 'Refund' ELSE 'Anniversary' END AS bill_bill_type, 'AWS' AS bill_billing_entity,
    '111122223333' AS bill_payer_account_id, 'Acme payer' AS bill_payer_account_name,
    TIMESTAMP '2026-05-01' AS bill_billing_period_start_date, TIMESTAMP '2026-06-01' AS bill_billing_period_end_date,
    lpad(CAST(100000000000 + p % 40 AS VARCHAR), 12, '0') AS line_item_usage_account_id, 'team-' || (p % 40) AS line_item_usage_account_name,
    t AS line_item_line_item_type, s AS line_item_usage_start_date, s + INTERVAL 1 HOUR AS line_item_usage_end_date,
    product_code AS line_item_product_code,
    CASE WHEN t = 'Usage' AND k = 99 THEN 'USE1-SpotUsage:m5.large' WHEN product_code = 'AmazonS3' THEN 'USE1-TimedStorage-ByteHrs' ELSE 'USE1-BoxUsage:m5.large' END AS line_item_usage_type,
    CASE WHEN product_code = 'AmazonS3' THEN 'StandardStorage' ELSE 'RunInstances' END AS line_item_operation,
    'us-east-1' || ['a', 'b', 'c'][1 + p % 3] AS line_item_availability_zone,
    CASE WHEN t IN ('Tax', 'Credit', 'Refund', 'EdpDiscount', 'SavingsPlanRecurringFee', 'RIFee') THEN NULL
         WHEN product_code = 'AmazonS3' THEN 'acme-bucket-' || (p % 500)
         ELSE 'arn:aws:ec2:us-east-1:111122223333:instance/i-' || lpad(printf('%x', p % 100000), 17, '0') END AS line_item_resource_id,
    CASE WHEN t IN ('Tax', 'Credit', 'Refund', 'EdpDiscount') THEN NULL ELSE 1.0::DOUBLE END AS line_item_usage_amount,
    4.0::DOUBLE AS line_item_normalization_factor, 4.0::DOUBLE AS line_item_normalized_usage_amount,
    'USD' AS line_item_currency_code,
    CASE WHEN t = 'DiscountedUsage' THEN '0.0' ELSE '0.096' END AS line_item_unblended_rate,
    cost AS line_item_unblended_cost,
    '0.096' AS line_item_blended_rate, 0.096::DOUBLE AS line_item_blended_cost,
    CASE WHEN t IN ('Usage', 'SavingsPlanCoveredUsage') THEN '0.0912' END AS line_item_net_unblended_rate,
    CASE WHEN t = 'Usage' THEN round(cost * 0.95, 6) ELSE cost END AS line_item_net_unblended_cost,
    CASE t WHEN 'Tax' THEN 'Tax for product code AmazonEC2' WHEN 'Credit' THEN 'AWS Promotional Credit' WHEN 'EdpDiscount' THEN 'Enterprise discount'
           ELSE '$0.096 per On Demand Linux m5.large Instance Hour' END AS line_item_line_item_description,
    CASE WHEN t = 'Tax' THEN 'VAT' END AS line_item_tax_type,
    'Amazon Web Services, Inc.' AS line_item_legal_entity,
    CASE WHEN t IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') THEN 0.096::DOUBLE END AS pricing_public_on_demand_cost,
    CASE WHEN t IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') THEN '0.096' END AS pricing_public_on_demand_rate,
    CASE WHEN t = 'DiscountedUsage' THEN 'Reserved' ELSE 'OnDemand' END AS pricing_term,
    'Hrs' AS pricing_unit, 'USD' AS pricing_currency,
    'SKU' || (p % 50) || '.JRTCKXETXF.6YS6EN2CT7' AS pricing_rate_code, CAST(1000 + p % 50 AS VARCHAR) AS pricing_rate_id, 'No Upfront' AS pricing_purchase_option,
    MAP {'product_name': product_name, 'instance_type': 'm5.large', 'vcpu': '2', 'memory': '8 GiB'} AS product,
    'US East (N. Virginia)' AS product_location, 'us-east-1' AS product_region_code, product_code AS product_servicecode,
    'SKU' || (p % 50) AS product_sku, CASE WHEN product_code = 'AmazonS3' THEN 'Storage' ELSE 'Compute Instance' END AS product_product_family,
    CASE WHEN t IN ('DiscountedUsage', 'RIFee') THEN 'arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-' || (p % 3) END AS reservation_reservation_a_r_n,
    CASE WHEN t = 'DiscountedUsage' THEN 0.06::DOUBLE END AS reservation_effective_cost,
    CASE WHEN t = 'RIFee' THEN 0.01::DOUBLE END AS reservation_unused_amortized_upfront_fee_for_billing_period,
    CASE WHEN t = 'RIFee' THEN 0.005::DOUBLE END AS reservation_unused_recurring_fee,
    CASE WHEN t = 'RIFee' THEN 0.25::DOUBLE END AS reservation_unused_quantity,
    CASE WHEN t = 'RIFee' THEN 1.0::DOUBLE END AS reservation_total_reserved_units,
    CASE WHEN t IN ('SavingsPlanCoveredUsage', 'SavingsPlanNegation', 'SavingsPlanRecurringFee') THEN 'arn:aws:savingsplans::111122223333:savingsplan/sp-' || (p % 2) END AS savings_plan_savings_plan_a_r_n,
    CASE WHEN t = 'SavingsPlanCoveredUsage' THEN 0.065::DOUBLE END AS savings_plan_savings_plan_effective_cost,
    CASE WHEN t = 'SavingsPlanCoveredUsage' THEN 0.065::DOUBLE END AS savings_plan_net_savings_plan_effective_cost,
    CASE WHEN t = 'SavingsPlanRecurringFee' THEN 0.5::DOUBLE END AS savings_plan_total_commitment_to_date,
    CASE WHEN t = 'SavingsPlanRecurringFee' THEN CASE WHEN p % 2 = 0 THEN 0.5 ELSE 0.42 END::DOUBLE END AS savings_plan_used_commitment,
    CASE WHEN t LIKE 'SavingsPlan%' THEN 'ComputeSavingsPlans' END AS savings_plan_offering_type,
    MAP {'user_team': 'team-' || (p % 40), 'user_env': ['prod', 'dev', 'staging'][1 + p % 3], 'aws_created_by': 'IAMUser:abc'} AS resource_tags,
    MAP {'CostCenter': 'cc-' || (p % 10)} AS cost_category,
    CASE WHEN t = 'Usage' THEN MAP {'edp_discount': round(-cost * 0.05, 6)} ELSE MAP {}::MAP(VARCHAR, DOUBLE) END AS discount
  FROM (
    SELECT i, k, t, p, s, product_code, product_name,
      CASE t WHEN 'DiscountedUsage' THEN 0.0 WHEN 'SavingsPlanNegation' THEN -0.096 WHEN 'SavingsPlanRecurringFee' THEN 0.5 WHEN 'RIFee' THEN 0.06
             WHEN 'Tax' THEN 0.0192 WHEN 'Credit' THEN -0.5 WHEN 'Refund' THEN -0.02 WHEN 'EdpDiscount' THEN -0.0048 ELSE 0.096 END::DOUBLE AS cost
    FROM (
      SELECT i, k, t,
        -- A negation takes the keys (p) of the covered line 12 rows before it.
        CASE WHEN t = 'SavingsPlanNegation' THEN i - 12 ELSE i END AS p,
        TIMESTAMP '2026-05-01' + to_hours(((CASE WHEN t = 'SavingsPlanNegation' THEN i - 12 ELSE i END) // ${Math.max(1, Math.floor(rows / 720))}) % 720) AS s,
        ['AmazonEC2', 'AmazonEC2', 'AmazonS3', 'AmazonRDS', 'AWSLambda'][1 + (CASE WHEN t = 'SavingsPlanNegation' THEN i - 12 ELSE i END) % 5] AS product_code,
        ['Amazon Elastic Compute Cloud', 'Amazon Elastic Compute Cloud', 'Amazon Simple Storage Service', 'Amazon Relational Database Service', 'AWS Lambda'][1 + (CASE WHEN t = 'SavingsPlanNegation' THEN i - 12 ELSE i END) % 5] AS product_name
      FROM (
        SELECT i, i % 100 AS k,
          CASE WHEN i % 100 < 60 THEN 'Usage' WHEN i % 100 < 72 THEN 'SavingsPlanCoveredUsage' WHEN i % 100 < 84 THEN 'SavingsPlanNegation'
               WHEN i % 100 < 86 THEN 'SavingsPlanRecurringFee' WHEN i % 100 < 94 THEN 'DiscountedUsage' WHEN i % 100 = 94 THEN 'RIFee'
               WHEN i % 100 = 95 THEN 'Tax' WHEN i % 100 = 96 THEN 'Credit' WHEN i % 100 = 97 THEN 'Refund' WHEN i % 100 = 98 THEN 'EdpDiscount'
               ELSE 'Usage' END AS t
        FROM range(${rows}) r(i)
      )
    )
  )
) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 122880)`;
}

/** The runs' PIPELINE_SOURCE_ROOT; the export is in its org's folder, `bench/`. */
const sourceRoot = (opts: Options) => join(opts.dir, 'sources');

/** The export, by its path relative to the org's source folder (what source_uri names). */
async function generate(opts: Options): Promise<string> {
  const name = `cur2-double-${opts.rows}.parquet`;
  mkdirSync(join(sourceRoot(opts), 'bench'), { recursive: true });
  const file = join(sourceRoot(opts), 'bench', name);
  if (existsSync(file)) return name;
  const instance = await DuckDBInstance.create(':memory:', { threads: String(opts.threads), memory_limit: opts.memoryLimit });
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  const t = performance.now();
  await connection.run(curSql(opts.rows, `${file}.tmp`));
  connection.closeSync();
  instance.closeSync();
  execFileSync('mv', [`${file}.tmp`, file]);
  console.log(`generated ${file} (${opts.rows.toLocaleString('en')} rows) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return name;
}

/** Child process: the pipeline, requested and followed through the real engine. */
async function pipelinePhase(opts: Options, file: string): Promise<Record<string, unknown>> {
  const { loadSettings } = await import('../src/config/settings.ts');
  const { createApp } = await import('../src/main/app.ts');
  const { silentLogger } = await import('../src/shared/logger.ts');
  const { openDuckDbWarehouse } = await import('../src/warehouse/duckdb/duckdb-warehouse.ts');
  const dataDir = join(opts.dir, 'pipeline-data');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const settings = loadSettings({ PIPELINE_DATA_DIR: dataDir, PIPELINE_CONFIGS_DIR: CONFIGS, PIPELINE_SOURCE_ROOT: sourceRoot(opts), WORKER_CONCURRENCY: '1' });
  const warehouse = await openDuckDbWarehouse({ path: join(dataDir, 'warehouse.duckdb'), configsDir: CONFIGS, threads: opts.threads, memoryLimit: opts.memoryLimit });
  const app = await createApp(settings, { logger: silentLogger(), execute: true, warehouse });
  await app.orgs.create('bench', 'bench', { plan: 'T', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 1 });
  app.worker?.start();
  const started = performance.now();
  const { run_id } = await app.requests.request({ orgSlug: 'bench', route: 'aws/cost/billing', body: { start_date: '2026-05-01', end_date: '2026-05-31', source_uri: file }, trigger: 'api', createdBy: 'bench' });
  let run = await app.runs.get('bench', run_id);
  while (run && !['completed', 'failed', 'cancelled'].includes(run.status)) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    run = await app.runs.get('bench', run_id);
  }
  const seconds = (performance.now() - started) / 1000;
  const steps = Object.fromEntries((await app.runs.steps('bench', run_id)).map((s) => [s.step_id, (s.duration_ms ?? 0) / 1000]));
  const [written] = await warehouse.query('SELECT count(*)::BIGINT AS n FROM bench_dev.cost_data_standard_1_3');
  const failed = (await app.runs.quality('bench', run_id, 'fail')).filter((q) => q.level === 'MUST').map((q) => q.rule_id);
  await app.close();
  await warehouse.close();
  return { status: run?.status, error: run?.error_message, seconds, steps, focus_rows: Number(written?.n ?? 0), must_failures: failed, peak_rss: process.resourceUsage().maxRSS * 1024 };
}

/**
 * Child process: the pipeline's own staging (its load_export step, run by the real processor)
 * and its conversion procedure's statements, through the same warehouse, with the procedure's
 * SELECT inserted into a table of the FOCUS columns and types; no engine, lineage or checks.
 */
async function barePhase(opts: Options, file: string): Promise<Record<string, unknown>> {
  const { parse } = await import('yaml');
  const { resolveTemplates, runVariables } = await import('../src/pipelines/templates.ts');
  const { splitStatements } = await import('../src/warehouse/split-statements.ts');
  const { billingExport } = await import('../src/processors/cloud/billing-export.ts');
  const { NotFoundError } = await import('../src/shared/errors.ts');
  const { runScratch } = await import('../src/sources/scratch.ts');
  const { silentLogger } = await import('../src/shared/logger.ts');
  const { LINEAGE_FIELDS, loadTableSchema } = await import('../src/warehouse/table-schema.ts');
  const { columnDefinitions, openDuckDbWarehouse } = await import('../src/warehouse/duckdb/duckdb-warehouse.ts');
  const dataDir = join(opts.dir, 'bare-data');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const warehouse = await openDuckDbWarehouse({ path: join(dataDir, 'bare.duckdb'), configsDir: CONFIGS, threads: opts.threads, memoryLimit: opts.memoryLimit });
  const [startDate, endDate, runId] = ['2026-05-01', '2026-05-31', 'bench'];
  const variables = runVariables({
    orgSlug: 'bench', env: 'dev', projectId: 'local', runId, pipelineId: 'aws_cost_billing', credentialId: 'default',
    startDate, endDate, requestedOn: endDate, parameters: { source_uri: file, format: 'parquet' },
  });
  const pipeline = parse(readFileSync(join(CONFIGS, 'cloud', 'aws', 'cost', 'billing.yml'), 'utf8')) as { steps: { step_id: string; config: Record<string, unknown> }[] };
  const step = (id: string) => resolveTemplates(pipeline.steps.find((s) => s.step_id === id)?.config ?? {}, variables);
  const context = {
    orgSlug: 'bench', dataset: 'bench_dev', runId, pipelineId: 'aws_cost_billing', stepId: 'load_export', credentialId: 'default', startDate, endDate, variables,
    lineage: { orgSlug: 'bench', pipelineId: 'aws_cost_billing', credentialId: 'default', runId, ingestedAt: new Date() },
    warehouse, configsDir: CONFIGS, procedures: procedureFileTexts(CONFIGS), sourceRoot: sourceRoot(opts), providerBaseUrls: {}, logger: silentLogger(), signal: new AbortController().signal,
    credentials: { get: async () => { throw new NotFoundError('no credential in the benchmark'); } },
    recordQuality: () => undefined,
    scratch: runScratch({ dataDir, orgSlug: 'bench', runId, claim: 1, maxBytes: Number.MAX_SAFE_INTEGER }),
  };
  const started = performance.now();
  await billingExport.run(step('load_export') as Parameters<typeof billingExport.run>[0], context);
  const convert = step('convert_to_focus') as { procedure: string };
  const procedure = splitStatements(resolveTemplates(readFileSync(join(CONFIGS, 'system', 'procedures', `${convert.procedure}.duckdb.sql`), 'utf8'), variables));
  // The FOCUS table's own columns and types (its money, prices and quantities are DECIMAL, not
  // the DOUBLEs a CREATE TABLE AS would keep), without the lineage columns the pipeline adds.
  const table = await loadTableSchema(CONFIGS, 'focus/cost_data_standard_1_3');
  const fields = table.fields.filter((field) => !LINEAGE_FIELDS.some((lineage) => lineage.name === field.name));
  await warehouse.runScript(
    [...procedure.slice(0, -1), `CREATE TABLE bench_dev.focus (${columnDefinitions(fields).join(', ')})`, `INSERT INTO bench_dev.focus BY NAME ${procedure.at(-1) as string}`].map((sql) => ({ sql, params: variables })),
  );
  const seconds = (performance.now() - started) / 1000;
  const [count] = await warehouse.query('SELECT count(*)::BIGINT AS n FROM bench_dev.focus');
  await warehouse.close();
  return { seconds, focus_rows: Number(count?.n ?? 0), peak_rss: process.resourceUsage().maxRSS * 1024 };
}

function child(phase: string, opts: Options, file: string): Record<string, unknown> {
  const args = [fileURLToPath(import.meta.url), String(opts.rows), '--phase', phase, '--file', file, '--dir', opts.dir, '--memory-limit', opts.memoryLimit, '--threads', String(opts.threads)];
  const output = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  return JSON.parse(output.trim().split('\n').at(-1) as string) as Record<string, unknown>;
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  if (opts.phase && opts.file) {
    const result = opts.phase === 'pipeline' ? await pipelinePhase(opts, opts.file) : await barePhase(opts, opts.file);
    console.log(JSON.stringify(result));
    return;
  }
  const file = await generate(opts);
  const bare = child('bare', opts, file);
  const pipeline = child('pipeline', opts, file);
  const mib = (bytes: unknown) => `${(Number(bytes) / 2 ** 20).toFixed(0)} MiB`;
  const e2e = Number(pipeline.seconds);
  console.log(`export: ${opts.rows.toLocaleString('en')} CUR 2.0 rows (${file}); DuckDB threads ${opts.threads}, memory_limit ${opts.memoryLimit}`);
  console.log(`pipeline end to end (run requested -> completed, checks included): ${e2e.toFixed(2)} s, status ${String(pipeline.status)}${pipeline.error ? ` (${String(pipeline.error)})` : ''}`);
  console.log(`  steps: ${Object.entries(pipeline.steps as Record<string, number>).map(([step, s]) => `${step} ${s.toFixed(2)} s`).join(', ')}; FOCUS rows ${Number(pipeline.focus_rows).toLocaleString('en')}; MUST failures: ${(pipeline.must_failures as string[]).join(', ') || 'none'}`);
  console.log(`bare conversion SQL (same view, same SELECT into a table of the FOCUS columns and types): ${Number(bare.seconds).toFixed(2)} s, ${Number(bare.focus_rows).toLocaleString('en')} rows`);
  console.log(`ratio end to end / bare: ${(e2e / Number(bare.seconds)).toFixed(2)}x (target <= 1.5x)`);
  console.log(`throughput: ${Math.round(opts.rows / e2e).toLocaleString('en')} export rows/s end to end (target >= 400,000)`);
  console.log(`peak RSS: pipeline process ${mib(pipeline.peak_rss)} (target < 2 GiB), bare process ${mib(bare.peak_rss)}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
