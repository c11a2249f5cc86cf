/**
 * The subscription_cost pipeline end to end: plans imported through importPlans, runs requested
 * like the API does, executed by the worker on an in-memory DuckDB warehouse. Expected amounts
 * are worked out by hand in the comments, not with the procedure's formula.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkFocusTable, type SqlRunner } from '../../src/focus/check-focus-table.ts';
import { loadFocusRuleSet } from '../../src/focus/focus-rules.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { importPlans } from '../../src/subscription/plans-import.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';
import { openPglite } from '../support/control-planes.ts';
import { REPO, testApp, waitForRunEnd } from '../support/test-app.ts';

const ORG = 'saas_calendar';
const ROUTE = 'subscription/costs/subscription_cost';
const HEADER = 'subscription_id,vendor,product,plan_name,status,start_date,end_date,billing_cycle,pricing_model,seats,unit_price,currency,discount_percent,invoice_issuer,cost_center,team';
const PLANS = [
  HEADER,
  // Monthly on the 1st: February 2024 has 29 days, January 31.
  'LEAP-M,Acme Chat,Chat,Team,active,2024-01-01,,monthly,flat,,100.00,USD,,,CC-1,Support',
  // Annual from mid-June 2023: the cycle holds 29 February 2024, so 366 days.
  'LEAP-A,Acme Docs,Docs,Enterprise,active,2023-06-15,,annual,flat,,1000.00,USD,,,CC-1,Support',
  // Ends on 10 February, mid-cycle.
  'END,Acme Video,Video,Pro,cancelled,2024-01-01,2024-02-10,monthly,flat,,100.00,USD,,,CC-2,Sales',
  // 10 seats, then 15 from 15 January; cycles stay on the 1st.
  'SEAT,Acme Code,Code,Team,active,2024-01-01,2024-01-14,monthly,per_seat,10,10.00,USD,,,CC-3,Engineering',
  'SEAT,Acme Code,Code,Team,active,2024-01-15,,monthly,per_seat,15,10.00,USD,,,CC-3,Engineering',
  // Anchored on the 31st: each cycle ends the day before anchor + n months.
  'END31,Acme Design,Design,Pro,active,2024-01-31,,monthly,flat,,90.00,USD,,,CC-3,Engineering',
  // Annual from 15 March 2025 (365 days), per seat, discounted, bought through a reseller, in EUR.
  'MID-A,Acme CRM,CRM,Enterprise,active,2025-03-15,,annual,per_seat,5,240.00,EUR,12.5,Reseller GmbH,CC-4,Sales',
].join('\n');

const RANGE_2024 = { start_date: '2023-06-15', end_date: '2024-06-14' };
const RANGE_2025 = { start_date: '2025-03-15', end_date: '2026-03-14' };

type Row = Record<string, unknown>;

describe('SaaS subscription costs pipeline', () => {
  let controlPlane: ControlPlane;
  let app: App;
  let warehouse: Warehouse;
  const sql: SqlRunner = { all: (text) => warehouse.query(text) };

  const runPipeline = async (org: string, body: Record<string, unknown>) => {
    const { run_id } = await app.requests.request({ orgSlug: org, route: ROUTE, body, trigger: 'api', createdBy: 'test' });
    return { runId: run_id, run: await waitForRunEnd(app, org, run_id, 60_000) };
  };
  const runCompleted = async (body: Record<string, unknown>) => {
    const { run, runId } = await runPipeline(ORG, body);
    assert.equal(run.status, 'completed', run.error_message ?? '');
    return runId;
  };
  const daily = (subscription: string, where = 'TRUE') =>
    warehouse.query(`SELECT cost_date::VARCHAR AS day, cycle_start::VARCHAR AS cycle_start, cycle_end::VARCHAR AS cycle_end, cycle_days::INT AS cycle_days,
                            quantity::INT AS quantity, daily_cost::VARCHAR AS daily, billed_cost::VARCHAR AS billed, segment_charge::VARCHAR AS segment_charge
                       FROM ${ORG}_dev.saas_subscription_costs_daily WHERE subscription_id = '${subscription}' AND (${where}) ORDER BY cost_date`);
  const total = async (subscription: string, from: string, to: string) =>
    (await warehouse.query(`SELECT sum(daily_cost)::VARCHAR AS daily, sum(billed_cost)::VARCHAR AS billed, count(*)::INT AS days
                              FROM ${ORG}_dev.saas_subscription_costs_daily WHERE subscription_id = '${subscription}' AND cost_date BETWEEN '${from}' AND '${to}'`))[0];
  /** Every column but the ones that name the run that wrote a row. */
  const snapshot = async (table: string, order: string) =>
    warehouse.query(`SELECT * EXCLUDE (x_run_id, x_ingested_at, x_ingestion_date) FROM ${ORG}_dev.${table} WHERE x_org_slug = '${ORG}' ORDER BY ${order}`);

  before(async () => {
    controlPlane = await openPglite();
    app = await testApp(controlPlane);
    warehouse = app.warehouse as Warehouse;
    for (const org of [ORG, 'saas_no_plans', 'saas_example']) await app.orgs.create(org, org, { plan: 'T', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 2 });
    app.worker?.start();
    await importPlans(warehouse, { orgSlug: ORG, dataset: `${ORG}_dev`, csvText: PLANS, importedAt: new Date('2026-03-20T09:00:00Z'), runId: 'import-1' });
    await runCompleted(RANGE_2024);
    await runCompleted(RANGE_2025);
  });
  after(async () => {
    await app?.close();
    await controlPlane?.close();
  });

  test('29 February: a monthly cycle of 29 days, the remainder on its last day, summing to the charge', async () => {
    const february = await daily('LEAP-M', "cost_date BETWEEN '2024-02-01' AND '2024-02-29'");
    assert.equal(february.length, 29);
    assert.ok(february.every((r) => r.cycle_start === '2024-02-01' && r.cycle_end === '2024-02-29' && r.cycle_days === 29));
    // 100 / 29 = 3.448275862068...: truncated on 28 days, 100 - 28 x 3.448275862 on the 29th.
    assert.ok(february.slice(0, 28).every((r) => r.daily === '3.448275862'));
    assert.deepEqual(february[28], { ...february[28], day: '2024-02-29', daily: '3.448275864' });
    assert.deepEqual(await total('LEAP-M', '2024-02-01', '2024-02-29'), { daily: '100.000000000', billed: '100.000000000', days: 29 });
    assert.equal(february[0]?.billed, '100.000000000', 'the prepaid charge falls on the first day');
    assert.ok(february.slice(1).every((r) => r.billed === '0.000000000'));
  });

  test('31-day months: 100 / 31 a day; a plan anchored on the 31st keeps to month ends', async () => {
    const january = await daily('LEAP-M', "cost_date BETWEEN '2024-01-01' AND '2024-01-31'");
    assert.ok(january.every((r) => r.cycle_days === 31 && r.cycle_end === '2024-01-31'));
    assert.equal(january[0]?.daily, '3.225806451');
    assert.equal(january[30]?.daily, '3.225806470', '100 - 30 x 3.225806451');
    assert.deepEqual(await total('LEAP-M', '2024-01-01', '2024-01-31'), { daily: '100.000000000', billed: '100.000000000', days: 31 });

    const cycles = await warehouse.query(`SELECT DISTINCT cycle_start::VARCHAR AS s, cycle_end::VARCHAR AS e, cycle_days::INT AS n FROM ${ORG}_dev.saas_subscription_costs_daily
                                           WHERE subscription_id = 'END31' AND cost_date < '2024-06-01' ORDER BY 1`);
    // Anchor 31 Jan + 1 month = 29 Feb 2024, + 2 = 31 Mar, + 3 = 30 Apr, + 4 = 31 May.
    assert.deepEqual(cycles, [
      { s: '2024-01-31', e: '2024-02-28', n: 29 },
      { s: '2024-02-29', e: '2024-03-30', n: 31 },
      { s: '2024-03-31', e: '2024-04-29', n: 30 },
      { s: '2024-04-30', e: '2024-05-30', n: 31 },
      { s: '2024-05-31', e: '2024-06-29', n: 30 },
    ]);
    for (const c of cycles.slice(0, 4)) assert.deepEqual(await total('END31', String(c.s), String(c.e)), { daily: '90.000000000', billed: '90.000000000', days: c.n });
  });

  test('annual plans: charge / 366 over a cycle holding 29 February, / 365 from mid-March', async () => {
    const leap = await daily('LEAP-A', "cost_date BETWEEN '2023-06-15' AND '2024-06-14'");
    assert.equal(leap.length, 366);
    assert.ok(leap.every((r) => r.cycle_start === '2023-06-15' && r.cycle_end === '2024-06-14' && r.cycle_days === 366));
    assert.equal(leap[0]?.daily, '2.732240437', '1000 / 366 = 2.7322404371...');
    assert.equal(leap[365]?.daily, '2.732240495', '1000 - 365 x 2.732240437');
    assert.deepEqual(await total('LEAP-A', '2023-06-15', '2024-06-14'), { daily: '1000.000000000', billed: '1000.000000000', days: 366 });
    assert.equal(leap.filter((r) => r.billed !== '0.000000000').map((r) => r.day).join(), '2023-06-15');

    const mid = await daily('MID-A', "cost_date BETWEEN '2025-03-15' AND '2026-03-14'");
    assert.equal(mid.length, 365);
    assert.ok(mid.every((r) => r.cycle_start === '2025-03-15' && r.cycle_end === '2026-03-14' && r.cycle_days === 365 && r.quantity === 5));
    // 5 seats x 240 EUR less 12.5 % = 1050 EUR; 1050 / 365 = 2.8767123287...
    assert.equal(mid[0]?.daily, '2.876712328');
    assert.equal(mid[0]?.billed, '1050.000000000');
    assert.equal(mid[364]?.daily, '2.876712608', '1050 - 364 x 2.876712328');
    assert.deepEqual(await total('MID-A', '2025-03-15', '2026-03-14'), { daily: '1050.000000000', billed: '1050.000000000', days: 365 });
  });

  test('a plan ending mid-cycle is prorated to its last day and billed that share', async () => {
    const february = await daily('END', "cost_date >= '2024-02-01'");
    assert.deepEqual(february.map((r) => r.day), Array.from({ length: 10 }, (_, i) => `2024-02-${String(i + 1).padStart(2, '0')}`));
    // The February cycle has 29 days; 10 of them are paid: 100 x 10 / 29 = 34.482758620...
    assert.ok(february.every((r) => r.cycle_days === 29 && r.segment_charge === '34.482758620'));
    assert.equal(february[0]?.billed, '34.482758620');
    assert.deepEqual(await total('END', '2024-02-01', '2024-02-29'), { daily: '34.482758620', billed: '34.482758620', days: 10 });
    assert.deepEqual(await total('END', '2024-01-01', '2024-01-31'), { daily: '100.000000000', billed: '100.000000000', days: 31 });
  });

  test('a seat change takes effect on its date; the cycle stays anchored and the next one bills the new seats', async () => {
    const january = await daily('SEAT', "cost_date BETWEEN '2024-01-01' AND '2024-01-31'");
    assert.equal(january.length, 31, 'one row per subscription per day across the change');
    assert.deepEqual(january.map((r) => r.quantity), [...Array(14).fill(10), ...Array(17).fill(15)]);
    assert.ok(january.every((r) => r.cycle_start === '2024-01-01' && r.cycle_end === '2024-01-31'));
    // 10 seats x 10 for 14 of 31 days = 45.161290322...; 15 x 10 for 17 of 31 = 82.258064516...
    assert.deepEqual(january.filter((r) => r.billed !== '0.000000000').map((r) => [r.day, r.billed]), [['2024-01-01', '45.161290322'], ['2024-01-15', '82.258064516']]);
    assert.equal(january[13]?.daily, '3.225806459', 'the last day of the 10-seat segment takes its remainder: 45.161290322 - 13 x 3.225806451');
    assert.equal(january[14]?.daily, '4.838709677', '150 / 31');
    assert.deepEqual(await total('SEAT', '2024-01-01', '2024-01-31'), { daily: '127.419354838', billed: '127.419354838', days: 31 });
    assert.deepEqual(await total('SEAT', '2024-02-01', '2024-02-29'), { daily: '150.000000000', billed: '150.000000000', days: 29 });
  });

  test('every whole cycle and every segment inside the run ranges sums to its charge exactly', async () => {
    const segments = await warehouse.query(`
      SELECT subscription_id, segment_start::VARCHAR AS s, count(*)::INT AS days, any_value(segment_days)::INT AS segment_days,
             sum(daily_cost) = any_value(segment_charge) AS daily_ok, sum(billed_cost) = any_value(segment_charge) AS billed_ok,
             bool_and(segment_days < cycle_days OR segment_charge = cycle_charge) AS whole_ok
        FROM ${ORG}_dev.saas_subscription_costs_daily
       WHERE segment_start >= DATE '2023-06-15' AND segment_end <= DATE '2024-06-14' OR segment_start >= DATE '2025-03-15' AND segment_end <= DATE '2026-03-14'
       GROUP BY subscription_id, plan_start_date, segment_start`);
    assert.ok(segments.length > 40, `${segments.length} segments`);
    for (const s of segments) assert.deepEqual(s, { ...s, days: s.segment_days, daily_ok: true, billed_ok: true, whole_ok: true });
  });

  test('FOCUS rows: one per daily cost, reconciled, the prepaid and the amortised view side by side', async () => {
    const [counts] = await warehouse.query(`
      SELECT (SELECT count(*) FROM ${ORG}_dev.saas_subscription_costs_daily)::INT AS daily,
             (SELECT count(*) FROM ${ORG}_dev.cost_data_standard_1_3 WHERE x_SourceSystem = 'subscription')::INT AS focus,
             (SELECT sum(billed_cost) FROM ${ORG}_dev.saas_subscription_costs_daily) = (SELECT sum(BilledCost) FROM ${ORG}_dev.cost_data_standard_1_3) AS billed,
             (SELECT sum(daily_cost) FROM ${ORG}_dev.saas_subscription_costs_daily) = (SELECT sum(EffectiveCost) FROM ${ORG}_dev.cost_data_standard_1_3) AS effective`);
    assert.equal(counts?.focus, counts?.daily);
    assert.ok(Number(counts?.focus) > 2000);
    assert.equal(counts?.billed, true, 'sum(BilledCost) = sum(billed_cost)');
    assert.equal(counts?.effective, true, 'sum(EffectiveCost) = sum(daily_cost)');

    const [row] = await warehouse.query(`
      SELECT ChargeCategory, ChargeFrequency, ChargeClass, BilledCost::VARCHAR AS BilledCost, EffectiveCost::VARCHAR AS EffectiveCost,
             ListCost::VARCHAR AS ListCost, ContractedCost::VARCHAR AS ContractedCost, ListUnitPrice::VARCHAR AS ListUnitPrice,
             ContractedUnitPrice::VARCHAR AS ContractedUnitPrice, PricingQuantity::VARCHAR AS PricingQuantity, PricingUnit, BillingCurrency,
             strftime(ChargePeriodStart, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodStart, strftime(ChargePeriodEnd, '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodEnd,
             strftime(BillingPeriodStart, '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodStart, strftime(BillingPeriodEnd, '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodEnd,
             ServiceProviderName, HostProviderName, InvoiceIssuerName, PublisherName, ServiceName, ServiceCategory, ServiceSubcategory,
             SubAccountId, SubAccountName, Tags::VARCHAR AS Tags, SkuId, SkuMeter, SkuPriceId, x_SourceSystem, x_CostSource, x_SourceRecordId, x_UnmappedService, x_pipeline_id
        FROM ${ORG}_dev.cost_data_standard_1_3 WHERE x_SourceRecordId = 'MID-A/2025-03-15'`);
    assert.deepEqual(row, {
      ChargeCategory: 'Purchase',
      ChargeFrequency: 'Recurring',
      ChargeClass: null,
      BilledCost: '1050.000000000',
      EffectiveCost: '2.876712328',
      // Unit price x PricingQuantity, as FOCUS requires: 240 x 0.01369863 and 210 x 0.01369863
      // (EffectiveCost is the day's exact share of the cycle's 1050).
      ListCost: '3.287671200',
      ContractedCost: '2.876712300',
      ListUnitPrice: '240.000000000000000000',
      ContractedUnitPrice: '210.000000000000000000',
      PricingQuantity: '0.013698630000000000',
      PricingUnit: 'Seat-Years',
      BillingCurrency: 'EUR',
      ChargePeriodStart: '2025-03-15T00:00:00Z',
      ChargePeriodEnd: '2025-03-16T00:00:00Z',
      BillingPeriodStart: '2025-03-15T00:00:00Z',
      BillingPeriodEnd: '2026-03-15T00:00:00Z',
      ServiceProviderName: 'Acme CRM',
      HostProviderName: 'Acme CRM',
      InvoiceIssuerName: 'Reseller GmbH',
      PublisherName: 'Acme CRM',
      ServiceName: 'CRM',
      ServiceCategory: 'Business Applications',
      ServiceSubcategory: 'Other (Business Applications)',
      SubAccountId: 'CC-4',
      SubAccountName: 'Sales',
      Tags: '{"cost_center":"CC-4","team":"Sales","subscription_id":"MID-A"}',
      SkuId: 'Acme CRM/CRM/Enterprise',
      SkuMeter: 'Seats',
      SkuPriceId: 'Acme CRM/CRM/Enterprise/annual/EUR/240',
      x_SourceSystem: 'subscription',
      x_CostSource: 'subscription_plan',
      x_SourceRecordId: 'MID-A/2025-03-15',
      x_UnmappedService: true,
      x_pipeline_id: 'saas_subscription_cost',
    });
  });

  test('the FOCUS output passes every MUST rule of the subscription profile, and of a wider one', async () => {
    const table = `${ORG}_dev.cost_data_standard_1_3`;
    const where = `x_org_slug = '${ORG}'`;
    const results = await checkFocusTable(sql, { table, where, provider: 'subscription' });
    const failed = results.filter((r) => r.status === 'fail').map((r) => `${r.level} ${r.rule_id}: ${r.failing_rows} rows, e.g. ${JSON.stringify(r.examples[0])}`);
    assert.deepEqual(failed, []);
    assert.ok(results.filter((r) => r.status === 'pass').length > 100, 'the rules ran');
    // The profile declares the columns the converter fills (SubAccount, Tags, negotiated prices), so their rules run.
    const ruleSet = await loadFocusRuleSet();
    for (const criterion of ['SUB_ACCOUNT_SUPPORTED', 'TAGGING_SUPPORTED', 'NEGOTIATED_PRICING_SUPPORTED']) assert.ok(ruleSet.providers.subscription?.includes(criterion), criterion);
    assert.ok(results.some((r) => r.rule_id.startsWith('CAU-SubAccountId') && r.status === 'pass'), 'SubAccountId rules ran and passed');
  });

  test('a re-run, of the whole range or of a few days inside it, leaves identical rows', async () => {
    const before = { daily: await snapshot('saas_subscription_costs_daily', 'subscription_id, cost_date'), focus: await snapshot('cost_data_standard_1_3', 'x_SourceRecordId') };
    const rerun = await runCompleted(RANGE_2024);
    // Billed amounts of cycles that start before a short range must not move into it.
    await runCompleted({ start_date: '2024-01-10', end_date: '2024-02-20' });
    assert.deepEqual(await snapshot('saas_subscription_costs_daily', 'subscription_id, cost_date'), before.daily);
    assert.deepEqual(await snapshot('cost_data_standard_1_3', 'x_SourceRecordId'), before.focus);
    const writers = await warehouse.query(`SELECT DISTINCT x_run_id FROM ${ORG}_dev.saas_subscription_costs_daily WHERE cost_date = '2024-01-15'`);
    assert.notDeepEqual(writers, [{ x_run_id: rerun }], 'the short run rewrote its days');
    assert.equal(writers.length, 1);
  });

  test('the example plans file: the worked example of docs/subscription-costs.md, conformant', async () => {
    const csvText = await readFile(join(REPO, 'examples', 'saas_subscription_plans.csv'), 'utf8');
    await importPlans(warehouse, { orgSlug: 'saas_example', dataset: 'saas_example_dev', csvText, importedAt: new Date('2026-03-01T00:00:00Z'), runId: 'import-example' });
    const { run } = await runPipeline('saas_example', { start_date: '2026-01-01', end_date: '2026-02-28' });
    assert.equal(run.status, 'completed', run.error_message ?? '');
    const billed = await warehouse.query(`SELECT cost_date::VARCHAR AS day, billed_cost::VARCHAR AS billed FROM saas_example_dev.saas_subscription_costs_daily
                                           WHERE subscription_id = 'SUB-0001' AND billed_cost > 0 ORDER BY cost_date`);
    assert.deepEqual(billed, [{ day: '2026-01-01', billed: '270.967741935' }, { day: '2026-01-15', billed: '452.419354838' }, { day: '2026-02-01', billed: '825.000000000' }]);
    const trial = await warehouse.query(`SELECT min(cost_date)::VARCHAR AS first, min(cycle_start)::VARCHAR AS anchor FROM saas_example_dev.saas_subscription_costs_daily WHERE subscription_id = 'SUB-0007'`);
    assert.deepEqual(trial, [{ first: '2026-01-19', anchor: '2026-01-19' }], 'the free trial costs nothing and does not anchor the cycles');
    const results = await checkFocusTable(sql, { table: 'saas_example_dev.cost_data_standard_1_3', provider: 'subscription' });
    assert.deepEqual(results.filter((r) => r.status === 'fail').map((r) => r.rule_id), []);
  });

  test('a run before any plans were imported fails, naming the missing plans and the import command', async () => {
    const { run } = await runPipeline('saas_no_plans', { date: '2026-01-01' });
    assert.equal(run.status, 'failed');
    const message = run.error_message ?? '';
    assert.match(message, /no SaaS subscription plans are imported for saas_no_plans/);
    assert.match(message, /pipeline plans import saas_no_plans plans\.csv \(or PUT it as text\/csv to api\/v1\/subscriptions\/plans\/saas_no_plans\), then run this pipeline again/);
    assert.doesNotMatch(message, /does not exist|Catalog|LINE \d|SELECT|…/, 'no engine wording, statement text or masked values');
  });
});
