/**
 * Native FOCUS exports through the providers' pipelines: recognised by their columns, kept
 * column for column, completed to FOCUS 1.3 and normalised.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { duckdb, openCloudHarness, qualityOf, skipWithoutShared, type CloudHarness } from './cloud-fixture.ts';
import { REPO } from '../support/test-app.ts';

const FOCUS_SAMPLE = join(REPO, '..', 'shared', 'focus', 'samples', 'official_focus-1.0_focus_sample_1000rows.csv');

/** A FOCUS 1.2 row as AWS's Data Exports write it: no 1.3 columns, Tags a MAP, x_ columns. */
const awsFocusRow = (id: string, category: string, billed: number, extra: Record<string, string> = {}) => {
  const columns: Record<string, string> = {
    BilledCost: `${billed}::DOUBLE`, EffectiveCost: `${billed}::DOUBLE`, ListCost: `${billed}::DOUBLE`, ContractedCost: `${billed}::DOUBLE`,
    BillingAccountId: "'111122223333'", BillingAccountName: "'Acme'", BillingAccountType: "'Payer Account'", BillingCurrency: "'USD'",
    BillingPeriodStart: "TIMESTAMP '2026-05-01'", BillingPeriodEnd: "TIMESTAMP '2026-06-01'",
    ChargePeriodStart: "TIMESTAMP '2026-05-02 03:00:00'", ChargePeriodEnd: "TIMESTAMP '2026-05-02 04:00:00'",
    ChargeCategory: `'${category}'`, ChargeFrequency: category === 'Tax' ? "'One-Time'" : "'Usage-Based'", ChargeDescription: `'${id}'`,
    InvoiceIssuerName: "'Amazon Web Services, Inc.'", ProviderName: "'AWS'", PublisherName: "'Amazon Web Services, Inc.'",
    ServiceName: "'Amazon Simple Storage Service'", ServiceCategory: "'Storage'", SubAccountId: "'444455556666'", SubAccountName: "'prod'", SubAccountType: "'Linked Account'",
    RegionId: "'us-east-1'", RegionName: "'US East (N. Virginia)'",
    Tags: category === 'Tax' ? 'MAP {}::MAP(VARCHAR, VARCHAR)' : "MAP {'team': 'data'}",
    x_ServiceCode: "'AmazonS3'", x_UsageType: "'TimedStorage-ByteHrs'",
    ...(category === 'Usage'
      ? { SkuId: "'SKU9'", SkuPriceId: "'SKU9.TERM.RATE'", SkuMeter: "'Storage'", PricingCategory: "'Standard'", PricingQuantity: '10::DOUBLE', PricingUnit: "'GB-Month'",
          ListUnitPrice: `${billed / 10}::DOUBLE`, ContractedUnitPrice: `${billed / 10}::DOUBLE`, ConsumedQuantity: '10::DOUBLE', ConsumedUnit: "'GB-Month'" }
      : {}),
    ...extra,
  };
  return `SELECT ${Object.entries(columns).map(([name, value]) => `${value} AS ${name}`).join(', ')}`;
};

describe('native FOCUS exports', () => {
  let h: CloudHarness;
  let dir: string;
  before(async () => {
    h = await openCloudHarness('focus_exports');
    dir = await h.folder('focus-exports');
  });
  after(() => h.close());

  test('an AWS FOCUS 1.2 export (Parquet) is kept and completed to 1.3, replacing the same days as a CUR would', async () => {
    const file = join(dir, 'aws-focus-1.2.parquet');
    await duckdb(`COPY (${awsFocusRow('storage', 'Usage', 2.5)} UNION ALL BY NAME ${awsFocusRow('tax', 'Tax', 0.25, { PricingQuantity: '1::DOUBLE', ConsumedQuantity: '1::DOUBLE' })}) TO '${file}' (FORMAT parquet)`);
    const run = await h.run('aws/cost/billing', { date: '2026-05-02', source_uri: h.uri(file) });
    assert.equal(run.status, 'completed', run.error ?? '');
    const rows = await h.focusRows(run.runId, 'ChargeDescription');
    assert.deepEqual(rows.map((r) => [r.ChargeDescription, r.BilledCost, r.ServiceProviderName, r.HostProviderName, r.x_SourceSystem]), [
      ['storage', '2.500000000', 'AWS', 'AWS', 'aws'],
      ['tax', '0.250000000', 'AWS', 'AWS', 'aws'],
    ]);
    assert.deepEqual(JSON.parse(String(rows[0]?.Tags)), { team: 'data' });
    assert.equal(rows[0]?.ServiceSubcategory, 'Object Storage', 'a category without subcategory gets the lookup of its x_ServiceCode');
    assert.deepEqual([rows[1]?.Tags, rows[1]?.PricingQuantity, rows[1]?.ConsumedQuantity], [null, null, null], 'a 1.2 tax row with quantities, repaired for 1.3');
    const { byRule, failedMust } = await qualityOf(h, run.runId);
    assert.deepEqual(failedMust.map((r) => r.rule_id), []);
    assert.equal(byRule.get('LOAD-FILES')?.details?.shape, 'focus');
    assert.equal(byRule.get('RECONCILE-BilledCost')?.details?.source_total, '2.750000000');
  });

  test('an OCI FOCUS report: `Usage-based` and the Oracle reference number', async () => {
    const file = join(dir, 'oci-focus.csv');
    const header = ['BilledCost', 'EffectiveCost', 'ListCost', 'ContractedCost', 'BillingAccountId', 'BillingCurrency', 'BillingPeriodStart', 'BillingPeriodEnd', 'ChargePeriodStart', 'ChargePeriodEnd', 'ChargeCategory', 'ChargeFrequency', 'PricingCategory', 'Provider', 'Publisher', 'InvoiceIssuer', 'ServiceName', 'SkuId', 'SkuPriceId', 'PricingQuantity', 'PricingUnit', 'ListUnitPrice', 'ContractedUnitPrice', 'UsageQuantity', 'UsageUnit', 'Region', 'SubAccountId', 'SubAccountName', 'oci_ReferenceNumber'];
    const row = ['0.5', '0.5', '0.5', '0.5', '20209880', 'USD', '2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z', '2026-05-02T22:00:00Z', '2026-05-02T23:00:00Z', 'Usage', 'Usage-based', 'Standard', 'Oracle', 'Oracle', 'Oracle', 'BLOCK_STORAGE', 'B91961', 'B91961', '10', 'GB-Months', '0.05', '0.05', '10', 'GB-Months', 'us-sanjose-1', 'ocid1.tenancy.oc1..aaaa', 'acme', 'ref-1'];
    await duckdb(`COPY (SELECT * FROM (VALUES (${row.map((v) => `'${v}'`).join(', ')})) t(${header.join(', ')})) TO '${file}' (FORMAT csv, HEADER)`);
    const run = await h.run('oci/cost/billing', { date: '2026-05-02', source_uri: h.uri(file) });
    assert.equal(run.status, 'completed', run.error ?? '');
    const [focus] = await h.focusRows(run.runId);
    assert.deepEqual(
      [focus?.ChargeFrequency, focus?.ProviderName, focus?.InvoiceIssuerName, focus?.RegionId, Number(focus?.ConsumedQuantity), focus?.x_SourceRecordId, focus?.ServiceCategory, focus?.ServiceSubcategory],
      ['Usage-Based', 'Oracle', 'Oracle', 'us-sanjose-1', 10, 'ref-1', 'Storage', 'Block Storage'],
    );
  });

  test("the official FOCUS 1.0 sample's Microsoft rows through the Azure pipeline", { skip: skipWithoutShared(FOCUS_SAMPLE) }, async () => {
    const file = join(dir, 'azure-focus-1.0.csv');
    await duckdb(`COPY (SELECT * FROM read_csv('${FOCUS_SAMPLE}', all_varchar = true) WHERE ProviderName = 'Microsoft') TO '${file}' (FORMAT csv, HEADER)`);
    const run = await h.run('azure/cost/billing', { start_date: '2024-09-01', end_date: '2024-09-30', source_uri: h.uri(file) });
    assert.equal(run.status, 'completed', run.error ?? '');
    const rows = await h.focusRows(run.runId);
    assert.equal(rows.length, 51);
    assert.ok(rows.every((r) => r.BillingAccountId === String(r.BillingAccountId).toLowerCase() && r.CommitmentDiscountId === null && r.ServiceProviderName === 'Microsoft'), '"NULL" text is null, ids lowercased');
    const { byRule, failedMust } = await qualityOf(h, run.runId);
    assert.deepEqual(failedMust.map((r) => r.rule_id), []);
    assert.equal(byRule.get('RECONCILE-BilledCost')?.status, 'pass');
  });
});
