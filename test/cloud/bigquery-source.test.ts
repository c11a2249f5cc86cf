/**
 * bq://project.dataset.table in embedded mode (issue 15, item 3): the customer's GCP billing
 * export read with the org's service account through the real GCP pipeline, against a local
 * BigQuery REST server: one query of the run's days with parameters and labels, its result
 * pages streamed into the run's scratch folder as JSON lines, converted to FOCUS like a JSON
 * export file; another org's service account refused; BigQuery's errors named, never the key.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBigQueryQueryServer, type BigQueryQueryServer } from '../support/bigquery-query-server.ts';
import { startGoogleOAuthServer, type GoogleOAuthTestServer } from '../support/google-oauth-server.ts';
import { openCloudHarness, qualityOf, scratchDir, type CloudHarness } from './cloud-fixture.ts';

const TABLE = 'bq://acme-billing.billing_export.gcp_billing_export_resource_v1_01A2B3';
const READER = 'pipelines@org-a-proj.iam.gserviceaccount.com';

/** A detailed-export row as TO_JSON_STRING writes it (RFC 3339 timestamps, nested records). */
const row = (sku: string, cost: number, start: string) => ({
  billing_account_id: '01A2B3-C4D5E6-F7A8B9',
  service: { id: '6F81-5844-456A', description: 'Compute Engine' },
  sku: { id: sku, description: 'N2 Instance Core running in Americas' },
  usage_start_time: start,
  usage_end_time: start.replace('T10', 'T11'),
  project: { id: 'shop-prod', name: 'Shop', labels: [{ key: 'env', value: 'prod' }] },
  labels: [{ key: 'team', value: 'checkout' }],
  location: { location: 'us-central1', country: 'US', region: 'us-central1', zone: 'us-central1-a' },
  cost,
  currency: 'USD',
  usage: { amount: 3600, unit: 'seconds', amount_in_pricing_units: 1, pricing_unit: 'hour' },
  credits: [],
  invoice: { month: '202605' },
  cost_type: 'regular',
});

describe('bq:// billing export tables, embedded', () => {
  let h: CloudHarness;
  let bq: BigQueryQueryServer;
  let oauth: GoogleOAuthTestServer;
  let dataDir: string;

  before(async () => {
    oauth = await startGoogleOAuthServer();
    bq = await startBigQueryQueryServer(oauth);
    dataDir = await scratchDir('bq-data');
    h = await openCloudHarness('bq_org', { PIPELINE_DATA_DIR: dataDir, BIGQUERY_API_ENDPOINT: bq.apiEndpoint });
    await h.app.orgs.create('bq_other', 'bq_other', { plan: 'T', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 2 });
    await h.app.credentials.set('bq_org', { provider: 'gcp', secret: oauth.serviceAccount(READER, 'org-a-proj') });
    await h.app.credentials.set('bq_other', { provider: 'gcp', secret: oauth.serviceAccount('other@org-b-proj.iam.gserviceaccount.com', 'org-b-proj') });
    bq.grant(READER, 'acme-billing', 'billing_export');
    bq.table('acme-billing', 'billing_export', 'gcp_billing_export_resource_v1_01A2B3', [
      row('CP-1', 0.4, '2026-05-03T10:00:00Z'),
      row('CP-2', 0.6, '2026-05-03T10:00:00Z'),
      row('CP-3', 0.25, '2026-05-04T10:00:00Z'),
      row('OUT', 9, '2026-05-02T10:00:00Z'),
    ]);
  });
  after(async () => {
    await h?.close();
    await bq?.close();
    await oauth?.close();
  });

  test("the run's days of the table, paged into scratch and converted, with the org's service account", async () => {
    bq.pageRows = 1;
    const from = bq.requests.length;
    const run = await h.run('gcp/cost/billing', { start_date: '2026-05-03', end_date: '2026-05-04', source_uri: TABLE });
    bq.pageRows = 1000;
    assert.equal(run.status, 'completed', run.error ?? '');
    assert.deepEqual((await h.focusRows(run.runId, 'SkuId')).map((r) => [r.SkuId, r.BilledCost]), [['CP-1', '0.400000000'], ['CP-2', '0.600000000'], ['CP-3', '0.250000000']]);
    const requests = bq.requests.slice(from);
    assert.ok(requests.every((r) => r.identity === READER), "every request as the org's service account");
    const insert = requests.find((r) => r.method === 'POST' && r.path.endsWith('/jobs'));
    assert.equal(insert?.path, '/bigquery/v2/projects/org-a-proj/jobs', "the job runs in the service account's project");
    const configuration = insert?.body?.configuration as { query: { query: string; queryParameters: { name: string; parameterValue: { value: string } }[]; useLegacySql: boolean }; labels: Record<string, string> };
    assert.match(configuration.query.query, /FROM `acme-billing\.billing_export\.gcp_billing_export_resource_v1_01A2B3` AS t WHERE t\.`usage_start_time` >= TIMESTAMP\(@start_date\)/);
    assert.deepEqual(configuration.query.queryParameters.map((p) => [p.name, p.parameterValue.value]), [['start_date', '2026-05-03'], ['end_date', '2026-05-04']], 'the dates are parameters, not SQL text');
    assert.equal(configuration.query.useLegacySql, false);
    assert.deepEqual(configuration.labels, { org: 'bq_org', pipeline: 'gcp_cost_billing', run: run.runId.toLowerCase() });
    const pages = requests.filter((r) => r.path.includes('/queries/'));
    assert.equal(pages.length, 4, 'one poll while running, then one row per page');
    assert.ok(pages.slice(2).every((p) => p.query.pageToken), 'later pages by page token');
    const { byRule } = await qualityOf(h, run.runId);
    assert.deepEqual(byRule.get('LOAD-FILES')?.details?.files, [TABLE]);
    assert.deepEqual((await readdir(join(dataDir, 'scratch', 'bq_org')).catch(() => [])), [], 'the scratch file is removed with the run');
  });

  test("another org's service account is refused; BigQuery's errors are named, never the key", async () => {
    const { run_id } = await h.app.requests.request({ orgSlug: 'bq_other', route: 'gcp/cost/billing', body: { start_date: '2026-05-03', end_date: '2026-05-03', source_uri: TABLE }, trigger: 'api', createdBy: 'test' });
    let other;
    do other = await h.app.runs.get('bq_other', run_id);
    while (other && !['completed', 'failed'].includes(other.status) && (await new Promise((r) => setTimeout(r, 25)), true));
    assert.equal(other?.status, 'failed');
    assert.match(other?.error_message ?? '', /bq:\/\/ with the org's gcp credential "default": reading the schema of bq:\/\/acme-billing\.billing_export\.gcp_billing_export_resource_v1_01A2B3: access denied to the org's gcp service account \(accessDenied, HTTP 403/);
    assert.ok(!(other?.error_message ?? '').includes('PRIVATE KEY'));

    const missing = await h.run('gcp/cost/billing', { start_date: '2026-05-03', end_date: '2026-05-03', source_uri: 'bq://acme-billing.billing_export.no_such_table' });
    assert.match(missing.error ?? '', /no such table \(or the service account cannot see it\) \(notFound, HTTP 404: Not found: Table acme-billing:billing_export\.no_such_table\)/);
    const [load] = await h.app.runs.steps(h.org, missing.runId);
    assert.equal(load?.attempts, 1, 'not retried');

    const empty = await h.run('gcp/cost/billing', { start_date: '2026-04-01', end_date: '2026-04-30', source_uri: TABLE });
    assert.match(empty.error ?? '', /has no rows with usage_start_time from 2026-04-01 to 2026-04-30/);
  });

  test('a backend error on a results page is retried', async () => {
    bq.fail({ operation: 'results', status: 500, reason: 'backendError', times: 1 });
    const run = await h.run('gcp/cost/billing', { start_date: '2026-05-03', end_date: '2026-05-03', source_uri: TABLE });
    assert.equal(run.status, 'completed', run.error ?? '');
    assert.equal((await h.focusRows(run.runId)).length, 2);
  });
});
