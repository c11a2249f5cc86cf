/**
 * AWS CUR edge cases through the real pipeline: a CUR 2.0 Parquet file (map columns, native
 * timestamps) and a legacy CUR CSV (gzip, per-tag columns, timestamps with and without zones,
 * missing optional and extra unknown columns), both written by DuckDB from the SQL below.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportOrgTable } from '../../src/focus/export-focus.ts';
import { duckdb, openCloudHarness, qualityOf, type CloudHarness } from './cloud-fixture.ts';

const SP = 'arn:aws:savingsplans::111122223333:savingsplan/sp-0001';
const RI = 'arn:aws:ec2:us-east-1:111122223333:reserved-instances/ri-0001';

/** One CUR 2.0 line: [id, type, resource, usage type, amount, unblended cost, extra columns as SQL]. */
type Line = [string, string, string | null, string, number | null, number, Record<string, string>?];
const LINES: Line[] = [
  ['u1', 'Usage', 'arn:aws:ec2:us-east-1:111122223333:instance/i-0aaa', 'USE1-BoxUsage:m5.large', 2, 0.192, { pricing_public_on_demand_cost: '0.192' }],
  ['t1', 'Tax', null, 'Tax', null, 0.05, { line_item_line_item_description: "'VAT on EC2'", line_item_tax_type: "'VAT'" }],
  ['c1', 'Credit', null, 'Credit', null, -0.1, { line_item_line_item_description: "'AWS Promotional Credit'" }],
  ['r1', 'Refund', null, 'Refund', null, -0.02, { bill_bill_type: "'Refund'" }],
  ['sp1', 'SavingsPlanCoveredUsage', 'i-0bbb', 'USE1-BoxUsage:m5.large', 1, 0.096, { savings_plan_savings_plan_a_r_n: `'${SP}'`, savings_plan_savings_plan_effective_cost: '0.06', pricing_public_on_demand_cost: '0.096' }],
  // The negation of sp1: same account, resource, usage type, operation, hour and plan.
  ['spn1', 'SavingsPlanNegation', 'i-0bbb', 'USE1-BoxUsage:m5.large', 1, -0.096, { savings_plan_savings_plan_a_r_n: `'${SP}'`, line_item_usage_start_date: "TIMESTAMP '2026-05-03 00:04:00'" }],
  // A negation without its covered line (an export cut mid-hour) stays, so BilledCost still sums to the CUR.
  ['spn2', 'SavingsPlanNegation', 'i-0eee', 'USE1-BoxUsage:m5.large', 1, -0.05, { savings_plan_savings_plan_a_r_n: `'${SP}'` }],
  ['spf1', 'SavingsPlanRecurringFee', null, 'ComputeSP:1yrNoUpfront', 1, 0.07, { savings_plan_savings_plan_a_r_n: `'${SP}'`, savings_plan_total_commitment_to_date: '0.07', savings_plan_used_commitment: '0.06' }],
  ['ri1', 'DiscountedUsage', 'i-0ccc', 'USE1-BoxUsage:m5.large', 1, 0, { reservation_reservation_a_r_n: `'${RI}'`, reservation_effective_cost: '0.04', pricing_public_on_demand_cost: '0.096' }],
  ['rif1', 'RIFee', null, 'USE1-HeavyUsage:m5.large', 1, 0.05, { reservation_reservation_a_r_n: `'${RI}'`, reservation_unused_recurring_fee: '0.01', reservation_unused_quantity: '0.2', reservation_total_reserved_units: '1' }],
  ['edp1', 'EdpDiscount', null, 'USE1-BoxUsage:m5.large', null, -0.005, {}],
  ['neg1', 'Usage', 'i-0aaa', 'USE1-BoxUsage:m5.large', 1, -0.01, {}],
  ['spot1', 'Usage', 'i-0ddd', 'USE1-SpotUsage:m5.large', 1, 0.03, {}],
];

const lineSql = ([id, type, resource, usageType, amount, cost, extra = {}]: Line, i: number) => {
  const columns: Record<string, string> = {
    identity_line_item_id: `'${id}'`,
    bill_bill_type: "'Anniversary'",
    bill_billing_entity: "'AWS'",
    bill_invoicing_entity: "'Amazon Web Services, Inc.'",
    bill_payer_account_id: "'111122223333'",
    bill_payer_account_name: "'Acme payer'",
    bill_billing_period_start_date: "TIMESTAMP '2026-05-01 00:00:00'",
    bill_billing_period_end_date: "TIMESTAMP '2026-06-01 00:00:00'",
    line_item_usage_account_id: "'444455556666'",
    line_item_usage_account_name: "'prod'",
    line_item_line_item_type: `'${type}'`,
    line_item_usage_start_date: `TIMESTAMP '2026-05-03 00:00:00' + INTERVAL ${i} MINUTE`,
    line_item_usage_end_date: `TIMESTAMP '2026-05-03 01:00:00' + INTERVAL ${i} MINUTE`,
    line_item_product_code: "'AmazonEC2'",
    line_item_usage_type: `'${usageType}'`,
    line_item_operation: "'RunInstances'",
    line_item_resource_id: resource ? `'${resource}'` : 'NULL::VARCHAR',
    line_item_usage_amount: amount === null ? 'NULL::DOUBLE' : `${amount}::DOUBLE`,
    line_item_currency_code: "'USD'",
    line_item_unblended_rate: amount ? `'${Math.abs(cost / amount)}'` : 'NULL::VARCHAR',
    line_item_unblended_cost: `${cost}::DOUBLE`,
    line_item_line_item_description: `'${type} line ${id}'`,
    pricing_public_on_demand_rate: amount ? `'${Math.abs(cost / amount)}'` : 'NULL::VARCHAR',
    pricing_unit: "'Hrs'",
    pricing_rate_code: `'SKU1.TERM.${usageType.replace(/[^A-Za-z0-9]/g, '')}'`,
    product: "MAP {'product_name': 'Amazon Elastic Compute Cloud', 'instance_type': 'm5.large'}",
    product_region_code: "'us-east-1'",
    product_location: "'US East (N. Virginia)'",
    product_sku: "'SKU1'",
    resource_tags: resource ? "MAP {'team': 'core', 'aws:createdBy': 'alice'}" : 'MAP {}::MAP(VARCHAR, VARCHAR)',
    cost_category: "MAP {'CostCenter': 'cc-1'}",
    my_unknown_column: "'kept as it came'",
    ...extra,
  };
  return `SELECT ${Object.entries(columns).map(([name, value]) => `${value} AS ${name}`).join(', ')}`;
};

describe('AWS CUR 2.0 (Parquet) edge cases', () => {
  let h: CloudHarness;
  let dir: string;
  let runId: string;
  let rows: Record<string, unknown>[];
  const row = (id: string) => rows.find((r) => r.x_SourceRecordId === id) as Record<string, unknown>;

  before(async () => {
    h = await openCloudHarness('aws_edge');
    dir = await h.folder('cur2');
    await duckdb(`COPY (${LINES.map(lineSql).join('\nUNION ALL BY NAME\n')}) TO '${join(dir, 'cur2-00001.snappy.parquet')}' (FORMAT parquet)`);
    const run = await h.run('aws/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-31', source_uri: 'cur2/*.parquet' });
    assert.equal(run.status, 'completed', run.error ?? '');
    runId = run.runId;
    rows = await h.focusRows(runId);
  });
  after(() => h.close());

  test('every row conforms and BilledCost reconciles with the CUR, per billing period too', async () => {
    const { byRule, failedMust } = await qualityOf(h, runId);
    assert.deepEqual(failedMust.map((r) => r.rule_id), []);
    const native = LINES.reduce((sum, line) => sum + line[5], 0);
    assert.equal(byRule.get('RECONCILE-BilledCost')?.details?.source_total, native.toFixed(9));
    assert.equal(byRule.get('RECONCILE-BilledCost')?.status, 'pass');
    assert.equal(byRule.get('RECONCILE-EffectiveCost')?.status, 'pass');
    assert.equal(byRule.get('RECONCILE-BilledCost-2026-05-01')?.status, 'pass');
    assert.deepEqual(byRule.get('LOAD-EXTRA-COLUMNS')?.details?.columns, ['my_unknown_column']);
    assert.ok((byRule.get('LOAD-ABSENT-COLUMNS')?.details?.columns as string[]).includes('line_item_net_unblended_cost'));
  });

  test("an absent optional money column is a NULL of the file's own number type, not a 128-bit decimal", async () => {
    const [types] = await h.query(
      `SELECT typeof(line_item_unblended_cost) AS present, typeof(reservation_net_effective_cost) AS absent FROM aws_edge_dev."aws_billing_export__default" LIMIT 1`,
    );
    assert.deepEqual(types, { present: 'DOUBLE', absent: 'DOUBLE' });
  });

  test('tax, credit, refund, EDP discount and a negative usage line', () => {
    const tax = row('t1');
    assert.deepEqual([tax.ChargeCategory, tax.ChargeFrequency, tax.BilledCost, tax.SkuId, tax.PricingQuantity, tax.ListUnitPrice, tax.PricingCategory], ['Tax', 'One-Time', '0.050000000', null, null, null, null]);
    const credit = row('c1');
    assert.deepEqual([credit.ChargeCategory, credit.BilledCost, credit.EffectiveCost, credit.ChargeClass], ['Credit', '-0.100000000', '-0.100000000', null]);
    const refund = row('r1');
    assert.deepEqual([refund.ChargeCategory, refund.ChargeClass, refund.BilledCost], ['Usage', 'Correction', '-0.020000000']);
    assert.equal(row('edp1').ChargeCategory, 'Credit');
    assert.equal(row('edp1').ListCost, '0.000000000', 'discounts do not count as list cost twice');
    const negative = row('neg1');
    assert.deepEqual([negative.ChargeCategory, negative.BilledCost, negative.SkuPriceId, negative.ListUnitPrice], ['Usage', '-0.010000000', null, null]);
    assert.equal(row('spot1').PricingCategory, 'Dynamic');
  });

  test('Savings Plan: covered usage billed 0 at its effective cost, negation netted, fee split into purchase and unused', () => {
    const covered = row('sp1');
    assert.deepEqual(
      [covered.ChargeCategory, covered.BilledCost, covered.EffectiveCost, covered.PricingCategory, covered.CommitmentDiscountId, covered.CommitmentDiscountStatus, covered.CommitmentDiscountCategory, covered.CommitmentDiscountType, Number(covered.CommitmentDiscountQuantity), covered.CommitmentDiscountUnit, covered.ListCost],
      ['Usage', '0.000000000', '0.060000000', 'Committed', SP, 'Used', 'Spend', 'Savings Plan', 0.06, 'USD', '0.096000000'],
    );
    assert.equal(row('spn1'), undefined, 'the negation is netted into the covered row');
    const unpaired = row('spn2');
    assert.deepEqual([unpaired.BilledCost, unpaired.EffectiveCost, unpaired.ListCost, Number(unpaired.PricingQuantity), unpaired.CommitmentDiscountStatus], ['-0.050000000', '0.000000000', '0.000000000', 0, 'Used']);
    const fee = row('spf1');
    assert.deepEqual([fee.ChargeCategory, fee.ChargeFrequency, fee.BilledCost, fee.EffectiveCost, fee.PricingCategory, fee.CommitmentDiscountStatus], ['Purchase', 'Recurring', '0.070000000', '0.000000000', 'Standard', null]);
    const unused = row('spf1:unused');
    assert.deepEqual(
      [unused.ChargeCategory, unused.ChargeFrequency, unused.BilledCost, unused.EffectiveCost, unused.CommitmentDiscountStatus, unused.ResourceId, unused.ConsumedQuantity, Number(unused.CommitmentDiscountQuantity)],
      ['Usage', 'Usage-Based', '0.000000000', '0.010000000', 'Unused', SP, null, 0.01],
    );
  });

  test('Reserved Instance: discounted usage at the amortized cost, RIFee purchase and its unused part', () => {
    const used = row('ri1');
    assert.deepEqual([used.BilledCost, used.EffectiveCost, used.CommitmentDiscountCategory, used.CommitmentDiscountType, used.CommitmentDiscountStatus, used.ListCost], ['0.000000000', '0.040000000', 'Usage', 'Reserved Instance', 'Used', '0.096000000']);
    assert.deepEqual([row('rif1').ChargeCategory, row('rif1').EffectiveCost], ['Purchase', '0.000000000']);
    const unused = row('rif1:unused');
    assert.deepEqual([unused.EffectiveCost, Number(unused.CommitmentDiscountQuantity), unused.CommitmentDiscountUnit, unused.ResourceType], ['0.010000000', 0.2, 'Hours', 'reserved-instances']);
  });

  test('map tags become Tags, the product map gives ServiceName, ARNs give resource names and types', () => {
    const usage = row('u1');
    assert.deepEqual(JSON.parse(String(usage.Tags)), { team: 'core', 'aws:createdBy': 'alice' });
    assert.equal(row('t1').Tags, null, 'an empty map is no tags');
    assert.deepEqual([usage.ServiceName, usage.ServiceCategory, usage.ResourceName, usage.ResourceType, usage.SubAccountName, usage.BillingAccountName], ['Amazon Elastic Compute Cloud', 'Compute', 'i-0aaa', 'instance', 'prod', 'Acme payer']);
    assert.equal(row('sp1').ResourceType, 'instance', 'a bare i- id');
  });

  test('pipeline export: a FinOps analyst reads the tax row, the credit and the SP-covered row', async () => {
    const path = join(dir, 'focus.csv');
    const { rows: exported } = await exportOrgTable(h.app.warehouse!, { orgSlug: h.org, env: 'dev', runId, format: 'csv', path });
    assert.equal(exported, rows.length);
    const read = await h.app.warehouse!.query(
      `SELECT x_SourceRecordId, ChargeCategory, ChargeDescription, BilledCost, EffectiveCost, ChargePeriodStart, PricingQuantity, CommitmentDiscountStatus, ServiceName
         FROM read_csv('${path}', all_varchar = true, nullstr = '') WHERE x_SourceRecordId IN ('t1', 'c1', 'sp1') ORDER BY x_SourceRecordId`,
    );
    // Quantities are compared as numbers: their scale is the warehouse column's.
    for (const r of read) r.PricingQuantity = r.PricingQuantity === null ? null : String(Number(r.PricingQuantity));
    assert.deepEqual(read, [
      { x_SourceRecordId: 'c1', ChargeCategory: 'Credit', ChargeDescription: 'AWS Promotional Credit', BilledCost: '-0.100000000', EffectiveCost: '-0.100000000', ChargePeriodStart: '2026-05-03T00:02:00Z', PricingQuantity: null, CommitmentDiscountStatus: null, ServiceName: 'Amazon Elastic Compute Cloud' },
      { x_SourceRecordId: 'sp1', ChargeCategory: 'Usage', ChargeDescription: 'SavingsPlanCoveredUsage line sp1', BilledCost: '0.000000000', EffectiveCost: '0.060000000', ChargePeriodStart: '2026-05-03T00:04:00Z', PricingQuantity: '1', CommitmentDiscountStatus: 'Used', ServiceName: 'Amazon Elastic Compute Cloud' },
      { x_SourceRecordId: 't1', ChargeCategory: 'Tax', ChargeDescription: 'VAT on EC2', BilledCost: '0.050000000', EffectiveCost: '0.050000000', ChargePeriodStart: '2026-05-03T00:01:00Z', PricingQuantity: null, CommitmentDiscountStatus: null, ServiceName: 'Amazon Elastic Compute Cloud' },
    ]);
    const text = await readFile(path, 'utf8');
    assert.ok(!text.includes('line spn1') && text.includes('line spn2'), 'the netted negation is not exported, the unpaired one is');
  });
});

describe('AWS legacy CUR (CSV, gzip)', () => {
  let h: CloudHarness;
  let dir: string;
  before(async () => {
    h = await openCloudHarness('aws_legacy');
    dir = await h.folder('cur1');
  });
  after(() => h.close());

  const header = ['identity/LineItemId', 'bill/PayerAccountId', 'bill/BillingPeriodStartDate', 'bill/BillingPeriodEndDate', 'lineItem/UsageAccountId', 'lineItem/LineItemType', 'lineItem/UsageStartDate', 'lineItem/UsageEndDate', 'lineItem/ProductCode', 'lineItem/UsageAmount', 'lineItem/CurrencyCode', 'lineItem/UnblendedCost', 'lineItem/UnblendedRate', 'product/ProductName', 'product/region', 'resourceTags/user:team', 'resourceTags/aws:createdBy', 'costCategory/Owner', 'some/UnknownColumn'];
  const csvRows = [
    ['z1', '0099999999999', '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', '0012345678901', 'Usage', '2026-05-03T01:00:00Z', '2026-05-03T02:00:00Z', 'AmazonS3', '10', 'USD', '0.5', '0.05', 'Amazon Simple Storage Service', 'eu-west-1', 'data', 'bob', 'finance', 'x'],
    ['z2', '0099999999999', '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', '0012345678901', 'Usage', '2026-05-03 02:00:00', '2026-05-03 03:00:00', 'AmazonS3', '4', 'USD', '0.2', '0.05', 'Amazon Simple Storage Service', 'eu-west-1', '', '', '', 'y'],
    ['z3', '0099999999999', '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', '0012345678901', 'Usage', '2026-05-03T05:00:00+02:00', '2026-05-03T06:00:00+02:00', 'AmazonNewService', '1', 'USD', '1.25', '1.25', 'Amazon New Service', 'eu-west-1', 'data', '', '', 'z'],
  ];
  const write = async (name: string, columns: string[], lines: string[][]) => {
    const file = join(dir, name);
    const values = lines.map((line) => `(${line.map((v) => `'${v}'`).join(', ')})`).join(', ');
    await duckdb(`COPY (SELECT * FROM (VALUES ${values}) t(${columns.map((c) => `"${c}"`).join(', ')})) TO '${file}' (FORMAT csv, HEADER, COMPRESSION gzip)`);
    return file;
  };

  test('converts by name: account ids keep their zeros, zones are honoured, tags are folded, unknown services fall back', async () => {
    const file = await write('cur-2026-05.csv.gz', header, csvRows);
    const run = await h.run('aws/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-31', source_uri: h.uri(file) });
    assert.equal(run.status, 'completed', run.error ?? '');
    const rows = await h.focusRows(run.runId);
    assert.deepEqual(rows.map((r) => [r.x_SourceRecordId, r.ChargePeriodStart]), [['z1', '2026-05-03 01:00:00+00'], ['z2', '2026-05-03 02:00:00+00'], ['z3', '2026-05-03 03:00:00+00']]);
    assert.deepEqual([rows[0]?.BillingAccountId, rows[0]?.SubAccountId], ['0099999999999', '0012345678901']);
    assert.deepEqual(JSON.parse(String(rows[0]?.Tags)), { team: 'data', 'aws:createdBy': 'bob' }, 'user: is dropped from user tags, aws: kept');
    assert.equal(rows[1]?.Tags, null);
    assert.deepEqual([rows[0]?.ServiceCategory, rows[0]?.ServiceSubcategory, rows[0]?.RegionId, rows[0]?.RegionName], ['Storage', 'Object Storage', 'eu-west-1', 'eu-west-1']);
    assert.deepEqual([rows[2]?.ServiceCategory, rows[2]?.ServiceSubcategory, rows[2]?.x_UnmappedService], ['Other', 'Other (Other)', true]);
    const { byRule, failedMust } = await qualityOf(h, run.runId);
    assert.deepEqual(failedMust, []);
    const unmapped = byRule.get('UNMAPPED-SERVICES');
    assert.deepEqual([unmapped?.status, unmapped?.failing_rows], ['warn', 1]);
    assert.match(unmapped?.description ?? '', /Amazon New Service/);
    assert.deepEqual(byRule.get('LOAD-EXTRA-COLUMNS')?.details?.columns, ['some_unknown_column']);
  });

  test('a missing required column fails the load naming it; nothing is converted', async () => {
    const file = await write('no-cost.csv.gz', header.filter((c) => c !== 'lineItem/UnblendedCost'), csvRows.map((r) => r.filter((_, i) => i !== header.indexOf('lineItem/UnblendedCost'))));
    const run = await h.run('aws/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-31', source_uri: h.uri(file) });
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /^cloud\.billing_export: cur1\/no-cost\.csv\.gz \(aws cur\) lacks required column line_item_unblended_cost \(contract schemas\/cloud\/aws_cur\.json\)$/);
    const steps = await h.app.runs.steps(h.org, run.runId);
    assert.deepEqual(steps.map((s) => [s.step_id, s.status]), [['load_export', 'failed'], ['convert_to_focus', 'skipped'], ['load_report', 'skipped']]);
  });
});
