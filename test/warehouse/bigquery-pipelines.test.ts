/**
 * The shipped pipelines on a service whose warehouse is BigQuery (the local BigQuery server):
 * a cloud billing pipeline, whose load step stages the export as DuckDB views, is refused at that
 * step with a message naming the setting, before anything is downloaded or sent to BigQuery.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadSettings } from '../../src/config/settings.ts';
import { createApp, type App } from '../../src/main/app.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { startBigQueryServer, type BigQueryTestServer } from '../support/bigquery-server.ts';
import { seededDataDir } from '../support/pglite-template.ts';
import { CONFIGS, waitFor } from '../support/test-app.ts';

describe('shipped pipelines on the BigQuery warehouse', () => {
  let server: BigQueryTestServer;
  let app: App;

  before(async () => {
    server = await startBigQueryServer();
    const env = {
      WAREHOUSE: 'bigquery',
      BIGQUERY_PROJECT: server.projectId,
      BIGQUERY_API_ENDPOINT: server.url,
      PIPELINE_CONFIGS_DIR: CONFIGS,
      PIPELINE_DATA_DIR: await seededDataDir('bq-pipelines-'),
      WORKER_CONCURRENCY: '1',
      SCHEDULER_INTERVAL_SECONDS: '0',
      NOTIFY_INTERVAL_SECONDS: '0',
    };
    app = await createApp(loadSettings(env), { execute: true, logger: silentLogger() });
    await app.orgs.create('acme', 'acme', { plan: 'TEST', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 2 });
    app.worker?.start();
  });
  after(async () => {
    await app?.close();
    await server?.close();
  });

  test('a cloud billing pipeline fails at its load step naming WAREHOUSE, having read and sent nothing', async () => {
    const before = server.requests.length;
    const { run_id } = await app.requests.request({ orgSlug: 'acme', route: 'gcp/cost/billing', body: { start_date: '2026-05-01', end_date: '2026-05-31', source_uri: 'gcp/export.jsonl' }, trigger: 'api', createdBy: 'test' });
    const run = await waitFor(async () => {
      const found = await app.runs.get('acme', run_id);
      return found && ['completed', 'failed', 'cancelled'].includes(found.status) ? found : undefined;
    }, 30_000, 'the run to end');
    assert.equal(run.status, 'failed');
    assert.match(run.error_message ?? '', /cloud billing exports are staged in the DuckDB warehouse only for now; this service's warehouse is bigquery \(WAREHOUSE\)/);
    const steps = await app.runs.steps('acme', run_id);
    assert.deepEqual(steps.map((step) => [step.step_id, step.status, step.attempts]), [['load_export', 'failed', 1], ['convert_to_focus', 'skipped', 0], ['load_report', 'skipped', 0]], 'refused once, not retried');
    assert.deepEqual(server.requests.slice(before).filter((request) => request.method === 'POST'), [], 'no dataset, table or job was asked of BigQuery');
  });
});
