/**
 * Sources are confined per tenant (issue 10, item 2): org X reads files only below
 * `{PIPELINE_SOURCE_ROOT}/X/`. A path leading out (absolute, `..`, a glob, a symlink) is refused
 * at admission with a 400 naming the parameter, and again by the processor right before reading
 * (the operator's credential setting is only checked there); no error shows a cell value or a
 * server path outside the org's folder.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import { parseSourceUri } from '../../src/sources/source-uri.ts';
import { ROOT_KEY } from '../support/test-app.ts';
import { call } from '../api/api-helpers.ts';
import { duckdb, openCloudHarness, type CloudHarness } from './cloud-fixture.ts';

const CUR_COLUMNS = `'111122223333' AS "bill/PayerAccountId", '2026-05-01T00:00:00Z' AS "bill/BillingPeriodStartDate", '2026-06-01T00:00:00Z' AS "bill/BillingPeriodEndDate",
  'Usage' AS "lineItem/LineItemType", '2026-05-02T00:00:00Z' AS "lineItem/UsageStartDate", '2026-05-02T01:00:00Z' AS "lineItem/UsageEndDate",
  'AmazonS3' AS "lineItem/ProductCode", 'USD' AS "lineItem/CurrencyCode", '1' AS "lineItem/UsageAmount"`;
const curCsv = (file: string, id: string, cost = '0.10') => `COPY (SELECT '${id}' AS "identity/LineItemId", ${CUR_COLUMNS}, '${cost}' AS "lineItem/UnblendedCost") TO '${file}' (FORMAT csv, HEADER)`;
const RANGE = { start_date: '2026-05-01', end_date: '2026-05-31' };

describe('sources are confined to the org folder', () => {
  let h: CloudHarness;
  let server: FastifyInstance;
  let apiKey: string;
  let victim: string;
  const request = (route: string, body: Record<string, unknown>) =>
    call(server, { method: 'POST', url: `/api/v1/pipelines/run/tenant_a/${route}`, headers: { 'x-api-key': apiKey }, payload: { ...RANGE, ...body } });
  /** A request refused at admission: 400, the parameter named, no server path in the body, no run. */
  const refused = async (body: Record<string, unknown>, field = 'source_uri', route = 'aws/cost/billing') => {
    const before = (await h.app.orgs.subscription('tenant_a')).runs_today;
    const response = await request(route, body);
    assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
    const error = (response.json() as { error: { code: string; field?: string; message: string } }).error;
    assert.deepEqual([error.code, error.field], ['invalid_input', field], JSON.stringify(body));
    assert.ok(!response.body.includes(h.sourceRoot), `${JSON.stringify(body)}: the body shows the server path: ${response.body}`);
    assert.equal((await h.app.orgs.subscription('tenant_a')).runs_today, before, 'nothing admitted');
    return error.message;
  };

  before(async () => {
    h = await openCloudHarness('tenant_a');
    await h.app.orgs.create('tenant_b', 'tenant_b', { plan: 'T', status: 'ACTIVE', daily_limit: 10, monthly_limit: 10, concurrent_limit: 1 });
    const other = join(h.sourceRoot, 'tenant_b');
    await mkdir(other, { recursive: true });
    victim = join(other, 'cur.csv');
    await duckdb(curCsv(victim, 'b-secret'), curCsv(join(h.orgFolder, 'cur.csv'), 'a1'));
    await symlink(victim, join(h.orgFolder, 'link.csv'));
    await symlink(join(other, 'no-such-file.csv'), join(h.orgFolder, 'dangling.csv'));
    await symlink(other, join(h.orgFolder, 'linked'));
    const mixed = await h.folder('mixed');
    await duckdb(curCsv(join(mixed, 'own.csv'), 'a2'));
    await symlink(victim, join(mixed, 'secret.csv'));
    // A link inside the folder to a file inside it is fine.
    await symlink(join(h.orgFolder, 'cur.csv'), join(h.orgFolder, 'alias.csv'));
    server = await buildServer(h.app);
    const key = await call(server, { method: 'POST', url: '/api/v1/admin/orgs/tenant_a/keys', headers: { 'x-ca-root-key': ROOT_KEY } });
    apiKey = (key.json() as { api_key: string }).api_key;
  });
  after(async () => {
    await server?.close();
    await h?.close();
  });

  test('a valid relative path converts; the same name in another org folder is not read', async () => {
    const response = await request('aws/cost/billing', { source_uri: 'cur.csv' });
    assert.equal(response.statusCode, 202, response.body);
    const run = await h.run('aws/cost/billing', { ...RANGE, source_uri: 'alias.csv' });
    assert.equal(run.status, 'completed', run.error ?? '');
    assert.deepEqual((await h.focusRows(run.runId)).map((r) => r.x_SourceRecordId), ['a1']);
  });

  test('an absolute path is refused with a 400 naming the parameter', async () => {
    for (const uri of [victim, '/etc/passwd', 'file:///etc/passwd', '~/x.csv', '{/etc/passwd,cur.csv}']) {
      assert.match(await refused({ source_uri: uri }), /^parameter "source_uri" (must be a path relative to the org's source folder|uses the unsupported scheme file)/, uri);
    }
    await refused({ source_uri: join(h.orgFolder, 'cur.csv') }, 'source_uri');
  });

  test("../ into another org's folder is refused, in either Azure parameter", async () => {
    for (const uri of ['../tenant_b/cur.csv', 'x/../../tenant_b/cur.csv', '..', 'a/..\\..\\tenant_b/cur.csv']) await refused({ source_uri: uri });
    await refused({ source_uri: 'cur.csv', actual_source_uri: '../tenant_b/cur.csv' }, 'actual_source_uri', 'azure/cost/billing');
  });

  test('a glob leading out is refused, by its spelling or by what it matches', async () => {
    for (const uri of ['{..,x}/tenant_b/*.csv', '*/../../tenant_b/*.csv', '@(..)/tenant_b/*']) await refused({ source_uri: uri });
    // `**` walks into the linked folder (node's fs.glob follows directory links): one match outside refuses it all.
    assert.match(await refused({ source_uri: '**/*.csv' }), /^parameter "source_uri": (linked\/cur\.csv|link\.csv|dangling\.csv) \(matched by \*\*\/\*\.csv\) leads outside the org's source folder/);
    await refused({ source_uri: 'linked/*.csv' });
  });

  test("a symlink inside the org folder to another org's file is refused, and says nothing of what exists there", async () => {
    const existing = await refused({ source_uri: 'link.csv' });
    assert.equal(existing, `parameter "source_uri": link.csv leads outside the org's source folder (or is a broken link)`);
    const missing = await refused({ source_uri: 'dangling.csv' });
    assert.equal(missing.replace('dangling', 'link'), existing, 'an existing and a missing target read the same');
    await refused({ source_uri: 'linked/cur.csv' });
    await refused({ source_uri: 'linked' });
    await refused({ source_uri: 'linked/not-there.csv' }, 'source_uri');
  });

  test('credential metadata pointing outside is refused when the run reads it, before anything is read', async () => {
    for (const [uri, message] of [
      [victim, /^cloud\.billing_export: metadata\.source_uri of the org's aws credential must be a path relative to the org's source folder, not an absolute path$/],
      ['../tenant_b/cur.csv', /^cloud\.billing_export: metadata\.source_uri of the org's aws credential must stay inside the org's source folder \(no \.\. segments\)$/],
      // Not checked at admission (it is no run parameter): the processor's own check refuses the link.
      ['link.csv', /^cloud\.billing_export: link\.csv leads outside the org's source folder \(or is a broken link\)$/],
      ['linked/', /^cloud\.billing_export: linked\/ leads outside the org's source folder \(or is a broken link\)$/],
      // A folder of the org's own files with one link out among them: the whole folder is refused.
      ['mixed', /^cloud\.billing_export: mixed\/secret\.csv \(matched by mixed\) leads outside the org's source folder \(or is a broken link\)$/],
    ] as const) {
      await h.app.credentials.set('tenant_a', { provider: 'aws', secret: 'unused-for-files', metadata: { source_uri: uri } });
      const run = await h.run('aws/cost/billing', RANGE);
      assert.equal(run.status, 'failed', uri);
      assert.match(run.error ?? '', message);
      assert.ok(!(run.error ?? '').includes(h.sourceRoot), run.error ?? '');
      const [load] = await h.app.runs.steps('tenant_a', run.runId);
      assert.deepEqual([load?.step_id, load?.status, load?.attempts], ['load_export', 'failed', 1], 'refused once, not retried');
    }
    await h.app.credentials.delete('tenant_a', 'aws');
    const staged = await h.query(`SELECT count(*)::INTEGER AS n FROM tenant_a_dev."aws_billing_export__default" WHERE "identity_line_item_id" = 'b-secret'`);
    assert.deepEqual(staged, [{ n: 0 }], "the other org's row was never staged");
  });

  test('the error of a bad file shows neither its cell values nor the server path', async () => {
    const bad = await h.folder('bad');
    await duckdb(curCsv(join(bad, 'cur.csv'), 'x1', 'SECRET-CELL-42'));
    const run = await h.run('aws/cost/billing', { ...RANGE, source_uri: 'bad/cur.csv' });
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /column lineItem\/UnblendedCost of bad\/cur\.csv: a value is not a number/);
    assert.ok(!(run.error ?? '').includes('SECRET-CELL-42'), run.error ?? '');
    assert.ok(!(run.error ?? '').includes(h.sourceRoot), run.error ?? '');

    // DuckDB's own message names the file by its server path: shown relative to the org folder.
    await writeFile(join(bad, 'billing.jsonl'), '{"cost": 1}\n{"cost": SECRET-CELL-43}\n');
    const json = await h.run('gcp/cost/billing', { ...RANGE, source_uri: 'bad/billing.jsonl' });
    assert.equal(json.status, 'failed');
    assert.match(json.error ?? '', /^cloud\.billing_export: bad\/billing\.jsonl: cannot read the jsonl export: Malformed JSON in file "bad\/billing\.jsonl"/);
    assert.ok(!(json.error ?? '').includes('SECRET-CELL-43'), json.error ?? '');
    assert.ok(!(json.error ?? '').includes(h.sourceRoot), json.error ?? '');

    // A CSV error prints the raw line before it: that line is never shown.
    await duckdb(curCsv(join(bad, 'latin1.csv'), 'SECRET-CELL-44'));
    await appendFile(join(bad, 'latin1.csv'), Buffer.from([0xff, 0xfe, 0x0a]));
    const csv = await h.run('aws/cost/billing', { ...RANGE, source_uri: 'bad/latin1.csv' });
    assert.equal(csv.status, 'failed');
    assert.match(csv.error ?? '', /^cloud\.billing_export: bad\/latin1\.csv: cannot read the csv export: CSV Error on Line: \d+: Invalid unicode .* \(file bad\/latin1\.csv\)$/);
    assert.ok(!(csv.error ?? '').includes('SECRET-CELL-44'), csv.error ?? '');
  });
});

describe('parseSourceUri: what a source_uri names, by its spelling', () => {
  test('relative paths, folders and globs stay in the org folder; cloud URIs are remote', () => {
    assert.deepEqual(parseSourceUri('cur/2026-05/*.parquet'), { kind: 'org', path: 'cur/2026-05/*.parquet' });
    assert.deepEqual(parseSourceUri('./exports/'), { kind: 'org', path: 'exports/' });
    assert.deepEqual(parseSourceUri('cur..2026.csv'), { kind: 'org', path: 'cur..2026.csv' }, 'two dots inside a name are no parent folder');
    assert.deepEqual(parseSourceUri('s3://cur/x/*.parquet'), { kind: 'object_store', scheme: 's3', bucket: 'cur', pattern: 'x/*.parquet', uri: 's3://cur/x/*.parquet' });
    assert.deepEqual(parseSourceUri('gs://bkt/x.parquet'), { kind: 'object_store', scheme: 'gs', bucket: 'bkt', pattern: 'x.parquet', uri: 'gs://bkt/x.parquet' });
    assert.deepEqual(parseSourceUri('bq://proj-1.d.t'), { kind: 'bigquery_table', project: 'proj-1', dataset: 'd', table: 't', uri: 'bq://proj-1.d.t' });
  });

  test('absolute paths, parent segments (also in glob syntax), backslashes, NUL and other schemes are refused', () => {
    for (const uri of ['/etc/passwd', '~/.ssh/id_rsa', 'a/{/etc/passwd,b}', '..', '../x', 'a/../../x', '{..,a}/x', '@(..)/x', 'a\\..\\x', 'a\0b', 'file:///etc/passwd', 'http://host/x.csv']) {
      assert.equal(parseSourceUri(uri).kind, 'refused', uri);
    }
  });
});
