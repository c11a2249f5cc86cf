import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { loadSettings } from '../../src/config/settings.ts';
import { createApp, type App } from '../../src/main/app.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { startBigQueryServer, type BigQueryTestServer } from '../support/bigquery-server.ts';
import { BIN } from '../support/server-process.ts';
import { CONFIGS, REPO, ROOT_KEY, waitFor } from '../support/test-app.ts';

const url = process.env.TEST_DATABASE_URL;
const DAYS = ['2026-03-01', '2026-03-02', '2026-03-03', '2026-03-04', '2026-03-05', '2026-03-06'];

/** A pipeline in BigQuery's dialect (@params), as a deployment on BigQuery writes them. */
const PIPELINE = `pipeline_id: bq_usage_daily
name: BigQuery usage
description: Usage per team for the run's day, then its cost per team.
provider: bq
domain: usage
version: "1.0"
steps:
  - step_id: generate_usage
    ps_type: generic.local_bq_transformer
    config:
      target_table: demo_usage_raw
      schema: demo/demo_usage_raw
      run_date_column: usage_date
      query: |
        SELECT CAST(@start_date AS DATE) AS usage_date, team, 'compute' AS service, CAST(10 AS NUMERIC) AS usage_quantity, CAST(0.5 AS NUMERIC) AS unit_price
          FROM (SELECT 'team_a' AS team UNION ALL SELECT 'team_b' UNION ALL SELECT 'team_c')
  - step_id: cost_by_team
    ps_type: generic.local_bq_transformer
    depends_on: [generate_usage]
    config:
      target_table: demo_cost_daily_by_team
      schema: demo/demo_cost_daily_by_team
      run_date_column: usage_date
      query: |
        SELECT usage_date, team, CAST(SUM(usage_quantity * unit_price) AS NUMERIC) AS cost_usd, COUNT(*) AS services
          FROM {org_dataset}.demo_usage_raw
         WHERE x_org_slug = @org_slug AND x_credential_id = @credential_id
           AND usage_date BETWEEN CAST(@start_date AS DATE) AND CAST(@end_date AS DATE)
         GROUP BY usage_date, team
`;

describe('many workers on PostgreSQL with BigQuery as the warehouse', { skip: url ? false : 'TEST_DATABASE_URL is not set: two worker processes need a shared PostgreSQL control plane' }, () => {
  let server: BigQueryTestServer;
  let app: App;
  let databaseUrl: string;
  const schema = `bqw_${randomBytes(6).toString('hex')}`;
  const workers: ChildProcess[] = [];
  const output: string[] = [];
  const org = 'acme';

  before(async () => {
    server = await startBigQueryServer();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    databaseUrl = `${url}${url?.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const configs = await mkdtemp(join(tmpdir(), 'bq-configs-'));
    await cp(join(CONFIGS, 'system'), join(configs, 'system'), { recursive: true });
    await cp(join(CONFIGS, 'schemas'), join(configs, 'schemas'), { recursive: true });
    await mkdir(join(configs, 'bq', 'usage'), { recursive: true });
    await writeFile(join(configs, 'bq', 'usage', 'daily.yml'), PIPELINE);
    // Both workers share one data folder: with BigQuery nothing in it is held exclusively.
    const env = {
      DATABASE_URL: databaseUrl,
      WAREHOUSE: 'bigquery',
      BIGQUERY_PROJECT: server.projectId,
      BIGQUERY_LOCATION: 'EU',
      BIGQUERY_API_ENDPOINT: server.url,
      PIPELINE_CONFIGS_DIR: configs,
      PIPELINE_DATA_DIR: await mkdtemp(join(tmpdir(), 'bq-workers-')),
      CA_ROOT_API_KEY: ROOT_KEY,
      WORKER_CONCURRENCY: '1',
      SCHEDULER_INTERVAL_SECONDS: '0',
      NOTIFY_INTERVAL_SECONDS: '0',
      LOG_LEVEL: 'warn',
    };
    app = await createApp(loadSettings(env), { logger: silentLogger(), execute: false });
    await app.orgs.create(org, org, { plan: 'TEST', status: 'ACTIVE', daily_limit: 1000, monthly_limit: 1000, concurrent_limit: 100 });
    for (let i = 0; i < 2; i++) {
      const child = spawn(process.execPath, [BIN, 'worker'], { cwd: REPO, env: { ...process.env, ...env } });
      child.stdout?.on('data', (chunk) => output.push(String(chunk)));
      child.stderr?.on('data', (chunk) => output.push(String(chunk)));
      workers.push(child);
    }
  });

  after(async () => {
    await Promise.all(workers.map((child) => (child.exitCode !== null ? undefined : new Promise((resolve) => { child.once('close', resolve); child.kill('SIGTERM'); }))));
    await app?.close();
    await server?.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  test('two worker processes execute a batch of runs in parallel: each run completes once, no row is doubled', async () => {
    // Each day once, and the first day a second time: its rows must be replaced, not added.
    const runIds: string[] = [];
    for (const day of [...DAYS, DAYS[0] as string]) runIds.push((await app.requests.request({ orgSlug: org, route: 'bq/usage/daily', body: { date: day }, trigger: 'api', createdBy: 'test' })).run_id);
    const ended = await waitFor(async () => {
      const runs = await Promise.all(runIds.map((id) => app.runs.get(org, id)));
      return runs.every((run) => run && ['completed', 'failed', 'cancelled'].includes(run.status)) ? runs : undefined;
    }, 90_000, `the runs to end (worker output: ${output.join('').slice(-2000)})`);
    assert.deepEqual(ended.map((run) => run?.status), runIds.map(() => 'completed'), output.join('').slice(-2000));

    const intervals: [number, number][] = [];
    for (const id of runIds) {
      const transitions = await app.runs.transitions(org, id);
      assert.equal(transitions.filter((t) => t.to_status === 'running').length, 1, `run ${id} was executed once`);
      const at = (status: string) => new Date(transitions.find((t) => t.to_status === status)?.at as Date).getTime();
      intervals.push([at('running'), at('completed')]);
    }
    // One run at a time per worker (WORKER_CONCURRENCY=1): two runs overlapping ran in two processes.
    const overlapping = intervals.some(([start, end], i) => intervals.some(([otherStart, otherEnd], j) => i !== j && start < otherEnd && otherStart < end));
    assert.ok(overlapping, 'runs executed at the same time in the two workers');

    const perDay = await server.rows(`SELECT CAST(usage_date AS VARCHAR) AS day, count(*)::INTEGER AS n FROM acme_dev.demo_usage_raw GROUP BY ALL ORDER BY day`);
    assert.deepEqual(perDay, DAYS.map((day) => ({ day, n: 3 })), 'three teams a day, the re-run day replaced');
    const costs = await server.rows(`SELECT CAST(usage_date AS VARCHAR) AS day, count(*)::INTEGER AS n, CAST(sum(cost_usd) AS VARCHAR) AS cost FROM acme_dev.demo_cost_daily_by_team GROUP BY ALL ORDER BY day`);
    assert.deepEqual(costs, DAYS.map((day) => ({ day, n: 3, cost: '15.000000000' })));
    const labels = [...server.jobs.values()].map((job) => (job.resource.configuration as { labels?: Record<string, string> }).labels?.run).filter(Boolean);
    assert.ok(runIds.every((id) => labels.includes(id)), 'every run labelled its jobs');
  });
});
