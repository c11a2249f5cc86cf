/**
 * Every provider's shared sample, rewritten as each realistic variant (support/export-variants.ts),
 * converts through its pipeline, passes the conformance check and reconciles; the FOCUS file
 * `pipeline export` writes passes `validate-focus` (each row under its own profile) with 0 MUST
 * failures and sums to the export's own BilledCost; a second run writes the same rows.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportOrgTable } from '../../src/focus/export-focus.ts';
import { validateFocusFile } from '../../src/focus/validate-focus-file.ts';
import { SAMPLES, duckdb, openCloudHarness, qualityOf, skipWithoutShared, type CloudHarness } from './cloud-fixture.ts';
import { PROVIDER_SAMPLES, VARIANTS, writeVariant, type ProviderSample, type Variant } from './support/export-variants.ts';

/** The columns of a row that a re-run may change: lineage. */
const LINEAGE = ['x_run_id', 'x_ingested_at', 'x_ingestion_date'];
const stable = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !LINEAGE.includes(k))));

// One harness for every provider (opening one takes seconds on a busy 2-core machine); the
// providers' pipelines, and the AWS CUR and FOCUS samples' days, never share a partition.
describe('realistic export variants, per provider', () => {
  let h: CloudHarness;
  let dir: string;
  before(async () => {
    h = await openCloudHarness('variants_org');
    dir = await h.folder('variants');
  });
  after(() => h.close());

  for (const sample of PROVIDER_SAMPLES) {
    const skip = existsSync(sample.file) ? false : `${sample.file} is absent (the shared research folder)`;
    for (const variant of VARIANTS) {
      test(`${sample.name}: ${variant}`, { skip }, async () => {
        const { file, billedTotal } = await writeVariant(sample, variant, dir);
        const first = await convertAndCheck(h, sample, variant, file, billedTotal, dir);
        if (variant === 'blanks') {
          const again = await h.run(sample.route, { start_date: sample.start, end_date: sample.end, source_uri: h.uri(file) });
          assert.equal(again.status, 'completed', again.error ?? '');
          assert.deepEqual(stable(await h.focusRows(again.runId)), stable(first), 'a second run writes identical rows');
        }
      });
    }
  }

  test('a unit no mapping knows is kept as written and named by the load report', { skip: skipWithoutShared(SAMPLES) }, async () => {
    const file = join(dir, 'oci-unknown-unit.csv');
    await duckdb(`COPY (SELECT * REPLACE (CASE WHEN "lineItem/referenceNo" = 'my-resource-no4' THEN 'Widget Fortnights' ELSE "cost/skuUnitDescription" END AS "cost/skuUnitDescription")
                  FROM read_csv('${join(SAMPLES, 'oci/koku__oci_reports_cost-csv_0001000000603747.csv')}', all_varchar = true)) TO '${file}' (FORMAT csv, HEADER)`);
    const run = await h.run('oci/cost/billing', { start_date: '2022-04-01', end_date: '2022-04-30', source_uri: h.uri(file) });
    assert.equal(run.status, 'completed', run.error ?? '');
    const units = (await h.focusRows(run.runId)).map((r) => r.PricingUnit);
    assert.ok(units.includes('Widget Fortnights') && units.includes('GB-Months') && units.includes('10000 Requests'), units.join(', '));
    const warning = (await qualityOf(h, run.runId)).byRule.get('UNMAPPED-UNITS');
    assert.deepEqual([warning?.status, warning?.failing_rows], ['warn', 2], 'PricingUnit and ConsumedUnit of the one row');
    assert.match(String(warning?.description), /Widget Fortnights/);
  });
});

async function convertAndCheck(h: CloudHarness, sample: ProviderSample, variant: Variant, file: string, billedTotal: number, dir: string) {
  const run = await h.run(sample.route, { start_date: sample.start, end_date: sample.end, source_uri: h.uri(file) });
  assert.equal(run.status, 'completed', run.error ?? '');
  const { byRule, failedMust } = await qualityOf(h, run.runId);
  assert.deepEqual(failedMust.map((r) => `${r.rule_id}: ${r.description}`), [], 'the conformance check of the write');
  for (const id of ['RECONCILE-BilledCost', 'RECONCILE-EffectiveCost']) assert.equal(byRule.get(id)?.status, 'pass', id);
  assert.equal(byRule.get('UNMAPPED-UNITS')?.status, 'pass', String(byRule.get('UNMAPPED-UNITS')?.description));
  const rows = await h.focusRows(run.runId);
  assert.ok(rows.length > 0);
  for (const row of rows) {
    for (const [column, value] of Object.entries(row)) assert.ok(typeof value !== 'string' || value.trim() !== '', `${column} of ${String(row.x_SourceRecordId)} is an empty string`);
    assert.ok(row.PricingCurrency !== null && row.PricingCurrencyEffectiveCost !== null, 'PricingCurrency and its effective cost are filled');
  }

  // What a user gets: `pipeline export` of the run, checked by `validate-focus` without options.
  const path = join(dir, `${sample.name}-${variant}.focus.csv`);
  await exportOrgTable(h.app.warehouse!, { orgSlug: h.org, env: 'dev', runId: run.runId, format: 'csv', path });
  const { results, summary } = await validateFocusFile(path);
  assert.deepEqual(results.filter((r) => r.level === 'MUST' && r.status === 'fail').map((r) => `${r.rule_id}: ${r.description}`), [], 'validate-focus of the exported file');
  assert.ok(summary.must.passed > 150, 'the file check ran');
  const [sum] = await h.query(`SELECT sum(CAST(BilledCost AS DECIMAL(38, 9)))::DOUBLE AS billed FROM read_csv('${path}', all_varchar = true)`);
  assert.ok(Math.abs(Number(sum?.billed) - billedTotal) <= 1e-6, `BilledCost ${String(sum?.billed)} against the export's ${billedTotal}`);
  return rows;
}
