/**
 * Test and benchmark fixtures: an in-memory DuckDB, the FOCUS table created from our schema
 * file the way the warehouse creates it (schema columns, then the lineage columns), and four
 * hand-made rows that satisfy every MUST rule.
 */
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import type { SqlRunner } from '../../src/focus/check-focus-table.ts';
import { duckDbSqlRunner } from '../../src/focus/duckdb-sql-runner.ts';
import type { FieldType } from '../../src/warehouse/table-schema.ts';
import { DUCKDB_TYPES } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';

export const REPO = new URL('../../', import.meta.url);
export const SHARED_FOCUS = new URL('../shared/focus/', REPO);
export const SAMPLES = new URL('samples/', SHARED_FOCUS);

const LINEAGE = 'x_org_slug VARCHAR, x_pipeline_id VARCHAR, x_credential_id VARCHAR, x_pipeline_run_date DATE, x_run_id VARCHAR, x_ingested_at TIMESTAMPTZ, x_ingestion_date DATE';

export interface Db {
  sql: SqlRunner;
  close(): void;
}

export async function openDb(): Promise<Db> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  return {
    sql: duckDbSqlRunner(conn),
    close: () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** No NOT NULL constraints: tests seed nulls that the checker, not the table, must report. */
export function focusTableDdl(name: string): string {
  const schema = JSON.parse(readFileSync(new URL('configs/schemas/focus/cost_data_standard_1_3.json', REPO), 'utf8')) as {
    fields: { name: string; type: FieldType }[];
  };
  const columns = schema.fields.map((f) => `"${f.name}" ${DUCKDB_TYPES[f.type]}`);
  return `CREATE TABLE ${name} (${columns.join(', ')}, ${LINEAGE})`;
}

// Shared by every valid row; each row below overrides what differs.
const COMMON: Record<string, string> = {
  BillingAccountId: "'111122223333'",
  BillingAccountName: "'Acme Payer'",
  BillingAccountType: "'Payer Account'",
  BillingCurrency: "'USD'",
  BillingPeriodStart: "TIMESTAMPTZ '2026-05-01 00:00:00+00'",
  BillingPeriodEnd: "TIMESTAMPTZ '2026-06-01 00:00:00+00'",
  ChargePeriodStart: "TIMESTAMPTZ '2026-05-10 00:00:00+00'",
  ChargePeriodEnd: "TIMESTAMPTZ '2026-05-11 00:00:00+00'",
  HostProviderName: "'AWS'",
  ServiceProviderName: "'AWS'",
  InvoiceIssuerName: "'AWS'",
  InvoiceId: "'INV-1'",
  ProviderName: "'AWS'",
  PublisherName: "'AWS'",
  ServiceName: "'Amazon EC2'",
  ServiceCategory: "'Compute'",
  ServiceSubcategory: "'Virtual Machines'",
  SubAccountId: "'444455556666'",
  SubAccountName: "'prod'",
  SubAccountType: "'Linked Account'",
  RegionId: "'us-east-1'",
  RegionName: "'US East (N. Virginia)'",
  PricingCurrency: "'USD'",
  Tags: `'{"env": "prod"}'`,
  // Names no profile of rules-1.3.yml: the rows carry ContractApplied and Allocated* columns,
  // which no converter of ours writes, so applicability is inferred from the columns present
  // and every content rule runs on them.
  x_SourceSystem: "'fixture'",
  x_CostSource: "'provider_reported'",
  x_org_slug: "'acme'",
  x_run_id: "'run-1'",
};

const PRICED: Record<string, string> = {
  SkuId: "'sku-m6i'",
  SkuPriceId: "'price-m6i'",
  SkuMeter: "'BoxUsage'",
  SkuPriceDetails: `'{"InstanceType": "m6i.large"}'`,
  PricingCategory: "'Standard'",
  PricingUnit: "'Hours'",
  PricingQuantity: '24',
  ListUnitPrice: '0.1',
  ContractedUnitPrice: '0.09',
  PricingCurrencyListUnitPrice: '0.1',
  PricingCurrencyContractedUnitPrice: '0.09',
  ListCost: '2.4',
  ContractedCost: '2.16',
};

export const VALID_ROWS: Record<string, string>[] = [
  {
    ...COMMON, ...PRICED, x_SourceRecordId: "'usage-1'", ChargeCategory: "'Usage'", ChargeFrequency: "'Usage-Based'",
    ChargeDescription: "'m6i.large on demand'", BilledCost: '2.16', EffectiveCost: '2.16', PricingCurrencyEffectiveCost: '2.16',
    ConsumedQuantity: '24', ConsumedUnit: "'Hours'", AvailabilityZone: "'us-east-1a'",
    ResourceId: "'i-0abc'", ResourceName: "'web-1'", ResourceType: "'Instance'",
    ContractApplied: `'{"Elements": [{"ContractId": "C-1", "ContractCommitmentId": "CC-1", "ContractCommitmentAppliedCost": 2.16, "ContractCommitmentAppliedQuantity": null, "ContractCommitmentAppliedUnit": null, "x_Note": "ok"}]}'`,
  },
  {
    ...COMMON, x_SourceRecordId: "'tax-1'", ChargeCategory: "'Tax'", ChargeFrequency: "'One-Time'", ChargeDescription: "'Sales tax'",
    BilledCost: '0.2', EffectiveCost: '0.2', ListCost: '0.2', ContractedCost: '0.2', PricingCurrencyEffectiveCost: '0.2',
  },
  {
    ...COMMON, ...PRICED, x_SourceRecordId: "'purchase-1'", ChargeCategory: "'Purchase'", ChargeFrequency: "'Recurring'",
    ChargeDescription: "'Savings plan fee'", SkuPriceId: "'price-sp'", SkuId: "'sku-sp'", PricingCategory: "'Committed'",
    PricingUnit: "'USD'", PricingQuantity: '1', ListUnitPrice: '10', ContractedUnitPrice: '10', PricingCurrencyListUnitPrice: '10',
    PricingCurrencyContractedUnitPrice: '10', ListCost: '10', ContractedCost: '10', BilledCost: '10', EffectiveCost: '0', PricingCurrencyEffectiveCost: '0',
    CommitmentDiscountId: "'sp-1'", CommitmentDiscountName: "'Compute SP'", CommitmentDiscountCategory: "'Spend'",
    CommitmentDiscountType: "'Savings Plan'", CommitmentDiscountQuantity: '10', CommitmentDiscountUnit: "'USD'",
    ResourceId: "'sp-1'", ResourceName: "'Compute SP'", ResourceType: "'Savings Plan'",
  },
  {
    ...COMMON, ...PRICED, x_SourceRecordId: "'usage-2'", ChargeCategory: "'Usage'", ChargeFrequency: "'Usage-Based'",
    ChargeDescription: "'m6i.large covered'", PricingCategory: "'Committed'", BilledCost: '0', EffectiveCost: '2.0',
    PricingCurrencyEffectiveCost: '2.0', ConsumedQuantity: '24', ConsumedUnit: "'Hours'",
    CommitmentDiscountId: "'sp-1'", CommitmentDiscountName: "'Compute SP'", CommitmentDiscountCategory: "'Spend'",
    CommitmentDiscountType: "'Savings Plan'", CommitmentDiscountStatus: "'Used'", CommitmentDiscountQuantity: '2.0', CommitmentDiscountUnit: "'USD'",
    ResourceId: "'i-0def'", ResourceName: "'web-2'", ResourceType: "'Instance'",
    AllocatedMethodId: "'even-split'", AllocatedResourceId: "'pod-1'", AllocatedResourceName: "'api'", AllocatedTags: `'{"team": "api"}'`,
    AllocatedMethodDetails: `'{"Elements": [{"AllocatedRatio": 1, "UsageUnit": "Hours", "UsageQuantity": 24}]}'`,
  },
];

/** Creates `name` with the valid rows; returns it for chaining in tests. */
export async function createValidFocusTable(sql: SqlRunner, name: string): Promise<string> {
  await sql.all(focusTableDdl(name));
  for (const row of VALID_ROWS) {
    await sql.all(`INSERT INTO ${name} BY NAME SELECT ${Object.entries(row).map(([k, v]) => `${v} AS "${k}"`).join(', ')}`);
  }
  return name;
}

/** A copy with every value as FOCUS text, like a CSV read with all_varchar. */
export async function createTextCopy(sql: SqlRunner, from: string, name: string): Promise<string> {
  const described = await sql.all(`DESCRIBE ${from}`);
  const cols = described.map((r) => {
    const c = `"${String(r.column_name)}"`;
    return String(r.column_type).startsWith('TIMESTAMP') ? `strftime(${c}, '%Y-%m-%dT%H:%M:%SZ') AS ${c}` : `CAST(${c} AS VARCHAR) AS ${c}`;
  });
  await sql.all(`CREATE TABLE ${name} AS SELECT ${cols.join(', ')} FROM ${from}`);
  return name;
}
