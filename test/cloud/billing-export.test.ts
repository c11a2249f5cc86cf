/**
 * cloud.billing_export: where exports are read from (files, globs, folders of the org's source
 * folder, integration settings, gs://, s3://, bq://) and how (format by name or declared, several
 * files with different columns). The confinement to the org's folder: source-confinement.test.ts.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canonicalName, parseColumnType } from '../../src/processors/cloud/column-names.ts';
import { duckdb, openCloudHarness, qualityOf, type CloudHarness } from './cloud-fixture.ts';

const CUR_COLUMNS = `'111122223333' AS "bill/PayerAccountId", '2026-05-01T00:00:00Z' AS "bill/BillingPeriodStartDate", '2026-06-01T00:00:00Z' AS "bill/BillingPeriodEndDate",
  'Usage' AS "lineItem/LineItemType", '2026-05-02T00:00:00Z' AS "lineItem/UsageStartDate", '2026-05-02T01:00:00Z' AS "lineItem/UsageEndDate",
  'AmazonS3' AS "lineItem/ProductCode", 'USD' AS "lineItem/CurrencyCode", '1' AS "lineItem/UsageAmount"`;

describe('cloud.billing_export sources and formats', () => {
  let h: CloudHarness;
  let dir: string;
  const run = (body: Record<string, unknown>) => h.run('aws/cost/billing', { start_date: '2026-05-01', end_date: '2026-05-31', ...body });

  before(async () => {
    h = await openCloudHarness('sources_org');
    dir = await h.folder('export-sources');
    await duckdb(
      `COPY (SELECT 'a1' AS "identity/LineItemId", ${CUR_COLUMNS}, '0.10' AS "lineItem/UnblendedCost", 'x' AS "extra/OnlyInA") TO '${join(dir, 'a.csv')}' (FORMAT csv, HEADER)`,
      `COPY (SELECT 'b1' AS "identity/LineItemId", ${CUR_COLUMNS}, '0.25' AS "lineItem/UnblendedCost", '0.2' AS "lineItem/NetUnblendedCost") TO '${join(dir, 'b.csv')}' (FORMAT csv, HEADER)`,
      `COPY (SELECT 'c1' AS "identity/LineItemId", ${CUR_COLUMNS}, '0.05' AS "lineItem/UnblendedCost") TO '${join(dir, 'export.dat')}' (FORMAT csv, HEADER)`,
    );
    await writeFile(join(dir, 'empty.csv'), '');
  });
  after(() => h.close());

  test('a glob of files with different columns is read by name: each row gets its own columns, the others null', async () => {
    const result = await run({ source_uri: 'export-sources/*.csv' });
    assert.equal(result.status, 'completed', result.error ?? '');
    const rows = await h.focusRows(result.runId);
    assert.deepEqual(rows.map((r) => [r.x_SourceRecordId, r.BilledCost]), [['a1', '0.100000000'], ['b1', '0.200000000']], 'net unblended cost where present');
    const { byRule } = await qualityOf(h, result.runId);
    assert.deepEqual(byRule.get('LOAD-FILES')?.details?.files, ['export-sources/a.csv', 'export-sources/b.csv'], 'named relative to the org folder');
    assert.deepEqual(byRule.get('LOAD-EMPTY-FILES')?.details?.files, ['export-sources/empty.csv']);
    assert.equal(byRule.get('LOAD-EMPTY-FILES')?.status, 'warn');
    assert.ok((byRule.get('LOAD-EXTRA-COLUMNS')?.details?.columns as string[]).includes('extra_only_in_a'));
    const staged = await h.query(`SELECT "identity_line_item_id", extra_only_in_a, x_source_file FROM sources_org_dev."aws_billing_export__default" ORDER BY 1`);
    assert.deepEqual(staged, [
      { identity_line_item_id: 'a1', extra_only_in_a: 'x', x_source_file: 'export-sources/a.csv' },
      { identity_line_item_id: 'b1', extra_only_in_a: null, x_source_file: 'export-sources/b.csv' },
    ]);
    const [load] = await h.query(`SELECT x_source_files FROM sources_org_dev."aws_billing_export_load__default"`);
    assert.deepEqual(load?.x_source_files, ['export-sources/a.csv', 'export-sources/b.csv']);
  });

  test('a folder reads every export file below it; a name without a known extension needs the format', async () => {
    const folder = await run({ source_uri: 'export-sources/' });
    assert.equal(folder.status, 'completed', folder.error ?? '');
    assert.equal((await h.focusRows(folder.runId)).length, 2, 'export.dat is not an export file by its name');
    const unknown = await run({ source_uri: 'export-sources/export.dat' });
    assert.equal(unknown.status, 'failed');
    assert.match(unknown.error ?? '', /cannot tell the format of export-sources\/export\.dat from its name; give the run parameter format \(csv, jsonl, parquet\)/);
    const declared = await run({ source_uri: './export-sources/export.dat', format: 'csv' });
    assert.equal(declared.status, 'completed', declared.error ?? '');
    assert.deepEqual((await h.focusRows(declared.runId)).map((r) => r.x_SourceRecordId), ['c1']);
  });

  test('without source_uri the org integration setting (credential metadata) names the export', async () => {
    const missing = await run({});
    assert.equal(missing.status, 'failed');
    assert.match(missing.error ?? '', /no cur export to load: give the run parameter source_uri, or set metadata\.source_uri on the org's aws credential/);
    await h.app.credentials.set(h.org, { provider: 'aws', secret: 'unused-for-files', metadata: { source_uri: 'export-sources/b.csv' } });
    const fromSetting = await run({});
    assert.equal(fromSetting.status, 'completed', fromSetting.error ?? '');
    assert.deepEqual((await h.focusRows(fromSetting.runId)).map((r) => r.x_SourceRecordId), ['b1']);
    await h.app.credentials.delete(h.org, 'aws');
  });

  test("gs://, s3:// and bq:// without the org's credential fail before any step, naming the one to add", async () => {
    // Reading them with a credential: remote-sources.test.ts and bigquery-source.test.ts.
    for (const [uri, provider] of [
      ['gs://billing-bucket/export/*.parquet', 'gcp'],
      ['s3://cur-bucket/cur2/data/*.parquet', 'aws'],
      ['bq://acme-billing.billing.gcp_billing_export_resource_v1_01', 'gcp'],
    ] as const) {
      const result = await run({ source_uri: uri });
      assert.equal(result.status, 'failed');
      assert.equal(result.error, `validating: no ${provider} credential "default" for sources_org; add one with: pipeline credential set sources_org ${provider}`, uri);
      assert.deepEqual(await h.app.runs.steps(h.org, result.runId).then((steps) => steps.filter((s) => s.status !== 'pending').length), 0, `${uri}: no step ran`);
    }
    const nothing = await run({ source_uri: 'export-sources/nothing-*.csv' });
    assert.match(nothing.error ?? '', /no export file matches export-sources\/nothing-\*\.csv$/);
    const missing = await run({ source_uri: 'export-sources/not-there.csv' });
    assert.match(missing.error ?? '', /source file export-sources\/not-there\.csv does not exist$/);
  });

  test('an unknown format value is refused when the run is requested', async () => {
    await assert.rejects(run({ source_uri: 'export-sources', format: 'xlsx' }), /parameter "format" must be one of auto, csv, jsonl, parquet/);
  });
});

describe('column names and types', () => {
  test('legacy CUR, CUR 2.0, Azure EA and MCA spellings meet in one canonical name', () => {
    assert.equal(canonicalName('lineItem/UnblendedCost'), 'line_item_unblended_cost');
    assert.equal(canonicalName('line_item_unblended_cost'), 'line_item_unblended_cost');
    assert.equal(canonicalName('reservation/ReservationARN'), 'reservation_reservation_a_r_n');
    assert.equal(canonicalName('CostInBillingCurrency'), canonicalName('costInBillingCurrency'));
    assert.equal(canonicalName('service.description'), 'service_description');
    assert.equal(canonicalName('tags/Oracle-Tags.CreatedBy'), 'tags_oracle_tags_created_by');
    assert.equal(canonicalName('2fa'), 'c_2fa');
  });

  test('struct types are parsed for flattening; lists and maps stay nested', () => {
    assert.deepEqual(parseColumnType('STRUCT(id VARCHAR, "full name" STRUCT(a INTEGER[]), m MAP(VARCHAR, VARCHAR))'), {
      kind: 'struct',
      fields: [
        { name: 'id', type: { kind: 'scalar', text: 'VARCHAR' } },
        { name: 'full name', type: { kind: 'struct', fields: [{ name: 'a', type: { kind: 'nested', text: 'INTEGER[]' } }] } },
        { name: 'm', type: { kind: 'nested', text: 'MAP(VARCHAR, VARCHAR)' } },
      ],
    });
    assert.deepEqual(parseColumnType('STRUCT(k VARCHAR)[]'), { kind: 'nested', text: 'STRUCT(k VARCHAR)[]' });
  });
});
