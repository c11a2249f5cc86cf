/**
 * Every sample export in ../shared/providers/cloud/samples converts through its provider's
 * pipeline, passes every MUST rule of the FOCUS conformance check, and reconciles (grand totals
 * before commit, and per billing period after).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SAMPLES, openCloudHarness, qualityOf, skipWithoutShared, type CloudHarness } from './cloud-fixture.ts';

const SAMPLE_RUNS = [
  { file: 'aws/koku__aws_2023-06-01.csv', route: 'aws/cost/billing', start: '2023-06-01', end: '2023-06-30', rows: 3, billed: '30.000000000' },
  { file: 'aws/koku__test_cur.csv', route: 'aws/cost/billing', start: '2018-06-01', end: '2018-06-30', rows: 19, billed: '0.082749985' },
  { file: 'gcp/koku__gcp_202011_credits.csv', route: 'gcp/cost/billing', start: '2020-11-01', end: '2020-11-30', rows: 25, billed: '0.000000000' },
  { file: 'gcp/koku__gcp_2022-08-01_5_detailed.csv', route: 'gcp/cost/billing', start: '2022-08-01', end: '2022-08-31', rows: 9, billed: '0.000012000' },
  { file: 'azure/focus_converters__sample-anonymous-ea-export-dataset.csv', route: 'azure/cost/billing', start: '2023-09-01', end: '2023-09-30', rows: 27, billed: '1.261369264' },
  { file: 'azure/koku__azure_mca_camel_azure_version_2.csv', route: 'azure/cost/billing', start: '2023-08-01', end: '2023-08-31', rows: 4, billed: '0.000026241' },
  { file: 'oci/koku__oci_reports_cost-csv_0001000000603747.csv', route: 'oci/cost/billing', start: '2022-04-01', end: '2022-04-30', rows: 5, billed: '0.000040641' },
  { file: 'oci/koku__oci_reports_usage-csv_0001000000829494.csv', route: 'oci/cost/billing', start: '2022-04-01', end: '2022-04-30', rows: 5, billed: '0.000000000' },
];

type Row = Record<string, unknown>;
const find = (rows: Row[], id: string) => rows.find((r) => r.x_SourceRecordId === id);

/** What an analyst would check in each sample (runs over the same days replace each other's rows, so per run). */
const CHECKS: Record<string, (rows: Row[]) => void> = {
  'aws/koku__aws_2023-06-01.csv': (rows) => {
    // Legacy CUR: times without a zone are UTC; the monthly billing period ends on the 1st (exclusive).
    const row = find(rows, '3214362f78d5abf2728adc46041251a4700fe195');
    assert.equal(row?.ChargePeriodStart, '2023-06-01 00:00:00+00');
    assert.equal(row?.BillingPeriodEnd, '2023-07-01 00:00:00+00');
    assert.equal(row?.BillingCurrency, 'NOK');
    assert.deepEqual([row?.ServiceName, row?.ServiceCategory, row?.ServiceSubcategory, row?.RegionId, row?.RegionName], ['Amazon Elastic Compute Cloud', 'Compute', 'Virtual Machines', 'us-west-1', 'US West (N. California)']);
    assert.equal(row?.EffectiveCost, '0.100000000', 'SavingsPlanCoveredUsage at its Savings Plan effective cost');
    assert.equal(row?.PricingCategory, 'Committed');
  },
  'aws/koku__test_cur.csv': (rows) => {
    // Rows shorter than the header are read with nulls; the rate agrees with the cost, so it is kept.
    const row = find(rows, 'e4b85fdd7363544ce3db8d86a8dbf150c7709761');
    assert.deepEqual([Number(row?.ListUnitPrice), Number(row?.ContractedUnitPrice), row?.ResourceType, row?.SkuId], [0.165, 0.165, 'instance', 'JRWGUVQDMCBD']);
  },
  'gcp/koku__gcp_202011_credits.csv': (rows) => {
    // BilledCost is cost plus credits (a free-trial credit cancels the cost); the invoice month is US Pacific.
    const scc = rows.filter((r) => r.ServiceName === 'Security Command Center');
    assert.ok(scc.length > 0 && scc.every((r) => r.BilledCost === '0.000000000' && r.ListCost !== '0.000000000' && r.ContractedCost === r.ListCost));
    assert.equal(scc[0]?.BillingPeriodStart, '2020-11-01 07:00:00+00');
    assert.equal(scc[0]?.BillingPeriodEnd, '2020-12-01 08:00:00+00');
    assert.deepEqual(new Set(rows.filter((r) => r.Tags !== null).map((r) => JSON.parse(String(r.Tags))['goog-resource-type'])), new Set(['bigquery_resource', 'bigquery_dataset', 'bigquery_project']));
    const unmapped = rows.filter((r) => r.x_UnmappedService === true);
    assert.ok(unmapped.length > 0 && unmapped.every((r) => r.ServiceName === 'Stackdriver Logging' && r.ServiceCategory === 'Other' && r.ServiceSubcategory === 'Other (Other)'));
  },
  'gcp/koku__gcp_2022-08-01_5_detailed.csv': (rows) => {
    assert.ok(rows.every((r) => r.ResourceName === 'instance-1' && r.RegionName === 'Iowa' && r.SubAccountType === 'Project'));
  },
  'azure/focus_converters__sample-anonymous-ea-export-dataset.csv': (rows) => {
    // EA: M/D/YYYY dates, the inclusive period end made exclusive, tags without braces.
    assert.equal(rows[0]?.ChargePeriodStart, '2023-09-02 00:00:00+00');
    assert.equal(rows[0]?.ChargePeriodEnd, '2023-09-03 00:00:00+00');
    assert.equal(rows[0]?.BillingPeriodEnd, '2023-10-01 00:00:00+00');
    assert.equal(rows[0]?.BillingAccountType, 'Billing Account');
    assert.deepEqual(JSON.parse(String(rows[0]?.Tags)), { tagA: 'valueA', tagB: 'valueB', tagC: 'valueC' });
    assert.ok(rows.some((r) => r.PricingCategory === 'Dynamic'), 'Spot usage is Dynamic');
  },
  'azure/koku__azure_mca_camel_azure_version_2.csv': (rows) => {
    // MCA: the billing profile is the FOCUS billing account; "10K" quantities are priced per unit.
    assert.ok(rows.every((r) => r.BillingAccountId === 'NF5V-BI6B-BG7-PGB' && r.BillingAccountType === 'Billing Profile'));
    const ops = rows.find((r) => r.SkuMeter === 'All Other Operations' && r.BilledCost === '0.000001600');
    assert.deepEqual([Number(ops?.PricingQuantity), Number(ops?.ContractedUnitPrice), ops?.ResourceType], [4, 0.0000004, 'Storage account']);
  },
  'oci/koku__oci_reports_cost-csv_0001000000603747.csv': (rows) => {
    // myCost (not myCostOverage) is BilledCost; the tags/* columns are one Tags object; a row without currency takes its subscription's.
    const row = find(rows, 'my-resource-no4');
    assert.equal(row?.BilledCost, '0.000040641');
    assert.equal(row?.PricingUnit, '1000000 API-Calls');
    assert.deepEqual(JSON.parse(String(row?.Tags)), { 'Oracle-Tags.CreatedBy': 'default/testing@redhat.com', 'Oracle-Tags.CreatedOn': '2022-04-14T13:14:25.177Z' });
    assert.equal(find(rows, 'my-resource-no1')?.BillingCurrency, 'GBP');
  },
  'oci/koku__oci_reports_usage-csv_0001000000829494.csv': (rows) => {
    // The usage report has no cost columns: quantities at zero cost, in the pipeline's currency.
    assert.ok(rows.every((r) => r.BilledCost === '0.000000000' && r.BillingCurrency === 'USD'));
    assert.equal(Number(find(rows, 'my-resource-no4')?.ConsumedQuantity), 7);
  },
};

describe('the shared sample exports', { skip: skipWithoutShared(SAMPLES) }, () => {
  let h: CloudHarness;
  before(async () => {
    h = await openCloudHarness('samples_org');
  });
  after(() => h.close());

  for (const sample of SAMPLE_RUNS) {
    test(`${sample.file} converts, conforms and reconciles`, async () => {
      const { status, error, runId } = await h.run(sample.route, { start_date: sample.start, end_date: sample.end, source_uri: await h.place(join(SAMPLES, sample.file), join('samples', sample.file)) });
      assert.equal(status, 'completed', error ?? '');
      const rows = await h.focusRows(runId);
      assert.equal(rows.length, sample.rows, 'one FOCUS row per export line (no commitment splits in the samples)');
      const { results, byRule, failedMust } = await qualityOf(h, runId);
      assert.deepEqual(failedMust.map((r) => r.rule_id), []);
      assert.ok(results.filter((r) => r.check_kind === 'focus_rule' && r.status === 'pass').length > 150, 'the conformance check ran');
      for (const id of ['RECONCILE-BilledCost', 'RECONCILE-EffectiveCost']) assert.equal(byRule.get(id)?.status, 'pass', id);
      assert.equal(byRule.get('RECONCILE-BilledCost')?.details?.focus_total, sample.billed);
      const periods = results.filter((r) => r.rule_id.startsWith('RECONCILE-BilledCost-'));
      assert.ok(periods.length >= 1 && periods.every((r) => r.status === 'pass'), 'reconciled per billing period');
      assert.equal(byRule.get('LOAD-ROWS')?.details?.rows, sample.rows);
      // Mandatory values the samples leave empty are filled, never left null.
      for (const row of rows) {
        for (const column of ['BillingAccountId', 'BillingCurrency', 'ServiceName', 'ServiceCategory', 'ChargeCategory', 'InvoiceIssuerName', 'ServiceProviderName']) {
          assert.ok(row[column] !== null && row[column] !== '', `${column} of ${String(row.x_SourceRecordId)}`);
        }
        assert.ok(String(row.ChargePeriodEnd) > String(row.ChargePeriodStart));
      }
      CHECKS[sample.file]?.(rows);
    });
  }
});
