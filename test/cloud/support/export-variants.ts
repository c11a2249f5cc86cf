/**
 * Realistic variants of the shared sample exports, one contract per provider, for tests: the
 * shapes real exports take that the samples do not show. Each variant rewrites a sample from
 * ../shared (never copied into the repository) with DuckDB, or a small writer for what COPY
 * cannot write (a BOM, CRLF), into a folder of the org's source folder.
 *
 *   blanks          Parquet whose absent values are "" (CUR 2.0 writes "" in
 *                   savings_plan_savings_plan_a_r_n and reservation_reservation_a_r_n), every
 *                   column text, with the provider's "" columns added when the sample lacks them
 *   bom-crlf        CSV with a UTF-8 BOM, CRLF line ends, every field quoted and a newline
 *                   inside a description
 *   extra-missing   unknown columns added, optional columns dropped
 *   zoned           timestamps with `Z`, with a +02:00 offset (same instant) and without zone, mixed
 *   quantities      quantities x 1e-6 and x 1e6 on alternate rows, costs unchanged
 *   multi-currency  half the rows in another billing currency, priced in US dollars where the
 *                   contract has a pricing currency and an exchange rate
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { REPO } from '../../support/test-app.ts';

export const VARIANTS = ['blanks', 'bom-crlf', 'extra-missing', 'zoned', 'quantities', 'multi-currency'] as const;
export type Variant = (typeof VARIANTS)[number];

const SHARED = join(REPO, '..', 'shared');

export interface ProviderSample {
  name: string;
  route: string;
  /** A file of ../shared. */
  file: string;
  start: string;
  end: string;
  /** Native timestamp columns. */
  times: string[];
  /** Native quantity columns (scaled together). */
  quantities: string[];
  /** A free-text column that gets a quoted newline. */
  text: string;
  /** Optional columns the extra-missing variant drops. */
  optional: string[];
  /** Columns the blanks variant adds as "" when the sample lacks them. */
  blankColumns: string[];
  /** SQL over the sample's text columns: the export's own BilledCost total (the provider's definition). */
  billedTotal: string;
  /** Column assignments (SQL over the row; `odd` is true on every other row) of the multi-currency variant. */
  currency: Record<string, string>;
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const num = (column: string) => `coalesce(TRY_CAST(${q(column)} AS DOUBLE), 0)`;

export const PROVIDER_SAMPLES: ProviderSample[] = [
  {
    name: 'aws',
    route: 'aws/cost/billing',
    file: join(SHARED, 'providers/cloud/samples/aws/koku__test_cur.csv'),
    start: '2018-06-01',
    end: '2018-06-30',
    times: ['lineItem/UsageStartDate', 'lineItem/UsageEndDate', 'bill/BillingPeriodStartDate', 'bill/BillingPeriodEndDate'],
    quantities: ['lineItem/UsageAmount'],
    text: 'lineItem/LineItemDescription',
    optional: ['lineItem/NormalizationFactor', 'lineItem/NormalizedUsageAmount', 'lineItem/BlendedCost', 'product/location', 'pricing/term'],
    blankColumns: ['savingsPlan/SavingsPlanARN', 'reservation/ReservationARN', 'pricing/currency', 'lineItem/NetUnblendedCost'],
    billedTotal: `sum(${num('lineItem/UnblendedCost')})`,
    currency: { 'lineItem/CurrencyCode': "CASE WHEN odd THEN 'EUR' ELSE \"lineItem/CurrencyCode\" END", 'pricing/currency': "'USD'" },
  },
  {
    name: 'gcp',
    route: 'gcp/cost/billing',
    file: join(SHARED, 'providers/cloud/samples/gcp/koku__gcp_202011_credits.csv'),
    start: '2020-11-01',
    end: '2020-11-30',
    times: ['usage_start_time', 'usage_end_time', 'export_time'],
    quantities: ['usage.amount', 'usage.amount_in_pricing_units'],
    text: 'sku.description',
    optional: ['project.ancestry_numbers', 'system_labels', 'location.country', 'partition_date'],
    blankColumns: ['adjustment_info.id', 'transaction_type', 'seller_name'],
    // cost plus the credits (a Python-literal list in BigQuery CSV extracts)
    billedTotal: `sum(${num('cost')} + coalesce(list_sum(list_transform(regexp_extract_all(coalesce(credits, ''), '''amount'': (-?[0-9.eE+-]+)', 1), x -> CAST(x AS DOUBLE))), 0))`,
    currency: { currency: "CASE WHEN odd THEN 'EUR' ELSE currency END", currency_conversion_rate: "CASE WHEN odd THEN '0.92' ELSE currency_conversion_rate END" },
  },
  {
    name: 'azure',
    route: 'azure/cost/billing',
    file: join(SHARED, 'providers/cloud/samples/azure/focus_converters__sample-anonymous-ea-export-dataset.csv'),
    start: '2023-09-01',
    end: '2023-09-30',
    times: ['Date', 'BillingPeriodStartDate', 'BillingPeriodEndDate'],
    quantities: ['Quantity'],
    text: 'ProductName',
    optional: ['CostCenter', 'ServiceInfo1', 'ServiceInfo2', 'AdditionalInfo', 'PlanName', 'CostAllocationRuleName'],
    blankColumns: ['ResourceName', 'benefitId', 'benefitName', 'ReservationId'],
    billedTotal: `sum(${num('CostInBillingCurrency')})`,
    currency: {
      BillingCurrencyCode: "CASE WHEN odd THEN 'EUR' ELSE BillingCurrencyCode END",
      PricingCurrency: "'USD'",
      ExchangeRatePricingToBilling: "CASE WHEN odd THEN '0.92' ELSE '1.35' END",
    },
  },
  {
    name: 'oci',
    route: 'oci/cost/billing',
    file: join(SHARED, 'providers/cloud/samples/oci/koku__oci_reports_cost-csv_0001000000603747.csv'),
    start: '2022-04-01',
    end: '2022-04-30',
    times: ['lineItem/intervalUsageStart', 'lineItem/intervalUsageEnd'],
    quantities: ['usage/billedQuantity'],
    text: 'product/Description',
    optional: ['product/compartmentName', 'cost/billingUnitReadable', 'cost/overageFlag', 'lineItem/backreferenceNo'],
    blankColumns: ['product/availabilityDomain', 'product/resourceId'],
    billedTotal: `sum(${num('cost/myCost')})`,
    // OCI bills a subscription in one currency: the other currency goes with another subscription.
    currency: { 'cost/currencyCode': "CASE WHEN odd THEN 'EUR' ELSE \"cost/currencyCode\" END", 'cost/subscriptionId': "CASE WHEN odd THEN 'sub-eur' ELSE \"cost/subscriptionId\" END" },
  },
  {
    name: 'focus',
    route: 'aws/cost/billing',
    file: join(SHARED, 'focus/samples/synthetic_focus-1.3_costandusage_aws_100rows.csv'),
    start: '2026-05-01',
    end: '2026-05-31',
    times: ['ChargePeriodStart', 'ChargePeriodEnd', 'BillingPeriodStart', 'BillingPeriodEnd'],
    quantities: ['PricingQuantity', 'ConsumedQuantity'],
    text: 'ChargeDescription',
    optional: ['InvoiceId', 'AvailabilityZone', 'SkuMeter', 'CapacityReservationId', 'CapacityReservationStatus', 'AllocatedMethodId', 'AllocatedMethodDetails', 'AllocatedResourceId', 'AllocatedResourceName', 'AllocatedTags'],
    blankColumns: ['CommitmentDiscountId', 'CommitmentDiscountStatus'],
    billedTotal: `sum(${num('BilledCost')})`,
    currency: {
      BillingCurrency: "CASE WHEN odd THEN 'EUR' ELSE BillingCurrency END",
      // FOCUS 1.3 exports carry pricing-currency amounts: a EUR row priced in EUR says so.
      PricingCurrency: "CASE WHEN odd THEN 'EUR' ELSE PricingCurrency END",
    },
  },
];

export interface WrittenVariant {
  file: string;
  /** The export's own BilledCost total, by the provider's definition, from the rows written. */
  billedTotal: number;
}

/** Writes `variant` of `sample` into `dir` (a folder of the org's source folder). */
export async function writeVariant(sample: ProviderSample, variant: Variant, dir: string): Promise<WrittenVariant> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    await c.run("SET TimeZone = 'UTC'");
    await c.run(`CREATE TABLE base AS SELECT * FROM read_csv('${sample.file}', header = true, all_varchar = true, null_padding = true, nullstr = ['', 'NULL'])`);
    const columns = (await rows(c, 'DESCRIBE base')).map((r) => String(r.column_name));
    await c.run(`CREATE TABLE v AS ${variantSelect(sample, variant, columns)}`);
    const [total] = await rows(c, `SELECT ${sample.billedTotal} AS t FROM v`);
    const base = join(dir, `${sample.name}-${variant}`);
    let file: string;
    if (variant === 'blanks') {
      file = `${base}.parquet`;
      await c.run(`COPY v TO '${file}' (FORMAT parquet)`);
    } else if (variant === 'bom-crlf') {
      file = `${base}.csv`;
      await writeFile(file, await bomCrlfCsv(c));
    } else {
      file = `${base}.csv`;
      await c.run(`COPY v TO '${file}' (FORMAT csv, HEADER)`);
    }
    return { file, billedTotal: Number(total?.t ?? 0) };
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

function variantSelect(sample: ProviderSample, variant: Variant, columns: string[]): string {
  const has = (name: string) => columns.some((c) => c.toLowerCase() === name.toLowerCase());
  const numbered = `(SELECT *, row_number() OVER () % 2 = 1 AS odd FROM base)`;
  switch (variant) {
    case 'blanks': {
      const texts = columns.map((col) => `coalesce(${q(col)}, '') AS ${q(col)}`);
      const added = sample.blankColumns.filter((col) => !has(col)).map((col) => `'' AS ${q(col)}`);
      return `SELECT ${[...texts, ...added].join(', ')} FROM base`;
    }
    case 'bom-crlf':
      return `SELECT * REPLACE (CASE WHEN ${q(sample.text)} IS NOT NULL THEN ${q(sample.text)} || chr(10) || 'second line, "quoted"' END AS ${q(sample.text)}) FROM base`;
    case 'extra-missing': {
      const drop = sample.optional.filter(has);
      return `SELECT * ${drop.length ? `EXCLUDE (${drop.map(q).join(', ')})` : ''}, 'from a newer export version' AS "Some New Column", '42' AS "x_vendor/metric.count" FROM base`;
    }
    case 'zoned': {
      // The instant as parsed (ISO with or without zone or seconds, as OCI's `2022-04-14T13:00Z`; Azure's M/D/YYYY), written three ways.
      const instant = (col: string) =>
        `coalesce(TRY_CAST(regexp_replace(${q(col)}, '^(\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2})(Z|[+-]\\d{2}:?\\d{2})?$', '\\1:00\\2') AS TIMESTAMPTZ), TRY_CAST(${q(col)} AS TIMESTAMPTZ), CAST(try_strptime(${q(col)}, '%m/%d/%Y') AS TIMESTAMPTZ))`;
      const replaced = sample.times.filter(has).map((col) =>
        `CASE WHEN ${q(col)} IS NULL THEN NULL WHEN n % 3 = 0 THEN strftime(${instant(col)}, '%Y-%m-%dT%H:%M:%SZ')
              WHEN n % 3 = 1 THEN strftime(${instant(col)} + INTERVAL 2 HOUR, '%Y-%m-%dT%H:%M:%S') || '+02:00'
              ELSE strftime(${instant(col)}, '%Y-%m-%d %H:%M:%S') END AS ${q(col)}`);
      return `SELECT * EXCLUDE (n) REPLACE (${replaced.join(', ')}) FROM (SELECT *, row_number() OVER () AS n FROM base)`;
    }
    case 'quantities': {
      const replaced = sample.quantities.filter(has).map((col) => `CAST(TRY_CAST(${q(col)} AS DOUBLE) * CASE WHEN odd THEN 1e-6 ELSE 1e6 END AS VARCHAR) AS ${q(col)}`);
      return `SELECT * EXCLUDE (odd) REPLACE (${replaced.join(', ')}) FROM ${numbered}`;
    }
    case 'multi-currency': {
      const assigned = Object.entries(sample.currency);
      const replaced = assigned.filter(([col]) => has(col)).map(([col, sql]) => `${sql} AS ${q(col)}`);
      const added = assigned.filter(([col]) => !has(col)).map(([col, sql]) => `${sql} AS ${q(col)}`);
      return `SELECT * EXCLUDE (odd) ${replaced.length ? `REPLACE (${replaced.join(', ')})` : ''} ${added.length ? `, ${added.join(', ')}` : ''} FROM ${numbered}`;
    }
  }
}

/** What COPY cannot write: a byte-order mark, CRLF line ends, every field quoted (nulls empty and unquoted). */
async function bomCrlfCsv(c: DuckDBConnection): Promise<string> {
  const reader = await c.runAndReadAll('SELECT * FROM v');
  const names = reader.columnNames();
  const field = (value: unknown) => (value === null || value === undefined ? '' : `"${String(value).replace(/"/g, '""')}"`);
  const lines = [names.map(field).join(','), ...reader.getRows().map((row) => row.map(field).join(','))];
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

async function rows(c: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await c.runAndReadAll(sql)).getRowObjects() as Record<string, unknown>[];
}
