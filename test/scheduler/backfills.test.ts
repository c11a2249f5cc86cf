import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import { backfillCommand } from '../../src/main/cli-backfill.ts';
import { processorRegistry } from '../../src/processors/registry.ts';
import { defineProcessor, type Processor } from '../../src/processors/types.ts';
import { backfillCoordinator, childRunId, type BackfillDetail } from '../../src/scheduler/backfills.ts';
import { daysBetween } from '../../src/shared/clock.ts';
import { ProcessorError } from '../../src/shared/errors.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { admitRun } from '../../src/store/admission.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { testApp, waitFor } from '../support/test-app.ts';
import { testProcessors } from '../support/test-processors.ts';

type Json = Record<string, any>;
const LIMITS = { plan: 'TEST', status: 'ACTIVE' as const, daily_limit: 10_000, monthly_limit: 100_000, concurrent_limit: 100 };
const ROUTE = 'test/backfill/daily';
const JANUARY = daysBetween('2026-01-01', '2026-01-31');
const FAILING = ['2026-01-05', '2026-01-13', '2026-01-29'];

/** The days' work, the processors under way at once (its peak is what max_concurrent bounds), and which days to fail. */
const gate = { running: 0, peak: 0 };
const dayGate = defineProcessor({
  type: 'test.day_gate',
  description: 'fails on the days listed in fail_days (comma-separated), works ms otherwise',
  configSchema: Type.Object({ fail_days: Type.String(), ms: Type.Integer({ minimum: 0 }) }),
  async run(config, context) {
    gate.running += 1;
    gate.peak = Math.max(gate.peak, gate.running);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, config.ms);
        context.signal.addEventListener('abort', () => (clearTimeout(timer), reject(context.signal.reason)), { once: true });
      });
      if (config.fail_days.split(',').includes(context.startDate)) throw new ProcessorError(`day ${context.startDate} fails on purpose`, { retryable: false });
      return { rowsWritten: 1, tables: [] };
    } finally {
      gate.running -= 1;
    }
  },
});

async function configsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'backfill-configs-'));
  await mkdir(join(dir, 'test', 'backfill'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { TEST: LIMITS } }));
  await writeFile(join(dir, 'test', 'backfill', 'daily.yml'), `
pipeline_id: test_backfill_daily
name: Daily
description: a day's work, failing on the days of fail_days
provider: test
domain: backfill
version: "1"
parameters:
  fail_days: { type: string, default: "" }
steps:
  - { step_id: work, ps_type: test.day_gate, config: { fail_days: "{{fail_days}}", ms: 40 } }
`);
  await writeFile(join(dir, 'test', 'backfill', 'slow.yml'), `
pipeline_id: test_backfill_slow
name: Slow
description: a minute per day, for cancel
provider: test
domain: backfill
version: "1"
steps:
  - { step_id: long, ps_type: test.work, config: { ms: 60000 } }
`);
  return dir;
}

function processors() {
  const base = testProcessors();
  return processorRegistry([...base.types().map((type) => base.get(type) as Processor), dayGate as Processor]);
}

for (const factory of controlPlaneFactories()) {
  describe(`backfills on ${factory.name}`, () => {
    let cp: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let configs: string;
    let orgs = 0;
    const appOptions = () => ({ processors: processors(), settings: { PIPELINE_CONFIGS_DIR: configs, RUN_LEASE_SECONDS: '5' }, workerOptions: { heartbeatMs: 100, pollMs: 50 } });

    before(async () => {
      cp = await factory.open();
      configs = await configsDir();
      app = await testApp(cp, appOptions());
      app.worker?.start();
      server = await buildServer(app);
    });
    after(async () => {
      await server?.close();
      await app?.close();
      await cp?.close();
    });

    const newOrg = async (limits: Partial<typeof LIMITS> = {}) => {
      const slug = `bf_${factory.name}_${++orgs}`;
      const { api_key } = await app.orgs.create(slug, slug, { ...LIMITS, ...limits });
      return { slug, key: api_key };
    };
    const post = (org: { slug: string; key: string }, body: unknown, route = ROUTE) =>
      server.inject({ method: 'POST', url: `/api/v1/pipelines/backfill/${org.slug}/${route}`, headers: { 'x-api-key': org.key }, payload: body as Json });
    const start = async (org: { slug: string; key: string }, body: Json, route = ROUTE): Promise<Json> => {
      const response = await post(org, body, route);
      assert.equal(response.statusCode, 202, response.body);
      return response.json() as Json;
    };
    /** Children of a backfill not yet ended, from their runs. */
    const underWay = async (org: string, backfillId: string) =>
      (await cp.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM backfill_days d JOIN pipeline_runs r ON r.org_slug = d.org_slug AND r.run_id = d.run_id
          WHERE d.org_slug = $1 AND d.backfill_id = $2 AND r.status NOT IN ('completed', 'failed', 'cancelled')`,
        [org, backfillId],
      ))[0]?.n ?? 0;
    const backfillRuns = (org: string) =>
      cp.db.query<{ run_id: string; day: string; status: string; created_by: string }>(
        `SELECT run_id::text AS run_id, parameters->>'start_date' AS day, status, created_by FROM pipeline_runs WHERE org_slug = $1 AND trigger = 'backfill' ORDER BY created_at, run_id`,
        [org],
      );

    /** Passes of the coordinator until the backfill ends, checking at every pass that at most `max` children are under way. */
    const drive = async (org: string, backfillId: string, max: number, pass = (now: Date) => app.backfills.pass(now)) => {
      let peak = 0;
      let admitted = 0;
      const deadline = Date.now() + 60_000;
      for (;;) {
        admitted += await pass(new Date());
        const now = await underWay(org, backfillId);
        assert.ok(now <= max, `${now} children under way, max_concurrent ${max}`);
        peak = Math.max(peak, now);
        const backfill = (await app.backfills.get(org, backfillId)) as BackfillDetail;
        if (['completed', 'completed_with_failures', 'cancelled'].includes(backfill.status)) return { backfill, peak, admitted };
        assert.ok(Date.now() < deadline, `backfill still ${backfill.status}: ${JSON.stringify(backfill.counts)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };

    test('31 days where 3 fail, paced at max_concurrent; then failed mode re-runs exactly those 3', async () => {
      const org = await newOrg();
      gate.peak = 0;
      const created = await start(org, { start_date: '2026-01-01', end_date: '2026-01-31', max_concurrent: 3, parameters: { fail_days: FAILING.join(',') } });
      assert.equal(created.mode, 'missing');
      assert.equal(created.status, 'running');
      assert.equal(created.total_days, 31);
      assert.deepEqual(created.counts, { pending: 31, running: 0, completed: 0, failed: 0, cancelled: 0, skipped: 0 });

      const first = await drive(org.slug, created.backfill_id, 3);
      assert.equal(first.peak, 3, 'the pass admits up to max_concurrent at once');
      assert.ok(gate.peak <= 3 && gate.peak >= 2, `processors under way at once: ${gate.peak}`);
      assert.equal(first.admitted, 31);
      assert.equal(first.backfill.status, 'completed_with_failures');
      assert.deepEqual(first.backfill.counts, { pending: 0, running: 0, completed: 28, failed: 3, cancelled: 0, skipped: 0 });
      assert.deepEqual(first.backfill.progress, { done: 31, total: 31, percent: 100 });
      assert.deepEqual(first.backfill.failed_days.map((d) => [d.day, d.error_message]), FAILING.map((day) => [day, `test.day_gate: day ${day} fails on purpose`]));
      const runs = await backfillRuns(org.slug);
      assert.deepEqual(runs.map((r) => r.day).sort(), JANUARY, 'one child per day');
      for (const run of runs) assert.equal(run.run_id, childRunId(created.backfill_id, run.day, 1));
      const summary = (await server.inject({ method: 'GET', url: `/api/v1/pipelines/backfill/${org.slug}/${created.backfill_id}`, headers: { 'x-api-key': org.key } })).json() as Json;
      assert.deepEqual(summary.counts, first.backfill.counts);
      assert.deepEqual(summary.failed_days.map((d: Json) => d.day), FAILING);
      assert.equal(summary.days.length, 31);

      // The days fail no more: failed mode runs those, and only those.
      const rerun = await start(org, { start_date: '2026-01-01', end_date: '2026-01-31', mode: 'failed', max_concurrent: 5 });
      assert.deepEqual(rerun.counts, { pending: 3, running: 0, completed: 0, failed: 0, cancelled: 0, skipped: 28 });
      const second = await drive(org.slug, rerun.backfill_id, 5);
      assert.equal(second.backfill.status, 'completed');
      assert.deepEqual(second.backfill.days.filter((d) => d.status === 'completed').map((d) => d.day), FAILING);
      assert.match(second.backfill.days.find((d) => d.day === '2026-01-01')?.reason ?? '', /^latest run [0-9a-f-]{36} completed$/);
      const rerunRuns = (await backfillRuns(org.slug)).filter((r) => r.created_by.includes(rerun.backfill_id));
      assert.deepEqual(rerunRuns.map((r) => [r.day, r.status]).sort(), FAILING.map((day) => [day, 'completed']));
      assert.equal((await backfillRuns(org.slug)).length, 34);

      // Every day has a completed run now: missing mode has nothing to do, and ends at once.
      const missing = await start(org, { start_date: '2026-01-01', end_date: '2026-01-31' });
      assert.equal(missing.status, 'completed');
      assert.deepEqual(missing.counts, { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, skipped: 31 });
    });

    test('missing mode counts runs of any trigger covering the day, and skips days still under way', async () => {
      const org = await newOrg();
      const adhoc = await app.requests.request({ orgSlug: org.slug, route: ROUTE, body: { start_date: '2026-02-02', end_date: '2026-02-03' }, trigger: 'api', createdBy: 'test' });
      const failed = await app.requests.request({ orgSlug: org.slug, route: ROUTE, body: { date: '2026-02-04', fail_days: '2026-02-04' }, trigger: 'api', createdBy: 'test' });
      await waitFor(async () => (await app.runs.get(org.slug, failed.run_id))?.status === 'failed', 20_000, 'failed run');
      await waitFor(async () => (await app.runs.get(org.slug, adhoc.run_id))?.status === 'completed', 20_000, 'ad-hoc run');
      const created = (await app.backfills.get(org.slug, (await start(org, { start_date: '2026-02-01', end_date: '2026-02-05' })).backfill_id)) as BackfillDetail;
      assert.deepEqual(created.days.map((d) => [d.day, d.status]), [['2026-02-01', 'pending'], ['2026-02-02', 'skipped'], ['2026-02-03', 'skipped'], ['2026-02-04', 'pending'], ['2026-02-05', 'pending']]);
      assert.equal(created.days[1]?.reason, `completed by run ${adhoc.run_id}`);
      // failed mode over the same range: only the day whose latest run failed; the others never ran or completed.
      const failedMode = (await app.backfills.get(org.slug, (await start(org, { start_date: '2026-02-01', end_date: '2026-02-05', mode: 'failed' })).backfill_id)) as BackfillDetail;
      assert.deepEqual(failedMode.days.filter((d) => d.status === 'pending').map((d) => d.day), ['2026-02-04']);
      assert.match(failedMode.days[1]?.reason ?? '', /^latest run .* completed$/);
      // The first backfill's children are pending or running: a third backfill skips those days.
      await app.backfills.pass(new Date());
      const third = (await app.backfills.get(org.slug, (await start(org, { start_date: '2026-02-01', end_date: '2026-02-01' })).backfill_id)) as BackfillDetail;
      assert.equal(third.counts.skipped, 1);
      assert.match(third.days[0]?.reason ?? '', /^(run [0-9a-f-]{36} is (pending|validating|running)|completed by run [0-9a-f-]{36})$/);
      for (const backfill of [created, failedMode, third]) await app.backfills.cancel(org.slug, backfill.backfill_id, 'test');
    });

    test('a concurrent limit of 1: every day is deferred, never dropped, and runs one at a time', async () => {
      const org = await newOrg({ concurrent_limit: 1 });
      const created = await start(org, { start_date: '2026-03-01', end_date: '2026-03-06', mode: 'all', max_concurrent: 3 });
      await app.backfills.pass(new Date());
      const deferred = (await app.backfills.get(org.slug, created.backfill_id)) as BackfillDetail;
      assert.equal(deferred.counts.running, 1);
      assert.equal(deferred.counts.pending, 5);
      assert.match(deferred.last_deferral ?? '', /^Concurrent pipeline limit reached \(1\/1 running\)$/);
      assert.ok(deferred.last_deferred_at instanceof Date);
      const { backfill } = await drive(org.slug, created.backfill_id, 1);
      assert.equal(backfill.status, 'completed');
      assert.equal(backfill.counts.completed, 6);
      assert.deepEqual((await backfillRuns(org.slug)).map((r) => r.day), daysBetween('2026-03-01', '2026-03-06'));
    });

    test('a backfill keeps one of the org’s concurrent slots free for its other runs', async () => {
      const org = await newOrg({ concurrent_limit: 3 });
      const created = await start(org, { start_date: '2026-04-01', end_date: '2026-04-08', mode: 'all', max_concurrent: 5 });
      await app.backfills.pass(new Date());
      assert.equal(await underWay(org.slug, created.backfill_id), 2);
      const backfill = (await app.backfills.get(org.slug, created.backfill_id)) as BackfillDetail;
      assert.equal(backfill.last_deferral, "Backfill lane full: backfills use at most 2 of the org's 3 concurrent slots, one is kept for its other runs");
      // An ad-hoc run of the org is admitted beside the backfill's children.
      const adhoc = await app.requests.request({ orgSlug: org.slug, route: ROUTE, body: { date: '2026-05-01' }, trigger: 'api', createdBy: 'test' });
      assert.equal(adhoc.status, 'pending');
      const { backfill: ended } = await drive(org.slug, created.backfill_id, 2);
      assert.equal(ended.counts.completed, 8);
    });

    test('a daily quota spent defers the backfill until it frees, and nothing is lost', async () => {
      const org = await newOrg({ daily_limit: 1 });
      const created = await start(org, { start_date: '2026-03-01', end_date: '2026-03-03', mode: 'all', max_concurrent: 3 });
      const now = new Date();
      assert.equal(await app.backfills.pass(now), 1);
      await waitFor(async () => (await underWay(org.slug, created.backfill_id)) === 0, 20_000, 'first child to end');
      assert.equal(await app.backfills.pass(now), 0, 'the quota is spent: deferred, not retried at every pass');
      const deferred = (await app.backfills.get(org.slug, created.backfill_id)) as BackfillDetail;
      assert.match(deferred.last_deferral ?? '', /^Daily pipeline limit reached \(1 runs\)$/);
      assert.equal(deferred.counts.pending, 2);
      await app.orgs.updateSubscription(org.slug, { daily_limit: 100 });
      assert.equal(await app.backfills.pass(now), 0, 'not before its next attempt');
      const later = new Date(now.getTime() + 301_000);
      const { backfill } = await drive(org.slug, created.backfill_id, 3, () => app.backfills.pass(later));
      assert.equal(backfill.status, 'completed');
      assert.equal(backfill.counts.completed, 3);
    });

    test('two coordinators passing at once create no duplicate child, and count each admission once', async () => {
      const org = await newOrg();
      const ids: string[] = [];
      for (const month of ['06', '07', '08']) ids.push((await start(org, { start_date: `2026-${month}-01`, end_date: `2026-${month}-12`, mode: 'all', max_concurrent: 20 })).backfill_id);
      const coordinators = [backfillCoordinator(coordinatorDeps(app)), backfillCoordinator(coordinatorDeps(app))];
      let admitted = 0;
      await waitFor(async () => {
        for (const n of await Promise.all(coordinators.map((c) => c.pass(new Date())))) admitted += n;
        const states = await Promise.all(ids.map(async (id) => (await app.backfills.get(org.slug, id))?.status));
        return states.every((status) => status === 'completed');
      }, 60_000, 'backfills to end');
      const runs = await backfillRuns(org.slug);
      assert.equal(runs.length, 36);
      assert.equal(new Set(runs.map((r) => r.run_id)).size, 36);
      assert.equal(admitted, 36);
      for (const id of ids) {
        const days = (await app.backfills.get(org.slug, id))?.days ?? [];
        assert.deepEqual(days.map((d) => d.run_id), days.map((d) => childRunId(id, d.day, 1)));
      }
    });

    test('a child admitted before a crash lost its recording is found by its id, not admitted again', async () => {
      const org = await newOrg();
      const created = await start(org, { start_date: '2026-09-01', end_date: '2026-09-03', mode: 'all' });
      const orphan = childRunId(created.backfill_id, '2026-09-01', 1);
      await admitRun(cp.db, { org_slug: org.slug, run_id: orphan, pipeline_id: 'test_backfill_daily', provider: 'test', domain: 'backfill', pipeline: 'daily', parameters: { start_date: '2026-09-01', end_date: '2026-09-01', credential_id: 'default', fail_days: '' }, trigger: 'backfill', created_by: 'crashed', created_at: new Date() });
      const { backfill, admitted } = await drive(org.slug, created.backfill_id, 2);
      assert.equal(admitted, 2);
      assert.equal(backfill.days[0]?.run_id, orphan);
      assert.deepEqual((await backfillRuns(org.slug)).map((r) => r.day).sort(), ['2026-09-01', '2026-09-02', '2026-09-03']);
    });

    test('a backfill survives a restart: another app on the same control plane carries it on', async () => {
      const org = await newOrg();
      const first = await testApp(cp, appOptions());
      const created = await first.backfills.create({ orgSlug: org.slug, route: ROUTE, startDate: '2026-10-01', endDate: '2026-10-05', mode: 'all', maxConcurrent: 2, createdBy: 'test' });
      assert.equal(await first.backfills.pass(new Date()), 2);
      await first.close();
      const { backfill } = await drive(org.slug, created.backfill_id, 2);
      assert.equal(backfill.status, 'completed');
      assert.equal(backfill.counts.completed, 5);
      assert.equal((await backfillRuns(org.slug)).length, 5);
    });

    test('cancel stops admissions and cancels the children under way', async () => {
      const org = await newOrg();
      const created = await start(org, { start_date: '2026-11-01', end_date: '2026-11-06', mode: 'all', max_concurrent: 2 }, 'test/backfill/slow');
      assert.equal(await app.backfills.pass(new Date()), 2);
      const running = (await backfillRuns(org.slug)).map((r) => r.run_id);
      await waitFor(async () => (await Promise.all(running.map(async (id) => (await app.runs.steps(org.slug, id))[0]?.status))).every((s) => s === 'running'), 20_000, 'steps running');
      const response = await server.inject({ method: 'POST', url: `/api/v1/pipelines/backfill/${org.slug}/${created.backfill_id}/cancel`, headers: { 'x-api-key': org.key } });
      assert.equal(response.statusCode, 200, response.body);
      assert.ok(['cancelling', 'cancelled'].includes((response.json() as Json).status));
      const { backfill, admitted } = await drive(org.slug, created.backfill_id, 2);
      assert.equal(admitted, 0, 'nothing admitted after the cancel');
      assert.equal(backfill.status, 'cancelled');
      assert.deepEqual(backfill.counts, { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 6, skipped: 0 });
      for (const id of running) assert.equal((await app.runs.get(org.slug, id))?.status, 'cancelled');
      assert.equal((await backfillRuns(org.slug)).length, 2);
    });

    test('the API: 404 for another org’s backfill, 400 naming the field of a bad body, nothing stored', async () => {
      const alpha = await newOrg();
      const beta = await newOrg();
      const created = await start(alpha, { start_date: '2026-12-01', end_date: '2026-12-02' });
      const as = (org: { key: string }, method: 'GET' | 'POST', url: string) => server.inject({ method, url, headers: { 'x-api-key': org.key } });
      const foreign: [{ key: string }, 'GET' | 'POST', string][] = [
        [beta, 'GET', `/api/v1/pipelines/backfill/${beta.slug}/${created.backfill_id}`],
        [beta, 'POST', `/api/v1/pipelines/backfill/${beta.slug}/${created.backfill_id}/cancel`],
        [alpha, 'GET', `/api/v1/pipelines/backfill/${alpha.slug}/00000000-0000-4000-8000-000000000000`],
        [alpha, 'POST', `/api/v1/pipelines/backfill/${alpha.slug}/00000000-0000-4000-8000-000000000000/cancel`],
      ];
      for (const [org, method, url] of foreign) {
        const response = await as(org, method, url);
        assert.equal(response.statusCode, 404, `${method} ${url}: ${response.body}`);
        assert.equal((response.json() as Json).error.message, 'Backfill not found');
      }
      assert.equal((await app.backfills.get(alpha.slug, created.backfill_id))?.status, 'running', 'a foreign cancel changed nothing');
      assert.equal((await as(beta, 'GET', `/api/v1/pipelines/backfill/${alpha.slug}/${created.backfill_id}`)).statusCode, 403);
      assert.deepEqual(((await as(alpha, 'GET', `/api/v1/pipelines/backfill/${alpha.slug}`)).json() as Json).backfills.map((b: Json) => b.backfill_id), [created.backfill_id]);
      assert.deepEqual(((await as(beta, 'GET', `/api/v1/pipelines/backfill/${beta.slug}`)).json() as Json).backfills, []);

      const stored = async () => (await cp.db.query<{ n: number }>('SELECT count(*)::int AS n FROM backfills WHERE org_slug = $1', [alpha.slug]))[0]?.n;
      const bad: [Json, string, RegExp][] = [
        [{ start_date: '2026-01-01', end_date: '2026-01-02', parameters: { fail_days: 5 } }, 'parameters.fail_days', /^parameter "fail_days" must be a string/],
        [{ start_date: '2026-01-01', end_date: '2026-01-02', parameters: { nope: 'x' } }, 'parameters.nope', /^unknown parameter "nope"/],
        [{ start_date: '2026-01-01', end_date: '2026-01-02', parameters: { date: '2026-01-01' } }, 'parameters.date', /each child runs one day/],
        [{ start_date: '2026-01-01', end_date: '2026-01-02', max_concurrent: 21 }, 'max_concurrent', /./],
        [{ start_date: '2026-01-01', end_date: '2026-01-02', mode: 'sometimes' }, 'mode', /./],
        [{ start_date: '2026-01-03', end_date: '2026-01-02' }, 'start_date', /^start_date 2026-01-03 is after end_date 2026-01-02$/],
        [{ start_date: '2025-01-01', end_date: '2026-02-05' }, 'end_date', /at most 400 days/],
        [{ start_date: '2026-02-30', end_date: '2026-03-02' }, 'start_date', /./],
        [{ end_date: '2026-01-02' }, 'start_date', /./],
      ];
      for (const [body, field, message] of bad) {
        const response = await post(alpha, body);
        assert.equal(response.statusCode, 400, `${JSON.stringify(body)}: ${response.body}`);
        const error = (response.json() as Json).error;
        assert.equal(error.field, field, JSON.stringify(body));
        assert.match(error.message, message);
      }
      assert.equal(await stored(), 1);
      assert.equal((await post(alpha, { start_date: '2026-01-01', end_date: '2026-01-02' }, 'test/backfill/nothing')).statusCode, 404);
      await app.backfills.cancel(alpha.slug, created.backfill_id, 'test');
    });

    test('the CLI starts a backfill and follows it, non-zero when a day failed; status prints its failed days', async () => {
      const org = await newOrg();
      const lines: string[] = [];
      const withApp = (_execute: boolean, fn: (app: App) => Promise<number>) => fn(app);
      const code = await backfillCommand({
        args: [`${org.slug}/${ROUTE}`], options: { 'start-date': '2027-01-01', 'end-date': '2027-01-04', mode: 'all', 'max-concurrent': '2' },
        parameters: { fail_days: '2027-01-03' }, out: (line) => lines.push(...line.split('\n')), withApp,
      });
      assert.equal(code, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', /^backfill [0-9a-f-]{36}: test\/backfill\/daily for bf_\w+, 2027-01-01\.\.2027-01-04, mode all, 4 of 4 days to run$/);
      const id = lines[0]?.split(' ')[1]?.replace(':', '') ?? '';
      const progress = lines.filter((line) => /^\d\d:\d\d:\d\d pending /.test(line)).map((line) => line.slice(9));
      assert.ok(progress.length >= 2, lines.join('\n'));
      for (let i = 1; i < progress.length; i += 1) assert.notEqual(progress[i], progress[i - 1], 'a line only when the counts change');
      assert.equal(progress.at(-1), 'pending 0, running 0, completed 3, failed 1, cancelled 0 (4/4 days, 100%)');
      assert.equal(lines.at(-1), `  failed 2027-01-03 run ${childRunId(id, '2027-01-03', 1)}: test.day_gate: day 2027-01-03 fails on purpose`);
      const status: string[] = [];
      assert.equal(await backfillCommand({ args: ['status', org.slug, id], options: {}, parameters: {}, out: (line) => status.push(...line.split('\n')), withApp }), 0);
      assert.match(status[0] ?? '', new RegExp(`^backfill ${id} completed_with_failures: test/backfill/daily 2027-01-01\\.\\.2027-01-04, mode all, max 2 at once$`));
      assert.deepEqual(status.slice(1), ['  pending 0, running 0, completed 3, failed 1, cancelled 0 (4/4 days, 100%)', lines.at(-1)]);
      const ok: string[] = [];
      assert.equal(await backfillCommand({ args: [`${org.slug}/${ROUTE}`], options: { 'start-date': '2027-01-01', 'end-date': '2027-01-04', mode: 'failed' }, parameters: {}, out: (line) => ok.push(line), withApp }), 0, ok.join('\n'));
      await assert.rejects(backfillCommand({ args: ['status', org.slug, 'nope'], options: {}, parameters: {}, out: () => undefined, withApp }), /backfill id must be a UUID/);
    });
  });
}

function coordinatorDeps(app: App) {
  return { db: app.controlPlane.db, pipelines: app.pipelines, processors: app.processors, executions: app.executions, settings: app.settings, clock: app.clock, logger: silentLogger() };
}
