/**
 * Partitions and restatement: each charge day of a run is replaced, re-pulling month-to-date
 * reports what changed against the previous load; and the reconciliation per billing period.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CONFIGS } from '../support/test-app.ts';
import { duckdb, openCloudHarness, qualityOf, scratchDir, type CloudHarness } from './cloud-fixture.ts';

/** A CUR 2.0 export of [id, day, cost] lines. */
const writeCur = (file: string, lines: [string, number, number][]) =>
  duckdb(`COPY (SELECT * FROM (VALUES ${lines.map(([id, day, cost]) => `('${id}', ${day}, ${cost})`).join(', ')}) l(id, day, cost)
    CROSS JOIN LATERAL (SELECT
      l.id AS identity_line_item_id, '111122223333' AS bill_payer_account_id,
      TIMESTAMP '2026-05-01' AS bill_billing_period_start_date, TIMESTAMP '2026-06-01' AS bill_billing_period_end_date,
      'Usage' AS line_item_line_item_type, TIMESTAMP '2026-05-01' + to_days(l.day - 1) + INTERVAL 5 HOUR AS line_item_usage_start_date,
      TIMESTAMP '2026-05-01' + to_days(l.day - 1) + INTERVAL 6 HOUR AS line_item_usage_end_date,
      'AmazonEC2' AS line_item_product_code, 'USD' AS line_item_currency_code, 1.0 AS line_item_usage_amount, l.cost AS line_item_unblended_cost)) TO '${file}' (FORMAT parquet)`);

describe('restating charge days', () => {
  let h: CloudHarness;
  let dir: string;
  before(async () => {
    h = await openCloudHarness('restate_org');
    dir = await h.folder('restate');
  });
  after(() => h.close());

  const perDay = () => h.query(`SELECT CAST(x_pipeline_run_date AS VARCHAR) AS day, count(*)::INT AS rows, CAST(sum(BilledCost) AS VARCHAR) AS billed FROM restate_org_dev.cost_data_standard_1_3 GROUP BY 1 ORDER BY 1`);

  test('month-to-date again: changed days restated and reported, unchanged ones counted, nothing duplicated', async () => {
    const first = join(dir, 'mtd-1.parquet');
    await writeCur(first, [['a', 1, 1], ['b', 2, 2], ['c', 3, 3]]);
    const one = await h.run('aws/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-03', source_uri: h.uri(first) });
    assert.equal(one.status, 'completed', one.error ?? '');
    const firstReport = (await qualityOf(h, one.runId)).byRule;
    assert.deepEqual(firstReport.get('LOAD-CHANGES')?.details, { new: 3, restated: 0, removed: 0, unchanged: 0 });

    // The provider restated day 2 (a late line and a corrected cost) and day 4 arrived.
    const second = join(dir, 'mtd-2.parquet');
    await writeCur(second, [['a', 1, 1], ['b', 2, 2.5], ['b2', 2, 0.25], ['c', 3, 3], ['d', 4, 4]]);
    const two = await h.run('aws/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-04', source_uri: h.uri(second) });
    assert.equal(two.status, 'completed', two.error ?? '');
    const { byRule } = await qualityOf(h, two.runId);
    assert.deepEqual(byRule.get('LOAD-CHANGES')?.details, { new: 1, restated: 1, removed: 0, unchanged: 2 });
    assert.equal(byRule.get('LOAD-CHANGES')?.status, 'warn');
    const day2 = byRule.get('LOAD-DAY-2026-05-02');
    assert.equal(day2?.status, 'warn');
    assert.equal(day2?.description, '2026-05-02 restated: rows 1 -> 2, BilledCost 2.000000000 -> 2.750000000 (0.750000000)');
    assert.equal(day2?.details?.previous_run_id, one.runId);
    assert.equal(byRule.get('LOAD-DAY-2026-05-04')?.description, '2026-05-04: first load, 1 rows, BilledCost 4.000000000');
    assert.equal(byRule.get('LOAD-DAY-2026-05-01'), undefined, 'unchanged days are only counted');
    assert.deepEqual(await perDay(), [
      { day: '2026-05-01', rows: 1, billed: '1.000000000' },
      { day: '2026-05-02', rows: 2, billed: '2.750000000' },
      { day: '2026-05-03', rows: 1, billed: '3.000000000' },
      { day: '2026-05-04', rows: 1, billed: '4.000000000' },
    ]);

    // A day the provider dropped is removed from the FOCUS table and reported; days outside the run are kept.
    const third = join(dir, 'mtd-3.parquet');
    await writeCur(third, [['a', 1, 1], ['b', 2, 2.5], ['b2', 2, 0.25]]);
    const three = await h.run('aws/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-03', source_uri: h.uri(third) });
    assert.equal(three.status, 'completed', three.error ?? '');
    const removed = (await qualityOf(h, three.runId)).byRule;
    assert.deepEqual(removed.get('LOAD-CHANGES')?.details, { new: 0, restated: 0, removed: 1, unchanged: 2 });
    assert.match(removed.get('LOAD-DAY-2026-05-03')?.description ?? '', /^2026-05-03 removed: rows 1 -> 0/);
    assert.deepEqual((await perDay()).map((d) => d.day), ['2026-05-01', '2026-05-02', '2026-05-04']);
  });

  test('rows outside the run range are not converted (the range says which partitions are replaced)', async () => {
    const file = join(dir, 'wide.parquet');
    await writeCur(file, [['x', 10, 1], ['y', 11, 1], ['z', 12, 1]]);
    const run = await h.run('aws/cost/billing', { date: '2026-05-11', source_uri: h.uri(file) });
    assert.equal(run.status, 'completed', run.error ?? '');
    assert.deepEqual((await h.focusRows(run.runId)).map((r) => r.x_SourceRecordId), ['y']);
  });
});

describe('reconciliation per billing period', () => {
  let h: CloudHarness;
  let dir: string;
  before(async () => {
    dir = await scratchDir('periods');
    // The AWS pipeline whose export totals put every row a month later: the grand totals still
    // agree, each period's do not.
    const configs = join(dir, 'configs');
    await mkdir(join(configs, 'cloud', 'aws', 'cost'), { recursive: true });
    for (const shared of ['schemas', 'focus', 'system']) await symlink(join(CONFIGS, shared), join(configs, shared));
    await symlink(join(CONFIGS, 'cloud', 'opendata'), join(configs, 'cloud', 'opendata'));
    const yaml = await readFile(join(CONFIGS, 'cloud', 'aws', 'cost', 'billing.yml'), 'utf8');
    const broken = yaml.replace('SELECT bill_billing_period_start_date AS billing_period_start,', 'SELECT bill_billing_period_start_date + INTERVAL 1 MONTH AS billing_period_start,');
    assert.notEqual(broken, yaml);
    await writeFile(join(configs, 'cloud', 'aws', 'cost', 'billing.yml'), broken);
    h = await openCloudHarness('periods_org', { PIPELINE_CONFIGS_DIR: configs });
  });
  after(() => h.close());

  test('a period whose totals differ fails the conversion naming both totals, and its rows never commit', async () => {
    const file = join(h.orgFolder, 'cur.parquet');
    await writeCur(file, [['a', 1, 1.5]]);
    const run = await h.run('aws/cost/billing', { date: '2026-05-01', source_uri: 'cur.parquet' });
    assert.equal(run.status, 'failed');
    assert.equal(
      run.error,
      'generic.procedure_executor: reconciliation failed: billing period 2026-05-01 00:00:00+00: BilledCost 1.500000000 in the FOCUS rows differs from the source total 0.000000000',
    );
    const steps = await h.app.runs.steps(h.org, run.runId);
    assert.deepEqual(steps.map((s) => s.status), ['completed', 'failed', 'skipped']);
    const failed = (await h.app.runs.quality(h.org, run.runId, 'fail')).filter((r) => r.level === 'MUST').map((r) => [r.rule_id, r.details?.focus_total, r.details?.source_total]);
    assert.deepEqual(failed, [
      ['RECONCILE-BilledCost-2026-05-01', '1.500000000', '0.000000000'],
      ['RECONCILE-BilledCost-2026-06-01', '0.000000000', '1.500000000'],
    ]);
    assert.deepEqual(await h.focusRows(run.runId), []);
  });
});
