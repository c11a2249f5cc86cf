/**
 * Azure: the amortized and actual exports merged the toolkit's way. GCP: a BigQuery JSON export
 * (nested records) with a committed-use discount, credits and a correction, and the same data as
 * Parquet. Files written by DuckDB from the SQL below.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { duckdb, openCloudHarness, qualityOf, type CloudHarness } from './cloud-fixture.ts';

const RESERVATION = '/providers/Microsoft.Capacity/reservationOrders/ro-1/reservations/r-1';
const AZURE_COLUMNS = ['Date', 'BillingAccountId', 'BillingAccountName', 'BillingProfileId', 'BillingPeriodStartDate', 'BillingPeriodEndDate', 'SubscriptionId', 'SubscriptionName', 'ResourceId', 'ResourceLocation', 'ConsumedService', 'MeterCategory', 'MeterName', 'MeterId', 'ProductName', 'PartNumber', 'Quantity', 'UnitOfMeasure', 'UnitPrice', 'PayGPrice', 'EffectivePrice', 'CostInBillingCurrency', 'BillingCurrencyCode', 'ChargeType', 'Frequency', 'PricingModel', 'benefitId', 'benefitName', 'Tags'];
const VM = '/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1';
/** [label, Quantity, UnitPrice, Cost, ChargeType, Frequency, PricingModel, commitment?] */
const azureLine = (label: string, quantity: number, price: number, cost: number, chargeType: string, frequency: string, model: string, commitment = false) =>
  ['05/03/2026', 'ea-1', 'Acme EA', 'ea-1', '05/01/2026', '05/31/2026', 's-1', 'prod', chargeType === 'Purchase' ? '' : VM, 'EastUS', 'Microsoft.Compute', 'Virtual Machines', label, `m-${label}`, `Virtual Machines ${label}`, `P-${label}`,
    String(quantity), '1 Hour', String(price), String(price), String(price), String(cost), 'USD', chargeType, frequency, model, commitment ? RESERVATION : '', commitment ? 'vm-reservation' : '', '"team": "core"'];

const writeCsv = async (file: string, lines: string[][]) => {
  const values = lines.map((line) => `(${line.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ')})`).join(', ');
  await duckdb(`COPY (SELECT * FROM (VALUES ${values}) t(${AZURE_COLUMNS.map((c) => `"${c}"`).join(', ')})) TO '${file}' (FORMAT csv, HEADER)`);
};

describe('Azure amortized + actual exports', () => {
  let h: CloudHarness;
  let dir: string;
  before(async () => {
    h = await openCloudHarness('azure_org');
    dir = await h.folder('azure');
    // Amortized: on-demand 10, reservation-covered usage at its amortized 6, 2 of the reservation unused, tax 1.
    await writeCsv(join(dir, 'amortized.csv'), [
      azureLine('ondemand', 5, 2, 10, 'Usage', 'UsageBased', 'OnDemand'),
      azureLine('covered', 3, 2, 6, 'Usage', 'UsageBased', 'Reservation', true),
      azureLine('unused', 1, 2, 2, 'UnusedReservation', 'UsageBased', 'Reservation', true),
      azureLine('tax', 1, 1, 1, 'Tax', 'OneTime', 'OnDemand'),
    ]);
    // Actual: the same on-demand and tax, covered usage at 0, and the reservation purchase of 8.
    const actual = [
      azureLine('ondemand', 5, 2, 10, 'Usage', 'UsageBased', 'OnDemand'),
      azureLine('covered', 3, 0, 0, 'Usage', 'UsageBased', 'Reservation', true),
      azureLine('purchase', 1, 8, 8, 'Purchase', 'Recurring', 'Reservation', true),
      azureLine('tax', 1, 1, 1, 'Tax', 'OneTime', 'OnDemand'),
    ];
    await writeCsv(join(dir, 'actual.csv'), actual);
    await writeCsv(join(dir, 'actual-wrong.csv'), actual.map((line) => (line[12] === 'ondemand' ? azureLine('ondemand', 5, 2, 11, 'Usage', 'UsageBased', 'OnDemand') : line)));
  });
  after(() => h.close());

  test('every amortized row plus the actual commitment purchase: BilledCost is the invoice, EffectiveCost the amortized total', async () => {
    const run = await h.run('azure/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-31', source_uri: 'azure/amortized.csv', actual_source_uri: 'azure/actual.csv' });
    assert.equal(run.status, 'completed', run.error ?? '');
    const rows = await h.focusRows(run.runId, 'SkuMeter');
    const by = (meter: string) => rows.find((r) => r.SkuMeter === meter || r.ChargeDescription === `Virtual Machines ${meter}`) as Record<string, unknown>;
    assert.equal(rows.length, 5);
    assert.deepEqual([by('covered').BilledCost, by('covered').EffectiveCost, by('covered').CommitmentDiscountStatus, by('covered').PricingCategory, by('covered').CommitmentDiscountCategory], ['0.000000000', '6.000000000', 'Used', 'Committed', 'Usage']);
    assert.deepEqual([by('unused').ChargeCategory, by('unused').BilledCost, by('unused').EffectiveCost, by('unused').CommitmentDiscountStatus, by('unused').ConsumedQuantity], ['Usage', '0.000000000', '2.000000000', 'Unused', null]);
    assert.deepEqual([by('purchase').ChargeCategory, by('purchase').ChargeFrequency, by('purchase').BilledCost, by('purchase').EffectiveCost, by('purchase').CommitmentDiscountType, by('purchase').PricingCategory], ['Purchase', 'Recurring', '8.000000000', '0.000000000', 'Reservation', 'Standard']);
    assert.deepEqual([by('tax').ChargeCategory, by('tax').SkuId, by('tax').BilledCost], ['Tax', null, '1.000000000']);
    assert.deepEqual([by('ondemand').ServiceName, by('ondemand').ServiceCategory, by('ondemand').ResourceType, by('ondemand').RegionId, by('ondemand').RegionName], ['Virtual Machines', 'Compute', 'Virtual machine', 'eastus', 'East US']);
    assert.deepEqual(JSON.parse(String(by('ondemand').Tags)), { team: 'core' });
    const { byRule, failedMust } = await qualityOf(h, run.runId);
    assert.deepEqual(failedMust.map((r) => r.rule_id), []);
    assert.deepEqual([byRule.get('RECONCILE-BilledCost')?.details?.source_total, byRule.get('RECONCILE-EffectiveCost')?.details?.source_total], ['19.000000000', '19.000000000']);
    assert.equal(byRule.get('RECONCILE-BilledCost-2026-05-01')?.status, 'pass');
  });

  test('exports that disagree fail the conversion naming both totals, and nothing is written', async () => {
    const run = await h.run('azure/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-31', source_uri: 'azure/amortized.csv', actual_source_uri: 'azure/actual-wrong.csv' });
    assert.equal(run.status, 'failed');
    assert.equal(run.error, 'generic.procedure_executor: reconciliation failed: BilledCost total 19.000000000 in the FOCUS rows differs from the source total 20.000000000');
    assert.equal((await h.focusRows(run.runId)).length, 0);
  });

  test('the amortized export alone: every row, BilledCost without the purchase it does not carry', async () => {
    const run = await h.run('azure/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-31', source_uri: 'azure/amortized.csv' });
    assert.equal(run.status, 'completed', run.error ?? '');
    const { byRule } = await qualityOf(h, run.runId);
    assert.deepEqual([byRule.get('RECONCILE-BilledCost')?.details?.focus_total, byRule.get('RECONCILE-EffectiveCost')?.details?.focus_total], ['11.000000000', '19.000000000']);
  });
});

/** One GCP detailed-export row as BigQuery's JSON export writes it (nested records, UTC text times). */
const gcpRow = (over: Record<string, unknown>) => ({
  billing_account_id: '01A2B3-C4D5E6-F7A8B9',
  service: { id: '6F81-5844-456A', description: 'Compute Engine' },
  sku: { id: 'CP-1', description: 'N2 Instance Core running in Americas' },
  usage_start_time: '2026-05-03 10:00:00 UTC',
  usage_end_time: '2026-05-03 11:00:00 UTC',
  project: { id: 'shop-prod', name: 'Shop', labels: [{ key: 'env', value: 'prod' }, { key: 'team', value: 'web' }] },
  labels: [{ key: 'team', value: 'checkout' }],
  location: { location: 'us-central1', country: 'US', region: 'us-central1', zone: 'us-central1-a' },
  cost: 0,
  currency: 'USD',
  usage: { amount: 3600, unit: 'seconds', amount_in_pricing_units: 1, pricing_unit: 'hour' },
  credits: [],
  invoice: { month: '202605' },
  cost_type: 'regular',
  resource: { name: 'vm-1', global_name: '//compute.googleapis.com/projects/shop-prod/zones/us-central1-a/instances/vm-1' },
  ...over,
});
const GCP_ROWS = [
  gcpRow({ sku: { id: 'CUD-1', description: 'Commitment v1: Cpu in Americas for 1 Year' }, cost: 1, subscription: { instance_id: 'cud-1' }, resource: null, labels: [], usage: { amount: 1, unit: 'hour', amount_in_pricing_units: 1, pricing_unit: 'hour' } }),
  gcpRow({ cost: 0.75, credits: [{ name: 'Committed use discount: CPU', amount: -0.75, full_name: 'CUD cpu', id: 'cud-1', type: 'COMMITTED_USAGE_DISCOUNT' }] }),
  gcpRow({ sku: { id: 'CP-2', description: 'N2 Instance Ram running in Americas' }, cost: 0.4, credits: [{ name: 'Free tier', amount: -0.1, full_name: null, id: 'ft', type: 'FREE_TIER' }] }),
  gcpRow({ sku: { id: 'TAX', description: 'Tax' }, cost: 0.2, cost_type: 'tax', resource: null, usage: null, labels: [] }),
  gcpRow({ sku: { id: 'ADJ', description: 'Billing adjustment' }, cost: -0.05, cost_type: 'adjustment', resource: null, adjustment_info: { id: 'adj-1', description: 'Refund for outage', mode: 'MANUAL_ADJUSTMENT', type: 'GENERAL_ADJUSTMENT' } }),
];

describe('GCP BigQuery export (JSON lines and Parquet, nested)', () => {
  let h: CloudHarness;
  let dir: string;
  before(async () => {
    h = await openCloudHarness('gcp_org');
    dir = await h.folder('gcp');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'billing.jsonl'), GCP_ROWS.map((row) => JSON.stringify(row)).join('\n') + '\n');
    await duckdb(`COPY (SELECT * FROM read_json('${join(dir, 'billing.jsonl')}', format = 'newline_delimited')) TO '${join(dir, 'billing.parquet')}' (FORMAT parquet)`);
  });
  after(() => h.close());

  for (const file of ['billing.jsonl', 'billing.parquet']) {
    test(`${file}: committed use gives used and unused rows, credits net into BilledCost, a correction stays one`, async () => {
      const run = await h.run('gcp/cost/billing', { start_date: '2026-05-03', end_date: '2026-05-03', source_uri: `gcp/${file}` });
      assert.equal(run.status, 'completed', run.error ?? '');
      const rows = await h.focusRows(run.runId);
      const by = (sku: string, status: string | null = null) => rows.find((r) => r.SkuId === sku && r.CommitmentDiscountStatus === status) ?? rows.find((r) => r.ChargeDescription === sku);
      const fee = rows.find((r) => r.ChargeCategory === 'Purchase') as Record<string, unknown>;
      assert.deepEqual([fee.ChargeFrequency, fee.BilledCost, fee.EffectiveCost, fee.CommitmentDiscountId, fee.PricingCategory], ['Recurring', '1.000000000', '0.000000000', 'cud-1', 'Standard']);
      const used = by('CP-1', 'Used') as Record<string, unknown>;
      assert.deepEqual([used.BilledCost, used.EffectiveCost, used.PricingCategory, used.CommitmentDiscountName, used.CommitmentDiscountCategory], ['0.000000000', '0.750000000', 'Committed', 'CUD cpu', 'Usage']);
      const unused = rows.find((r) => r.CommitmentDiscountStatus === 'Unused') as Record<string, unknown>;
      assert.deepEqual([unused.ChargeCategory, unused.BilledCost, unused.EffectiveCost, unused.ResourceId, unused.ConsumedQuantity], ['Usage', '0.000000000', '0.250000000', 'cud-1', null]);
      const ram = by('CP-2') as Record<string, unknown>;
      assert.deepEqual([ram.BilledCost, ram.ContractedCost, ram.ResourceType, ram.ResourceName, ram.SubAccountName], ['0.300000000', '0.400000000', 'instances', 'vm-1', 'Shop']);
      assert.deepEqual(JSON.parse(String(ram.Tags)), { env: 'prod', team: 'checkout' }, 'resource labels over project labels');
      assert.deepEqual([by('Tax')?.ChargeCategory, by('Tax')?.SkuId, by('Tax')?.ChargeFrequency], ['Tax', null, 'Usage-Based']);
      const adjustment = by('Billing adjustment') as Record<string, unknown>;
      assert.deepEqual([adjustment.ChargeCategory, adjustment.ChargeClass, adjustment.BilledCost], ['Adjustment', 'Correction', '-0.050000000']);
      assert.equal(fee.BillingPeriodStart, '2026-05-01 07:00:00+00');
      const { byRule, failedMust } = await qualityOf(h, run.runId);
      assert.deepEqual(failedMust.map((r) => r.rule_id), []);
      assert.deepEqual([byRule.get('RECONCILE-BilledCost')?.details?.focus_total, byRule.get('RECONCILE-EffectiveCost')?.details?.focus_total], ['1.450000000', '1.450000000']);
    });
  }
});
