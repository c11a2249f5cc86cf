import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import { loadSettings, SettingsError } from '../../src/config/settings.ts';
import { createApp, type App } from '../../src/main/app.ts';
import { systemClock, type Clock } from '../../src/shared/clock.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { createMetrics } from '../../src/shared/metrics.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { assertError, call, createOrg, patchSubscription, type CreatedOrg } from '../api/api-helpers.ts';
import { replayServer, type ReplayServer } from '../genai/support/replay-server.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { CONFIGS, ROOT_KEY, testApp, testSettings, waitForRunEnd } from '../support/test-app.ts';

const DEMO = 'demo/usage/daily_cost';
const VENDOR = 'metrics/api/users';
const VENDOR_KEY = 'vendor-METRICS-SECRET-0123456789';
const METRICS_TOKEN = 'metrics-scrape-token-0123456789abcdef';
const PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** The repo's demo pipeline, and a generic.api_extractor pipeline against a local server. */
async function metricsConfigs(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'metrics-configs-'));
  for (const entry of ['schemas', 'system', 'demo']) await cp(join(CONFIGS, entry), join(dir, entry), { recursive: true });
  await mkdir(join(dir, 'metrics', 'api'), { recursive: true });
  await writeFile(join(dir, 'schemas', 'test_metrics_users.json'), JSON.stringify({ description: 'users', fields: [{ name: 'user_id', type: 'INT64', mode: 'REQUIRED' }, { name: 'name', type: 'STRING' }] }));
  await writeFile(
    join(dir, 'metrics', 'api', 'users.yml'),
    `pipeline_id: metrics_users
name: users
description: the generic extractor, for its request counters
provider: metrics
domain: api
version: "1"
steps:
  - step_id: extract
    ps_type: generic.api_extractor
    config:
      url: users
      auth: { provider: vendor_api, type: bearer }
      record_path: data
      fields: { user_id: id }
      destination: { table: metrics_users_raw, schema: test_metrics_users }
      rate_limit: { requests_per_second: 100 }
      retry: { max_attempts: 4, base_delay_ms: 1, max_delay_seconds: 0.01 }
`,
  );
  return dir;
}

/** Samples of a text exposition, keyed `name{label="value",...}` with the labels sorted. */
type Samples = Map<string, number>;

function parseExposition(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not an exposition line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, name, value]) => `${name}="${value}"`).sort();
    samples.set(`${match[1]}{${labels.join(',')}}`, Number(match[3]));
  }
  return samples;
}

/** The sample's key as parseExposition writes it. */
function key(name: string, labels: Record<string, string> = {}): string {
  return `${name}{${Object.entries(labels).map(([label, value]) => `${label}="${value}"`).sort().join(',')}}`;
}

async function scrape(server: FastifyInstance, headers: Record<string, string> = { 'x-ca-root-key': ROOT_KEY }): Promise<{ text: string; samples: Samples }> {
  const response = await call(server, { method: 'GET', url: '/metrics', headers });
  assert.equal(response.statusCode, 200, response.body.slice(0, 300));
  assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return { text: response.body, samples: parseExposition(response.body) };
}

/** How much each sample moved between two scrapes (a sample absent before counts from 0). */
const delta = (before: Samples, after: Samples) => (name: string, labels: Record<string, string> = {}) => (after.get(key(name, labels)) ?? 0) - (before.get(key(name, labels)) ?? 0);

/** A clock the test moves. */
function testClock(start: string): Clock & { set(at: string): void; advance(ms: number): void } {
  let now = new Date(start);
  return { now: () => new Date(now), sleep: systemClock.sleep, set: (at) => void (now = new Date(at)), advance: (ms) => void (now = new Date(now.getTime() + ms)) };
}

for (const factory of controlPlaneFactories()) {
  describe(`Prometheus metrics (${factory.name})`, () => {
    let provider: ReplayServer;
    let configsDir: string;
    let controlPlane: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let org: CreatedOrg;
    let lastExposition = '';

    before(async () => {
      provider = await replayServer({ '/vendor/users': (request) => (request.headers.authorization === `Bearer ${VENDOR_KEY}` ? { body: { data: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }, { id: 3, name: 'c' }] } } : { status: 401, body: { message: 'unauthorized' } }) });
      configsDir = await metricsConfigs();
      controlPlane = await factory.open();
      app = await testApp(controlPlane, { settings: { PIPELINE_CONFIGS_DIR: configsDir } });
      app.worker?.start();
      server = await buildServer(app);
      org = await createOrg(server, `metrics_${factory.name}`);
      await app.credentials.set(org.org_slug, { provider: 'vendor_api', secret: VENDOR_KEY, metadata: { base_url: `${provider.url}/vendor/` } });
    });
    after(async () => {
      await server?.close();
      await app?.close();
      await controlPlane?.close();
      await provider?.close();
    });

    const runVia = async (route: string, body: Record<string, unknown>, who: CreatedOrg = org) => {
      const response = await call(server, { method: 'POST', url: `/api/v1/pipelines/run/${who.org_slug}/${route}`, headers: { 'x-api-key': who.api_key }, payload: body });
      assert.equal(response.statusCode, 202, response.body);
      const run = await waitForRunEnd(app, who.org_slug, (response.json() as { run_id: string }).run_id);
      assert.equal(run.status, 'completed', run.error_message ?? '');
      return run;
    };

    test('a run end to end moves the run, step, row and provider counters by exactly what it did', async () => {
      const before = (await scrape(server)).samples;
      const demo = await runVia(DEMO, { date: '2026-01-15' });
      // The provider answers 429, then 500, then the page: two retries, three attempts.
      provider.inject('/vendor/users', { kind: 'status', status: 429, retryAfter: '0' }, { kind: 'status', status: 500 });
      const vendor = await runVia(VENDOR, { date: '2026-01-15' });
      const { samples: after, text } = await scrape(server);
      lastExposition = text;
      const moved = delta(before, after);

      for (const pipeline of [DEMO, VENDOR]) {
        assert.equal(moved('finops_runs_started_total', { pipeline, trigger: 'api' }), 1, pipeline);
        assert.equal(moved('finops_runs_ended_total', { pipeline, status: 'completed' }), 1, pipeline);
        assert.equal(moved('finops_runs_ended_total', { pipeline, status: 'failed' }), 0, pipeline);
      }

      // Steps: one observation per step, of its recorded duration.
      const steps = [...(await app.runs.steps(org.org_slug, demo.run_id)), ...(await app.runs.steps(org.org_slug, vendor.run_id))];
      assert.equal(steps.length, 4);
      for (const psType of ['generic.procedure_executor', 'generic.local_bq_transformer', 'generic.api_extractor']) {
        const ofType = steps.filter((step) => step.ps_type === psType);
        assert.ok(ofType.length > 0, psType);
        assert.equal(moved('finops_step_duration_seconds_count', { ps_type: psType, status: 'completed' }), ofType.length, psType);
        const seconds = ofType.reduce((sum, step) => sum + (step.duration_ms ?? 0) / 1000, 0);
        assert.ok(Math.abs(moved('finops_step_duration_seconds_sum', { ps_type: psType, status: 'completed' }) - seconds) < 1e-6, `${psType}: ${seconds} s`);
        assert.equal(moved('finops_step_duration_seconds_bucket', { ps_type: psType, status: 'completed', le: '+Inf' }), ofType.length, psType);
      }

      // Rows: what the warehouse holds of each run, per table, labelled without the org's dataset.
      const dataset = `${org.org_slug}_dev`;
      const expected: Record<string, number> = {};
      for (const [table, runId] of [['demo_usage_raw', demo.run_id], ['demo_cost_daily_by_team', demo.run_id], ['demo_cost_daily_by_service', demo.run_id], ['metrics_users_raw', vendor.run_id]] as const) {
        const [row] = await app.warehouse!.query(`SELECT count(*)::INT AS n FROM ${dataset}.${table} WHERE x_run_id = $run`, { run: runId });
        expected[table] = Number(row?.n);
        assert.ok(expected[table]! > 0, table);
        assert.equal(moved('finops_warehouse_rows_written_total', { table }), expected[table], table);
      }
      assert.equal(expected.metrics_users_raw, 3);
      assert.equal(moved('finops_warehouse_rows_written_total', { table: `${dataset}.demo_usage_raw` }), 0, 'no table label carries the dataset');
      assert.equal(demo.records_processed, expected.demo_usage_raw! + expected.demo_cost_daily_by_team! + expected.demo_cost_daily_by_service!);

      // Provider HTTP: each attempt by outcome, the retries, the 429.
      assert.equal(moved('finops_provider_http_requests_total', { provider: 'vendor_api', outcome: '4xx' }), 1);
      assert.equal(moved('finops_provider_http_requests_total', { provider: 'vendor_api', outcome: '5xx' }), 1);
      assert.equal(moved('finops_provider_http_requests_total', { provider: 'vendor_api', outcome: '2xx' }), 1);
      assert.equal(moved('finops_provider_http_retries_total', { provider: 'vendor_api' }), 2);
      assert.equal(moved('finops_provider_http_rate_limited_total', { provider: 'vendor_api' }), 1);

      // Every run ended: nothing waits, nothing is held.
      assert.equal(after.get(key('finops_run_queue_depth')), 0);
      assert.equal(after.get(key('finops_run_queue_held')), 0);
      assert.equal(after.get(key('finops_run_queue_oldest_age_seconds')), 0);

      // No run id, no org (METRICS_ORG_LABELS is off), no secret anywhere in the exposition.
      for (const leak of [demo.run_id, vendor.run_id, org.org_slug, VENDOR_KEY]) assert.ok(!text.includes(leak), `the exposition shows ${leak}`);
      // Process metrics, and the pool only where there is one.
      assert.ok(after.has(key('process_cpu_user_seconds_total')));
      assert.ok(after.has(key('nodejs_heap_size_used_bytes')));
      if (factory.name === 'postgres') {
        assert.equal(after.get(key('finops_control_plane_pool_max_connections')), 20, 'the test pool is opened with max 20');
        const total = after.get(key('finops_control_plane_pool_connections')) ?? -1;
        const idle = after.get(key('finops_control_plane_pool_idle_connections')) ?? -1;
        assert.ok(total >= 1 && total <= 20, `total ${total}`);
        assert.ok(idle >= 0 && idle <= total, `idle ${idle} of ${total}`);
        assert.ok((after.get(key('finops_control_plane_pool_waiting_clients')) ?? -1) >= 0);
      } else {
        assert.ok(![...after.keys()].some((name) => name.startsWith('finops_control_plane_pool_')), 'PGlite has no pool');
      }
    });

    test('refused admissions are counted by reason and start no run', async () => {
      const refused = await createOrg(server, `metrics_refused_${factory.name}`);
      await patchSubscription(server, refused.org_slug, { daily_limit: 1, concurrent_limit: 5 });
      const before = (await scrape(server)).samples;
      const post = (route: string, body: Record<string, unknown>) => call(server, { method: 'POST', url: `/api/v1/pipelines/run/${refused.org_slug}/${route}`, headers: { 'x-api-key': refused.api_key }, payload: body });

      await runVia(DEMO, { date: '2026-01-16' }, refused);
      assertError(await post(DEMO, { date: '2026-01-17' }), 429);
      assertError(await post(DEMO, { date: '2026-02-30' }), 400);
      assertError(await post(DEMO, { date: '2026-01-17', teams: 99 }), 400);
      assertError(await post('no/such/pipeline', { date: '2026-01-17' }), 404);
      await patchSubscription(server, refused.org_slug, { status: 'SUSPENDED' });
      assertError(await post(DEMO, { date: '2026-01-17' }), 403);

      const { samples: after, text } = await scrape(server);
      const moved = delta(before, after);
      assert.equal(moved('finops_run_admission_rejections_total', { pipeline: DEMO, reason: 'quota_daily' }), 1);
      assert.equal(moved('finops_run_admission_rejections_total', { pipeline: DEMO, reason: 'bad_input' }), 2);
      assert.equal(moved('finops_run_admission_rejections_total', { pipeline: DEMO, reason: 'not_allowed' }), 1);
      assert.equal(moved('finops_run_admission_rejections_total', { pipeline: 'unknown', reason: 'not_found' }), 1, 'a route no config has is one label value');
      assert.equal(moved('finops_run_admission_rejections_total', { pipeline: DEMO, reason: 'quota_concurrent' }), 0);
      assert.ok(!text.includes('no/such/pipeline'));
      assert.equal(moved('finops_runs_started_total', { pipeline: DEMO, trigger: 'api' }), 1, 'only the admitted run started');
      assert.equal(moved('finops_runs_ended_total', { pipeline: DEMO, status: 'completed' }), 1);
    });

    test('the exposition passes promtool check metrics', { skip: PROMTOOL ? false : 'promtool is not installed (Debian package prometheus; .ci/run installs it)' }, async () => {
      assert.ok(lastExposition.includes('finops_step_duration_seconds_bucket'), 'scraped after a run, so every kind of metric has samples');
      const checked = spawnSync('promtool', ['check', 'metrics'], { input: lastExposition, encoding: 'utf8' });
      assert.equal(checked.status, 0, `promtool: ${checked.stdout}${checked.stderr}`);
      assert.equal(`${checked.stdout}${checked.stderr}`.trim(), '', 'no lint finding');
      // The check is not a formality: it refuses a counter without its _total suffix.
      const bad = spawnSync('promtool', ['check', 'metrics'], { input: '# HELP finops_bad a counter\n# TYPE finops_bad counter\nfinops_bad 1\n', encoding: 'utf8' });
      assert.notEqual(bad.status, 0, 'promtool found nothing wrong with a bad exposition');
    });

    describe('queue, schedule and cancel gauges, on a process with no worker', () => {
      const clock = testClock('2026-01-15T05:00:00Z');
      let queueControlPlane: ControlPlane;
      let idle: App;
      let idleServer: FastifyInstance;
      const queueOrg = `metrics_queue_${factory.name}`;

      before(async () => {
        queueControlPlane = await factory.open();
        idle = await testApp(queueControlPlane, { clock, settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: '0' } });
        idleServer = await buildServer(idle);
        await idle.orgs.create(queueOrg, queueOrg, { plan: 'TEST', status: 'ACTIVE', daily_limit: 100, monthly_limit: 1000, concurrent_limit: 5 });
        await idle.scheduler.sync(queueOrg);
      });
      after(async () => {
        await idleServer?.close();
        await idle?.close();
        await queueControlPlane?.close();
      });

      test('depth and oldest age are read at scrape; a tick\'s lag is observed when it is admitted; a queued run cancelled ends there', async () => {
        const empty = (await scrape(idleServer)).samples;
        assert.equal(empty.get(key('finops_run_queue_depth')), 0);
        const first = await idle.requests.request({ orgSlug: queueOrg, route: DEMO, body: { date: '2026-01-14' }, trigger: 'api', createdBy: 'test' });
        clock.advance(90_000);
        let samples = (await scrape(idleServer)).samples;
        assert.equal(samples.get(key('finops_run_queue_depth')), 1);
        assert.equal(samples.get(key('finops_run_queue_held')), 0);
        assert.equal(samples.get(key('finops_run_queue_oldest_age_seconds')), 90);

        // The demo pipeline's schedule is 06:00 UTC: a pass 42 s after it admits the tick 42 s late.
        clock.set('2026-01-15T06:00:42Z');
        const pass = await idle.scheduler.pass();
        assert.equal(pass.enqueued, 1);
        samples = (await scrape(idleServer)).samples;
        const moved = delta(empty, samples);
        assert.equal(moved('finops_schedule_ticks_total', { outcome: 'enqueued' }), 1);
        assert.equal(moved('finops_schedule_ticks_total', { outcome: 'deferred' }), 0);
        assert.equal(moved('finops_schedule_lag_seconds_count'), 1);
        assert.equal(moved('finops_schedule_lag_seconds_sum'), 42);
        assert.equal(moved('finops_schedule_lag_seconds_bucket', { le: '30' }), 0);
        assert.equal(moved('finops_schedule_lag_seconds_bucket', { le: '60' }), 1);
        assert.equal(samples.get(key('finops_run_queue_depth')), 2);
        assert.equal(samples.get(key('finops_run_queue_oldest_age_seconds')), 3642, 'the api run, admitted at 05:00:00');

        assert.deepEqual(await idle.requests.cancel(queueOrg, first.run_id, 'test'), { success: true, status: 'cancelled' });
        clock.advance(5_000);
        samples = (await scrape(idleServer)).samples;
        assert.equal(delta(empty, samples)('finops_runs_ended_total', { pipeline: DEMO, status: 'cancelled' }), 1, 'ended by the cancel, not by a worker');
        assert.equal(samples.get(key('finops_run_queue_depth')), 1);
        assert.equal(samples.get(key('finops_run_queue_oldest_age_seconds')), 5, 'the scheduled run, admitted at 06:00:42');
        assert.equal(samples.get(key('finops_runs_started_total', { pipeline: DEMO, trigger: 'api' })) ?? 0, 0, 'no worker here started anything');
      });

      test('orgs are a label of the counters only when METRICS_ORG_LABELS=true, never of the histograms', async () => {
        const labelled = await createApp(testSettings({ PIPELINE_CONFIGS_DIR: configsDir, METRICS_ORG_LABELS: 'true' }), { logger: silentLogger(), execute: false, controlPlane: queueControlPlane });
        const labelledServer = await buildServer(labelled);
        try {
          await assert.rejects(labelled.requests.request({ orgSlug: queueOrg, route: DEMO, body: { date: '2026-13-01' }, trigger: 'api', createdBy: 'test' }));
          const { samples, text } = await scrape(labelledServer);
          assert.equal(samples.get(key('finops_run_admission_rejections_total', { org: queueOrg, pipeline: DEMO, reason: 'bad_input' })), 1);
          // This process runs no step and no pass: observed directly, their series must still carry no org.
          labelled.metrics.stepEnded({ psType: 'generic.local_bq_transformer', status: 'completed' }, 2);
          labelled.metrics.ticksAdmitted({ enqueued: 1, deferred: 0, skipped: 0 }, [3]);
          const histograms = (await scrape(labelledServer)).samples;
          assert.equal(histograms.get(key('finops_step_duration_seconds_bucket', { ps_type: 'generic.local_bq_transformer', status: 'completed', le: '2.5' })), 1, 'no org on a histogram');
          assert.equal(histograms.get(key('finops_schedule_lag_seconds_bucket', { le: '5' })), 1, 'no org on a histogram');
          // The app without the setting labels nothing by org.
          await assert.rejects(idle.requests.request({ orgSlug: queueOrg, route: DEMO, body: { date: '2026-13-01' }, trigger: 'api', createdBy: 'test' }));
          const plain = await scrape(idleServer);
          assert.equal(plain.samples.get(key('finops_run_admission_rejections_total', { pipeline: DEMO, reason: 'bad_input' })), 1);
          assert.ok(!plain.text.includes(queueOrg));
        } finally {
          await labelledServer.close();
          await labelled.close();
        }
      });

      test('GET /metrics needs the metrics token or the root key, unless METRICS_PUBLIC=true', async () => {
        const build = async (settings: Record<string, string>) => {
          const built = await createApp(testSettings({ PIPELINE_CONFIGS_DIR: configsDir, ...settings }), { logger: silentLogger(), execute: false, controlPlane: queueControlPlane });
          return { app: built, server: await buildServer(built) };
        };
        const closed = await build({ METRICS_TOKEN });
        const open = await build({ METRICS_PUBLIC: 'true' });
        try {
          const get = (target: FastifyInstance, headers: Record<string, string>) => call(target, { method: 'GET', url: '/metrics', headers });
          assertError(await get(closed.server, {}), 401);
          assertError(await get(closed.server, { authorization: 'Bearer not-the-token' }), 401);
          assertError(await get(closed.server, { 'x-ca-root-key': 'not-the-root-key' }), 401);
          assertError(await get(closed.server, { 'x-api-key': 'pk_someone_0123456789' }), 401);
          await scrape(closed.server, { authorization: `Bearer ${METRICS_TOKEN}` });
          await scrape(closed.server, { 'x-ca-root-key': ROOT_KEY });
          await scrape(open.server, {});
          // Without a token configured, a bearer is no way in.
          assertError(await get(idleServer, { authorization: `Bearer ${METRICS_TOKEN}` }), 401);
        } finally {
          for (const built of [closed, open]) {
            await built.server.close();
            await built.app.close();
          }
        }
      });
    });
  });
}

describe('scrape-time reads', () => {
  test('a control plane that cannot be read leaves its gauges out and counts the failure; the rest is served', async () => {
    const metrics = createMetrics({ orgLabels: false, processMetrics: false });
    let down = false;
    metrics.readFrom({ queue: async () => (down ? Promise.reject(new Error('connection refused')) : { queued: 3, held: 1, oldestQueuedSeconds: 12.5 }) });
    metrics.runEnded({ org: 'o', pipeline: DEMO, status: 'failed' });
    let samples = parseExposition((await metrics.scrape()).body);
    assert.equal(samples.get(key('finops_run_queue_depth')), 3);
    assert.equal(samples.get(key('finops_run_queue_held')), 1);
    assert.equal(samples.get(key('finops_run_queue_oldest_age_seconds')), 12.5);
    assert.ok(!samples.has(key('finops_control_plane_pool_connections')), 'no pool source, no pool gauges');
    down = true;
    samples = parseExposition((await metrics.scrape()).body);
    assert.ok(!samples.has(key('finops_run_queue_depth')), 'no stale depth');
    assert.equal(samples.get(key('finops_metrics_scrape_errors_total', { source: 'run_queue' })), 1);
    assert.equal(samples.get(key('finops_runs_ended_total', { pipeline: DEMO, status: 'failed' })), 1);
    assert.ok(!samples.has(key('process_cpu_user_seconds_total')), 'process metrics off when asked');
    down = false;
    samples = parseExposition((await metrics.scrape()).body);
    assert.equal(samples.get(key('finops_run_queue_depth')), 3, 'back once the control plane answers');
  });
});

describe('metrics settings', () => {
  const base = { CA_ROOT_API_KEY: ROOT_KEY };
  const production = { ...base, ENVIRONMENT: 'production', KMS_KEY_NAME: 'projects/p/locations/l/keyRings/r/cryptoKeys/k', DATABASE_URL: 'postgres://localhost/x' };

  test('off by default, true or false only', () => {
    const settings = loadSettings(base);
    assert.equal(settings.metricsOrgLabels, false);
    assert.equal(settings.metricsPublic, false);
    assert.equal(settings.metricsToken, undefined);
    assert.equal(loadSettings({ ...base, METRICS_ORG_LABELS: 'true' }).metricsOrgLabels, true);
    assert.throws(() => loadSettings({ ...base, METRICS_PUBLIC: 'yes' }), (error: unknown) => error instanceof SettingsError && /METRICS_PUBLIC must be true or false/.test(error.message));
    assert.equal(String(loadSettings({ ...base, METRICS_TOKEN }).metricsToken), '[redacted]', 'the token does not print');
  });

  test('production refuses a short token, and tenant names on an open endpoint', () => {
    assert.doesNotThrow(() => loadSettings({ ...production, METRICS_TOKEN }));
    assert.throws(() => loadSettings({ ...production, METRICS_TOKEN: 'short' }), /METRICS_TOKEN must be at least 32 characters/);
    assert.doesNotThrow(() => loadSettings({ ...production, METRICS_PUBLIC: 'true' }));
    assert.throws(() => loadSettings({ ...production, METRICS_PUBLIC: 'true', METRICS_ORG_LABELS: 'true' }), /METRICS_PUBLIC=true with METRICS_ORG_LABELS=true/);
  });
});
