/**
 * gs:// and s3:// sources read with the org's own stored credential (issue 15, item 3), through
 * the real cloud pipelines against local GCS and S3 servers speaking the providers' wire formats:
 * CUR 2.0 Parquet from S3 and a GCP export from GCS end to end; globs over paginated listings;
 * gzip as files and as Content-Encoding; the SDKs' retries of 503 / SlowDown; a 403 that names
 * the bucket and not the secret; another org's bucket and credential out of reach; the run's
 * scratch folder bounded and removed after success and failure.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parseSourceUri } from '../../src/sources/source-uri.ts';
import { selectObjects } from '../../src/sources/object-glob.ts';
import { runScratch } from '../../src/sources/scratch.ts';
import { ProcessorError } from '../../src/shared/errors.ts';
import { curSql } from '../../scripts/bench-cloud.ts';
import { startGcsServer, type GcsTestServer } from '../support/gcs-server.ts';
import { startGoogleOAuthServer, type GoogleOAuthTestServer } from '../support/google-oauth-server.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { startStsServer, type StsTestServer } from '../support/sts-server.ts';
import { waitFor } from '../support/test-app.ts';
import { duckdb, openCloudHarness, qualityOf, scratchDir, type CloudHarness } from './cloud-fixture.ts';

const KEY_A = { access_key_id: 'AKIAORGA000000000001', secret_access_key: 'org-a-secret-access-key-DO-NOT-SHOW' };
const KEY_B = { access_key_id: 'AKIAORGB000000000002', secret_access_key: 'org-b-secret-access-key-DO-NOT-SHOW' };
const MAY = { start_date: '2026-05-01', end_date: '2026-05-31' };

/** GCP detailed-export rows as BigQuery's JSON export writes them. */
const gcpRow = (id: string, cost: number) => ({
  billing_account_id: '01A2B3-C4D5E6-F7A8B9',
  service: { id: '6F81-5844-456A', description: 'Compute Engine' },
  sku: { id: id, description: 'N2 Instance Core running in Americas' },
  usage_start_time: '2026-05-03 10:00:00 UTC',
  usage_end_time: '2026-05-03 11:00:00 UTC',
  project: { id: 'shop-prod', name: 'Shop', labels: [] },
  labels: [],
  location: { location: 'us-central1', country: 'US', region: 'us-central1', zone: 'us-central1-a' },
  cost,
  currency: 'USD',
  usage: { amount: 3600, unit: 'seconds', amount_in_pricing_units: 1, pricing_unit: 'hour' },
  credits: [],
  invoice: { month: '202605' },
  cost_type: 'regular',
});
const jsonl = (rows: object[]) => rows.map((row) => JSON.stringify(row)).join('\n') + '\n';

describe('gs:// and s3:// sources with the org credential', () => {
  let h: CloudHarness;
  let s3: S3TestServer;
  let sts: StsTestServer;
  let gcs: GcsTestServer;
  let oauth: GoogleOAuthTestServer;
  let dataDir: string;
  let parts: Buffer[];
  let curDir: string;

  const scratchLeft = async () => (await readdir(join(dataDir, 'scratch'), { recursive: true }).catch(() => [] as string[])).filter((entry) => entry.includes('-'));
  const stepOf = async (runId: string, step = 'load_export') => (await h.app.runs.steps(h.org, runId)).find((s) => s.step_id === step);

  before(async () => {
    [s3, oauth] = await Promise.all([startS3Server(), startGoogleOAuthServer()]);
    [gcs, sts] = await Promise.all([startGcsServer(oauth), startStsServer(s3)]);
    dataDir = await scratchDir('remote-data');
    h = await openCloudHarness('org_a', { PIPELINE_DATA_DIR: dataDir, AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ENDPOINT_URL_STS: sts.endpoint, GCS_API_ENDPOINT: gcs.apiEndpoint, SOURCE_SCRATCH_MAX_BYTES: String(64 * 2 ** 20) });
    await h.app.orgs.create('org_b', 'org_b', { plan: 'T', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 2 });
    await h.app.credentials.set('org_a', { provider: 'aws', secret: JSON.stringify(KEY_A), metadata: { region: 'eu-west-1' } });
    await h.app.credentials.set('org_b', { provider: 'aws', secret: JSON.stringify(KEY_B) });
    await h.app.credentials.set('org_a', { provider: 'gcp', secret: oauth.serviceAccount('billing-reader@org-a-proj.iam.gserviceaccount.com', 'org-a-proj') });
    await h.app.credentials.set('org_b', { provider: 'gcp', secret: oauth.serviceAccount('reader@org-b-proj.iam.gserviceaccount.com', 'org-b-proj') });
    s3.grant(KEY_A.access_key_id, KEY_A.secret_access_key, ['org-a-cur']);
    s3.grant(KEY_B.access_key_id, KEY_B.secret_access_key, ['org-b-cur']);
    gcs.grant('billing-reader@org-a-proj.iam.gserviceaccount.com', 'org-a-billing');
    gcs.grant('reader@org-b-proj.iam.gserviceaccount.com', 'org-b-billing');

    // A CUR 2.0 export in three Parquet parts, the way Data Exports lays it out, with its
    // manifest and a console's folder placeholder beside the data.
    const dir = (curDir = await scratchDir('cur2'));
    await duckdb(curSql(300, join(dir, 'all.parquet')));
    const files = [0, 1, 2].map((i) => join(dir, `part-${i}.parquet`));
    await duckdb(...files.map((file, i) => `COPY (SELECT * FROM read_parquet('${join(dir, 'all.parquet')}') WHERE hash(identity_line_item_id) % 3 = ${i}) TO '${file}' (FORMAT parquet)`));
    parts = await Promise.all(files.map((file) => readFile(file)));
    parts.forEach((body, i) => s3.put('org-a-cur', `cur2/acme/data/BILLING_PERIOD=2026-05/acme-0000${i + 1}.snappy.parquet`, body));
    s3.put('org-a-cur', 'cur2/acme/metadata/BILLING_PERIOD=2026-05/acme-Manifest.json', '{"columns": []}');
    s3.put('org-a-cur', 'cur2/acme/data/', '');
    s3.put('org-b-cur', 'cur2/b/data/b.parquet', parts[0]!);
    gcs.put('org-b-billing', 'export/b.json', jsonl([gcpRow('B-1', 1)]));
  });
  after(async () => {
    await h?.close();
    await Promise.all([s3?.close(), sts?.close(), gcs?.close(), oauth?.close()]);
  });

  test("a CUR 2.0 export from s3:// by a glob over paginated listings, signed with the org's key", async () => {
    s3.pageSize = 1;
    const from = s3.requests.length;
    const run = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://org-a-cur/cur2/acme/data/**/*.parquet' });
    s3.pageSize = 1000;
    assert.equal(run.status, 'completed', run.error ?? '');
    const requests = s3.requests.slice(from);
    const lists = requests.filter((r) => r.key === '');
    assert.equal(lists.length, 4, 'one object per page: the placeholder and three parts');
    assert.ok(lists.slice(1).every((r) => r.query['continuation-token']), 'later pages by continuation token');
    assert.deepEqual(lists.map((r) => r.query.prefix), lists.map(() => 'cur2/acme/data/'), 'listed from the literal part of the glob');
    assert.deepEqual(requests.filter((r) => r.key !== '').map((r) => r.key).sort(), [1, 2, 3].map((i) => `cur2/acme/data/BILLING_PERIOD=2026-05/acme-0000${i}.snappy.parquet`), 'the manifest and the placeholder are not read');
    assert.ok(requests.every((r) => r.accessKeyId === KEY_A.access_key_id && r.status === 200));

    const { byRule, failedMust } = await qualityOf(h, run.runId);
    assert.deepEqual(failedMust.map((r) => r.rule_id), []);
    assert.deepEqual(byRule.get('LOAD-FILES')?.details?.files, [1, 2, 3].map((i) => `s3://org-a-cur/cur2/acme/data/BILLING_PERIOD=2026-05/acme-0000${i}.snappy.parquet`));
    assert.deepEqual(await scratchLeft(), [], 'the scratch copies are removed when the run ends');
    // The same export as one local file gives the same FOCUS rows (the local run replaces them).
    const totals = (runId: string) => h.query(`SELECT count(*)::INTEGER AS n, sum(BilledCost)::VARCHAR AS billed, sum(EffectiveCost)::VARCHAR AS effective FROM org_a_dev.cost_data_standard_1_3 WHERE x_run_id = '${runId}'`);
    const [remote] = await totals(run.runId);
    assert.ok(Number(remote?.n) > 250, `${remote?.n} FOCUS rows`);
    await h.place(join(curDir, 'all.parquet'), 'cur2-all.parquet');
    const local = await h.run('aws/cost/billing', { ...MAY, source_uri: 'cur2-all.parquet' });
    assert.equal(local.status, 'completed', local.error ?? '');
    assert.deepEqual((await totals(local.runId))[0], remote);
  });

  test('a prefix reads the export files below it; gzip as .csv.gz and as Content-Encoding', async () => {
    const csv = (ids: string[]) =>
      `identity_line_item_id,bill_payer_account_id,bill_billing_period_start_date,bill_billing_period_end_date,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,line_item_currency_code,line_item_usage_amount,line_item_unblended_cost\n` +
      ids.map((id) => `${id},111122223333,2026-05-01T00:00:00Z,2026-06-01T00:00:00Z,Usage,2026-05-02T00:00:00Z,2026-05-02T01:00:00Z,AmazonS3,USD,1,0.10`).join('\n') + '\n';
    s3.put('org-a-cur', 'gz/2026-05/a.csv.gz', gzipSync(csv(['gz1', 'gz2'])));
    s3.put('org-a-cur', 'gz/2026-05/b.csv', gzipSync(csv(['ce1'])), { contentEncoding: 'gzip' });
    s3.put('org-a-cur', 'gz/2026-05/notes.txt.bak', 'not an export');
    const run = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://org-a-cur/gz/2026-05' });
    assert.equal(run.status, 'completed', run.error ?? '');
    assert.deepEqual((await h.focusRows(run.runId)).map((r) => r.x_SourceRecordId), ['ce1', 'gz1', 'gz2']);
  });

  test('object names with .. or a leading / never become local paths', async () => {
    const header = 'identity_line_item_id,bill_payer_account_id,bill_billing_period_start_date,bill_billing_period_end_date,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,line_item_currency_code,line_item_usage_amount,line_item_unblended_cost';
    const line = (id: string) => `${header}\n${id},111122223333,2026-05-01T00:00:00Z,2026-06-01T00:00:00Z,Usage,2026-05-02T00:00:00Z,2026-05-02T01:00:00Z,AmazonS3,USD,1,0.10\n`;
    s3.put('org-a-cur', 'evil/../../../../escaped.csv', line('dots'));
    s3.put('org-a-cur', 'evil//etc/absolute.csv', line('slash'));
    const run = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://org-a-cur/evil/' });
    assert.equal(run.status, 'completed', run.error ?? '');
    assert.deepEqual((await h.focusRows(run.runId, 'x_SourceRecordId')).map((r) => r.x_SourceRecordId), ['dots', 'slash']);
    const { byRule } = await qualityOf(h, run.runId);
    assert.deepEqual(byRule.get('LOAD-FILES')?.details?.files, ['s3://org-a-cur/evil/../../../../escaped.csv', 's3://org-a-cur/evil//etc/absolute.csv'], 'in name order');
    for (const outside of [join(dataDir, 'escaped.csv'), join(dataDir, 'scratch', 'escaped.csv'), join(dataDir, 'scratch', 'org_a', 'escaped.csv'), '/etc/absolute.csv']) assert.ok(!existsSync(outside), outside);
  });

  test("a file that does not parse is named by its object's URI, never by its scratch path or a cell", async () => {
    const header = 'identity_line_item_id,bill_payer_account_id,bill_billing_period_start_date,bill_billing_period_end_date,line_item_line_item_type,line_item_usage_start_date,line_item_usage_end_date,line_item_product_code,line_item_currency_code,line_item_usage_amount,line_item_unblended_cost';
    s3.put('org-a-cur', 'bad/cur.csv', `${header}\nb1,111122223333,2026-05-01T00:00:00Z,2026-06-01T00:00:00Z,Usage,2026-05-02T00:00:00Z,2026-05-02T01:00:00Z,AmazonS3,USD,1,SECRET-CELL-7\n`);
    const run = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://org-a-cur/bad/cur.csv' });
    assert.equal(run.status, 'failed');
    assert.match(run.error ?? '', /line_item_unblended_cost of s3:\/\/org-a-cur\/bad\/cur\.csv: a value is not a number/);
    assert.ok(!(run.error ?? '').includes('SECRET-CELL-7') && !(run.error ?? '').includes(dataDir), run.error ?? '');
    assert.deepEqual(await scratchLeft(), [], 'removed after a failed run');
  });

  test('a GCP export from gs://, gzip-encoded, over pages, with the service account the org stored', async () => {
    gcs.put('org-a-billing', 'export/2026-05/000000000000.json', jsonl([gcpRow('CP-1', 0.4)]));
    gcs.put('org-a-billing', 'export/2026-05/000000000001.json', gzipSync(jsonl([gcpRow('CP-2', 0.6), gcpRow('CP-3', 0.2)])), { contentEncoding: 'gzip' });
    gcs.put('org-a-billing', 'export/2026-05/000000000002.json', '');
    gcs.pageSize = 1;
    const from = gcs.requests.length;
    const issued = oauth.issued;
    const run = await h.run('gcp/cost/billing', { start_date: '2026-05-03', end_date: '2026-05-03', source_uri: 'gs://org-a-billing/export/2026-05/*.json' });
    gcs.pageSize = 1000;
    assert.equal(run.status, 'completed', run.error ?? '');
    assert.deepEqual((await h.focusRows(run.runId, 'SkuId')).map((r) => [r.SkuId, r.BilledCost]), [['CP-1', '0.400000000'], ['CP-2', '0.600000000'], ['CP-3', '0.200000000']]);
    const requests = gcs.requests.slice(from);
    assert.ok(requests.filter((r) => r.object === undefined).length >= 3, 'listed page by page');
    assert.ok(requests.every((r) => r.identity === 'billing-reader@org-a-proj.iam.gserviceaccount.com'), "every request authorised as the org's service account");
    assert.equal(oauth.issued, issued + 1, 'one token for the whole step');
    const { byRule } = await qualityOf(h, run.runId);
    assert.deepEqual(byRule.get('LOAD-EMPTY-FILES')?.details?.files, ['gs://org-a-billing/export/2026-05/000000000002.json']);
  });

  test('503 and SlowDown are retried by the clients; what still fails fails retryable', async () => {
    s3.fail({ operation: 'get', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.', times: 2 });
    s3.fail({ operation: 'list', status: 503, code: 'ServiceUnavailable', message: 'Service is unable to handle request.', times: 1 });
    const from = s3.requests.length;
    const run = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://org-a-cur/cur2/acme/data/BILLING_PERIOD=2026-05/acme-00001.snappy.parquet' });
    assert.equal(run.status, 'completed', run.error ?? '');
    assert.deepEqual(s3.requests.slice(from).map((r) => r.status), [503, 200, 503, 503, 200]);
    assert.equal((await stepOf(run.runId))?.attempts, 1, 'retried inside the step by the SDK');

    gcs.put('org-a-billing', 'retry/000000000000.json', jsonl([gcpRow('CP-9', 0.4)]));
    gcs.fail({ operation: 'get', status: 503, times: 1 });
    gcs.fail({ operation: 'list', status: 429, times: 1 });
    const g = await h.run('gcp/cost/billing', { start_date: '2026-05-03', end_date: '2026-05-03', source_uri: 'gs://org-a-billing/retry/000000000000.json' });
    assert.equal(g.status, 'completed', g.error ?? '');
    const retried = gcs.requests.filter((r) => (r.object ?? r.query.prefix ?? '').startsWith('retry/'));
    assert.deepEqual(retried.map((r) => [r.object === undefined ? 'list' : r.query.alt ?? 'metadata', r.status]), [['list', 429], ['list', 200], ['media', 503], ['media', 200]], JSON.stringify(retried));

    s3.fail({ operation: 'get', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.', times: 4 * 3 });
    const exhausted = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://org-a-cur/cur2/acme/data/BILLING_PERIOD=2026-05/acme-00001.snappy.parquet' });
    assert.equal(exhausted.status, 'failed');
    assert.match(exhausted.error ?? '', /reading s3:\/\/org-a-cur\/cur2\/acme\/data\/BILLING_PERIOD=2026-05\/acme-00001\.snappy\.parquet: failed \(SlowDown, HTTP 503/);
    assert.equal((await stepOf(exhausted.runId))?.attempts, 3, 'the step retried it as retryable');
    assert.deepEqual(await scratchLeft(), [], 'removed after a failed run too');
  });

  test("a 403 names the bucket and the credential, never the secret; another org's bucket is out of reach", async () => {
    const denied = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://org-b-cur/cur2/b/data/' });
    assert.equal(denied.status, 'failed');
    assert.match(denied.error ?? '', /s3:\/\/ with the org's aws credential "default": listing s3:\/\/org-b-cur\/cur2\/b\/data\/: access denied to the org's aws credential \(AccessDenied, HTTP 403/);
    for (const secret of [KEY_A.secret_access_key, KEY_B.secret_access_key]) assert.ok(!(denied.error ?? '').includes(secret));
    assert.equal((await stepOf(denied.runId))?.attempts, 1, 'not retried');

    const gsDenied = await h.run('gcp/cost/billing', { ...MAY, source_uri: 'gs://org-b-billing/export/' });
    assert.equal(gsDenied.status, 'failed');
    assert.match(gsDenied.error ?? '', /listing gs:\/\/org-b-billing\/export\/: access denied to the org's gcp service account \(forbidden, HTTP 403/);
    assert.ok(!(gsDenied.error ?? '').includes('PRIVATE KEY'));

    const missing = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://no-such-bucket/x/' });
    assert.match(missing.error ?? '', /the bucket does not exist \(NoSuchBucket, HTTP 404/);
  });

  test("org B reads only with its own credential: org A's credential id and bucket stay out of reach", async () => {
    await h.app.credentials.set('org_a', { provider: 'aws', credentialId: 'a_only', secret: JSON.stringify(KEY_A) });
    const from = s3.requests.length;
    const { run_id } = await h.app.requests.request({ orgSlug: 'org_b', route: 'aws/cost/billing', body: { ...MAY, credential_id: 'a_only', source_uri: 's3://org-a-cur/cur2/acme/data/' }, trigger: 'api', createdBy: 'test' });
    const borrowed = await waitEnd('org_b', run_id);
    assert.equal(borrowed.status, 'failed');
    assert.match(borrowed.error_message ?? '', /^validating: no aws credential "a_only" for org_b/, 'refused before any step');

    const own = await h.app.requests.request({ orgSlug: 'org_b', route: 'aws/cost/billing', body: { ...MAY, source_uri: 's3://org-a-cur/cur2/acme/data/' }, trigger: 'api', createdBy: 'test' });
    const refused = await waitEnd('org_b', own.run_id);
    assert.equal(refused.status, 'failed');
    assert.match(refused.error_message ?? '', /AccessDenied, HTTP 403/);
    assert.deepEqual([...new Set(s3.requests.slice(from).map((r) => r.accessKeyId))], [KEY_B.access_key_id], "only org B's key was ever sent for org B");
    const fine = await h.app.requests.request({ orgSlug: 'org_b', route: 'aws/cost/billing', body: { ...MAY, source_uri: 's3://org-b-cur/cur2/b/data/' }, trigger: 'api', createdBy: 'test' });
    assert.equal((await waitEnd('org_b', fine.run_id)).status, 'completed');
  });

  test('a malformed bucket, object pattern or table is refused when the run is requested', async () => {
    for (const [uri, message] of [
      ['s3://Org_A_Cur/cur2/', /^parameter "source_uri" s3:\/\/ needs a bucket name of 3-63 lowercase letters/],
      ['gs://org-a-billing/export/../../other/', /^parameter "source_uri" gs:\/\/ object names here contain no \. or \.\. segments$/],
      ['bq://acme-billing.billing_export.t`; DROP TABLE x', /^parameter "source_uri" bq:\/\/ names a table as bq:\/\/project\.dataset\.table/],
    ] as const) {
      await assert.rejects(h.app.requests.request({ orgSlug: 'org_a', route: 'aws/cost/billing', body: { ...MAY, source_uri: uri }, trigger: 'api', createdBy: 'test' }), (error: Error & { field?: string }) => {
        assert.match(error.message, message, uri);
        assert.equal(error.field, 'source_uri');
        return true;
      });
    }
  });

  test("a role the org's keys assume: its STS session keys read the bucket; a role that does not trust them, or a wrong external id, fails naming the role", async () => {
    const VENDOR = { access_key_id: 'AKIAVENDOR0000000003', secret_access_key: 'vendor-secret-access-key-DO-NOT-SHOW' };
    const ROLE = 'arn:aws:iam::111122223333:role/cur-reader';
    sts.key(VENDOR.access_key_id, VENDOR.secret_access_key);
    sts.role(ROLE, { trusts: [VENDOR.access_key_id], externalId: 'org-a-7f3c', buckets: ['org-a-cur'] });
    const metadata = { region: 'eu-west-1', role_arn: ROLE, external_id: 'org-a-7f3c' };
    await h.app.credentials.set('org_a', { provider: 'aws', credentialId: 'vendor', secret: JSON.stringify(VENDOR), metadata });
    const fromSts = sts.requests.length;
    const fromS3 = s3.requests.length;
    const run = await h.run('aws/cost/billing', { ...MAY, credential_id: 'vendor', source_uri: 's3://org-a-cur/cur2/acme/data/**/*.parquet' });
    assert.equal(run.status, 'completed', run.error ?? '');
    const assumed = sts.requests.slice(fromSts);
    assert.equal(assumed.length, 1, 'one session for the whole run');
    assert.deepEqual({ ...assumed[0], issued: undefined }, { accessKeyId: VENDOR.access_key_id, roleArn: ROLE, roleSessionName: `finops-pipeline-${run.runId}`, externalId: 'org-a-7f3c', durationSeconds: 3600, status: 200, issued: undefined });
    const read = s3.requests.slice(fromS3);
    assert.ok(read.length >= 4, 'listed, then read three parts');
    assert.ok(read.every((request) => request.accessKeyId === assumed[0]?.issued && request.status === 200), 'every S3 request signed by the session, with its token');
    assert.ok((await h.app.runs.steps(h.org, run.runId)).every((step) => step.status === 'completed'));

    await h.app.credentials.set('org_a', { provider: 'aws', credentialId: 'vendor', secret: JSON.stringify(VENDOR), metadata: { ...metadata, external_id: 'guessed-id' } });
    const before = sts.requests.length;
    const wrong = await h.run('aws/cost/billing', { ...MAY, credential_id: 'vendor', source_uri: 's3://org-a-cur/cur2/' });
    assert.equal(wrong.status, 'failed');
    assert.match(wrong.error ?? '', /s3:\/\/ with the org's aws credential "vendor": assuming role arn:aws:iam::111122223333:role\/cur-reader failed \(AccessDenied, HTTP 403: User: .* is not authorized to perform: sts:AssumeRole/);
    assert.equal(sts.requests.length - before, 1, 'a refusal is not retried');
    assert.ok(!(wrong.error ?? '').includes(VENDOR.secret_access_key));

    // The org's own keys, trusted by no role: STS says so; a throttled STS is asked again.
    await h.app.credentials.set('org_a', { provider: 'aws', credentialId: 'untrusted', secret: JSON.stringify(KEY_A), metadata: { role_arn: ROLE, external_id: 'org-a-7f3c' } });
    sts.key(KEY_A.access_key_id, KEY_A.secret_access_key);
    sts.fail({ status: 400, code: 'Throttling', message: 'Rate exceeded', times: 1 });
    const untrusted = await h.run('aws/cost/billing', { ...MAY, credential_id: 'untrusted', source_uri: 's3://org-a-cur/cur2/' });
    assert.match(untrusted.error ?? '', /assuming role arn:aws:iam::111122223333:role\/cur-reader failed \(AccessDenied, HTTP 403/);
    assert.deepEqual(sts.requests.slice(-2).map((request) => request.status), [400, 403], 'throttled, asked again, refused');
  });

  test('a credential that cannot read remote sources is refused naming what it needs', async () => {
    await h.app.credentials.set('org_a', { provider: 'aws', credentialId: 'role', secret: JSON.stringify(KEY_A), metadata: { role_arn: 'cur-reader' } });
    await h.app.credentials.set('org_a', { provider: 'aws', credentialId: 'text', secret: 'AKIA-not-json' });
    const role = await h.run('aws/cost/billing', { ...MAY, credential_id: 'role', source_uri: 's3://org-a-cur/cur2/' });
    assert.match(role.error ?? '', /the org's aws credential "role" has a metadata\.role_arn that is not an IAM role ARN such as arn:aws:iam::111122223333:role\/cur-reader/);
    const text = await h.run('aws/cost/billing', { ...MAY, credential_id: 'text', source_uri: 's3://org-a-cur/cur2/' });
    assert.match(text.error ?? '', /the org's aws credential "text" is not JSON access keys/);
    assert.ok(!(text.error ?? '').includes('AKIA-not-json'));
  });

  test('cancelling the run aborts the download under way and removes the scratch folder', async () => {
    s3.put('org-a-cur', 'slow/cur.csv', 'x'.repeat(200_000));
    s3.trickleBytes = 1000;
    try {
      const aborted = s3.abortedBodies;
      const { run_id } = await h.app.requests.request({ orgSlug: 'org_a', route: 'aws/cost/billing', body: { ...MAY, source_uri: 's3://org-a-cur/slow/cur.csv' }, trigger: 'api', createdBy: 'test' });
      await waitFor(async () => (await scratchLeft()).some((entry) => entry.endsWith('.part')), 20_000, 'the download to start');
      await h.app.requests.cancel('org_a', run_id, 'test');
      const run = await waitEnd('org_a', run_id);
      assert.equal(run.status, 'cancelled');
      assert.equal(s3.abortedBodies, aborted + 1, 'the download was cut, not finished in the background');
      assert.deepEqual(await scratchLeft(), []);
    } finally {
      s3.trickleBytes = 0;
    }
  });

  async function waitEnd(org: string, runId: string) {
    for (;;) {
      const run = await h.app.runs.get(org, runId);
      if (run && ['completed', 'failed', 'cancelled'].includes(run.status)) return run;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
});

describe('the scratch cap', () => {
  test('a source larger than SOURCE_SCRATCH_MAX_BYTES is refused before anything is downloaded', async () => {
    const s3 = await startS3Server();
    const dataDir = await scratchDir('capped-data');
    const h = await openCloudHarness('capped', { PIPELINE_DATA_DIR: dataDir, AWS_ENDPOINT_URL_S3: s3.endpoint, SOURCE_SCRATCH_MAX_BYTES: '1000' });
    try {
      await h.app.credentials.set('capped', { provider: 'aws', secret: JSON.stringify(KEY_A) });
      s3.grant(KEY_A.access_key_id, KEY_A.secret_access_key, ['capped-cur']);
      s3.put('capped-cur', 'cur/a.csv', 'x'.repeat(600));
      s3.put('capped-cur', 'cur/b.csv', 'x'.repeat(600));
      // Stored gzip-encoded: 1 KiB on the wire, 100 KiB decoded, found out while it streams.
      s3.put('capped-cur', 'bomb/c.csv', gzipSync('y'.repeat(100_000)), { contentEncoding: 'gzip' });
      const run = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://capped-cur/cur/' });
      assert.equal(run.status, 'failed');
      assert.match(run.error ?? '', /s3:\/\/capped-cur\/cur\/ \(2 objects, 1200 bytes\) would take the run's downloads past 1000 bytes, the limit SOURCE_SCRATCH_MAX_BYTES sets/);
      assert.deepEqual(s3.requests.filter((r) => r.key !== '').length, 0, 'nothing downloaded');
      const bomb = await h.run('aws/cost/billing', { ...MAY, source_uri: 's3://capped-cur/bomb/c.csv' });
      assert.match(bomb.error ?? '', /s3:\/\/capped-cur\/bomb\/c\.csv, decoded, would take the run's downloads past 1000 bytes/);
      assert.deepEqual((await readdir(join(dataDir, 'scratch', 'capped')).catch(() => [])), [], 'the partial download removed with the run');
    } finally {
      await h.close();
      await s3.close();
    }
  });
});

describe('runScratch', () => {
  test("counts bytes per run, gives a failed attempt's back, and clears the run's earlier claims", async () => {
    const dataDir = await scratchDir('scratch-unit');
    const { mkdir: mkdirs, writeFile } = await import('node:fs/promises');
    await mkdirs(join(dataDir, 'scratch', 'org_x', 'run-1-1', 'load'), { recursive: true });
    await writeFile(join(dataDir, 'scratch', 'org_x', 'run-1-1', 'load', '000001.csv'), 'left by a worker that died');
    await mkdirs(join(dataDir, 'scratch', 'org_x', 'run-10-1'), { recursive: true });
    const scratch = runScratch({ dataDir, orgSlug: 'org_x', runId: 'run-1', claim: 2, maxBytes: 100 });
    const first = await scratch.folder('load_export-cur');
    assert.deepEqual((await readdir(join(dataDir, 'scratch', 'org_x'))).sort(), ['run-1-2', 'run-10-1'], "only this run's earlier claim is removed");
    first.add(60, 'a');
    assert.throws(() => first.add(41, 'the next object'), (error: Error) => error instanceof ProcessorError && !error.retryable && /^the next object would take the run's downloads past 100 bytes, the limit SOURCE_SCRATCH_MAX_BYTES sets/.test(error.message));
    const again = await scratch.folder('load_export-cur');
    again.add(100, 'a retry of the same source');
    await scratch.remove();
    assert.deepEqual(await readdir(join(dataDir, 'scratch', 'org_x')), ['run-10-1']);
    assert.throws(() => runScratch({ dataDir, orgSlug: '../x', runId: 'r', claim: 1, maxBytes: 1 }), /org id "\.\.\/x" is not an id/);
  });
});

describe('parseSourceUri and selectObjects: remote sources by their spelling', () => {
  test('buckets, object patterns and tables are parsed and validated', () => {
    assert.deepEqual(parseSourceUri('s3://cur-bucket/cur2/data/**/*.parquet'), { kind: 'object_store', scheme: 's3', bucket: 'cur-bucket', pattern: 'cur2/data/**/*.parquet', uri: 's3://cur-bucket/cur2/data/**/*.parquet' });
    assert.deepEqual(parseSourceUri('gs://my_bucket'), { kind: 'object_store', scheme: 'gs', bucket: 'my_bucket', pattern: '', uri: 'gs://my_bucket' });
    assert.deepEqual(parseSourceUri('bq://acme-billing.billing_export.gcp_billing_export_resource_v1_01A2B3'), {
      kind: 'bigquery_table', project: 'acme-billing', dataset: 'billing_export', table: 'gcp_billing_export_resource_v1_01A2B3', uri: 'bq://acme-billing.billing_export.gcp_billing_export_resource_v1_01A2B3',
    });
    assert.equal(parseSourceUri('bq://example.com:acme-billing.d.t').kind, 'bigquery_table');
    for (const uri of ['s3://Upper/x', 's3://a/x', 's3://my_bucket/x', 's3://b..c/x', 's3://192.168.0.1/x', 'gs://bucket/a/../b', 'gs://bucket/./x', 's3://bucket//etc/passwd', 'gs://bucket/x\u0001y', `s3://bucket/${'k'.repeat(1025)}`,
      'bq://p.d.t', 'bq://acme-billing.d', 'bq://acme-billing.d.t;DROP', 'bq://acme-billing.d`.t', 'bq://acme-billing.d.t.x']) {
      assert.equal(parseSourceUri(uri).kind, 'refused', uri);
    }
  });

  test('globs match within or across segments; a name or a folder without them', () => {
    const glob = selectObjects('cur2/data/**/*.parquet');
    assert.equal(glob.prefix, 'cur2/data/');
    assert.ok(glob.matches('cur2/data/x.parquet') && glob.matches('cur2/data/BILLING_PERIOD=2026-05/x.parquet'));
    assert.ok(!glob.matches('cur2/data/x.parquet.json') && !glob.matches('cur2/other/x.parquet'));
    const one = selectObjects('exports/2026-0?/*.csv.gz');
    assert.ok(one.matches('exports/2026-05/a.csv.gz') && !one.matches('exports/2026-05/sub/a.csv.gz') && !one.matches('exports/2026-10/a.csv.gz'));
    assert.ok(selectObjects('a+b (1)/[x].csv*').matches('a+b (1)/[x].csv.gz'), 'other characters stand for themselves');
    const folder = selectObjects('cur');
    assert.deepEqual([folder.prefix, folder.exact], ['cur', 'cur']);
    assert.ok(folder.matches('cur/a.csv') && !folder.matches('cur2/a.csv'));
    assert.equal(selectObjects('cur/').exact, undefined);
  });
});
