import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { testApp, waitForRunEnd } from '../support/test-app.ts';
import { assertError, assertOk, call, createOrg, DEMO_ROUTE, patchSubscription, requestRun, startRun, UUID, type CreatedOrg } from './api-helpers.ts';

const MAX_RANGE_DAYS = 7;
const STEP_IDS = ['generate_usage', 'cost_by_team', 'cost_by_service'];
type Json = Record<string, any>;

for (const factory of controlPlaneFactories()) {
  describe(`API runs (${factory.name})`, () => {
    let controlPlane: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let main: CreatedOrg;
    let runId: string;
    let accepted: Json;

    const get = async (org: CreatedOrg | undefined, url: string): Promise<Json> => {
      const response = await call(server, { method: 'GET', url, headers: org ? { 'x-api-key': org.api_key } : {} });
      assertOk(response, 200);
      return response.json() as Json;
    };
    const waitCompleted = async (org: CreatedOrg, id: string) => assert.equal((await waitForRunEnd(app, org.org_slug, id)).status, 'completed');
    const runsToday = async (org: CreatedOrg) => (await app.orgs.subscription(org.org_slug)).runs_today;

    before(async () => {
      controlPlane = await factory.open();
      app = await testApp(controlPlane, { settings: { MAX_RUN_RANGE_DAYS: String(MAX_RANGE_DAYS) } });
      app.worker?.start();
      server = await buildServer(app);
      main = await createOrg(server, 'runs_main');
      const response = await requestRun(server, main, { date: '2026-01-05' });
      assertOk(response, 202);
      accepted = response.json() as Json;
      runId = accepted.run_id;
      await waitCompleted(main, runId);
    });

    after(async () => {
      await server?.close();
      await app?.close();
      await controlPlane?.close();
    });

    describe('the demo pipeline over the API', () => {
      test('POST run → 202 { run_id, pipeline_logging_id, status: pending }', () => {
        assert.deepEqual(Object.keys(accepted).sort(), ['pipeline_logging_id', 'run_id', 'status']);
        assert.match(runId, UUID);
        assert.equal(accepted.pipeline_logging_id, runId);
        assert.equal(accepted.status, 'pending');
      });

      test('status and runs/{id}: completed, timed, with records', async () => {
        const status = await get(main, `/api/v1/pipelines/status/runs_main/${runId}`);
        assert.equal(status.status, 'completed');
        assert.equal(status.run_id, runId);
        assert.equal(status.pipeline_logging_id, runId);
        assert.equal(status.org_slug, 'runs_main');
        assert.equal(status.pipeline_id, 'demo_usage_daily_cost');
        assert.deepEqual(status.parameters, { start_date: '2026-01-05', end_date: '2026-01-05', credential_id: 'default', teams: 3 });
        const [created, started, ended] = [status.created_at, status.started_at, status.ended_at].map((at: string) => Date.parse(at));
        assert.ok(created! <= started! && started! <= ended!, `created ${status.created_at} started ${status.started_at} ended ${status.ended_at}`);
        assert.ok(Number.isInteger(status.duration_ms) && Math.abs(status.duration_ms - (ended! - started!)) <= 1);
        assert.ok(status.records_processed > 0);
        assert.equal(status.error_message, null);
        assert.deepEqual(await get(main, `/api/v1/pipelines/runs/${runId}`), status);
      });

      test('steps: 3 completed at the first attempt, the summaries after generate_usage', async () => {
        const { steps } = await get(main, `/api/v1/pipelines/logs/runs_main/${runId}/steps`);
        assert.deepEqual(steps.map((s: Json) => s.step_id), STEP_IDS);
        for (const step of steps) {
          assert.equal(step.status, 'completed', step.step_id);
          assert.equal(step.attempts, 1, step.step_id);
        }
        const [generate, ...summaries] = steps as Json[];
        for (const summary of summaries) assert.ok(Date.parse(summary.started_at) >= Date.parse(generate!.ended_at), `${summary.step_id} started before generate_usage ended`);
        // 1 day x 3 teams x 3 services, then one row per team and one per service.
        assert.deepEqual(steps.map((s: Json) => s.records_processed), [9, 3, 3]);
        const run = await get(main, `/api/v1/pipelines/runs/${runId}`);
        assert.equal(run.records_processed, 15);
      });

      test('transitions: pending → validating → running → completed, each with a reason', async () => {
        const { transitions } = await get(main, `/api/v1/pipelines/logs/runs_main/${runId}/transitions`);
        assert.deepEqual(transitions.map((t: Json) => [t.from_status, t.to_status]), [[null, 'pending'], ['pending', 'validating'], ['validating', 'running'], ['running', 'completed']]);
        for (const transition of transitions) assert.ok(typeof transition.reason === 'string' && transition.reason.length > 0);
        const times = transitions.map((t: Json) => Date.parse(t.at));
        assert.deepEqual(times, [...times].sort((a, b) => a - b));
      });

      test('logs: non-empty, with step ids, paged by after_id', async () => {
        const { logs, status } = await get(main, `/api/v1/pipelines/logs/runs_main/${runId}`);
        assert.equal(status, 'completed');
        assert.ok(logs.length >= 3);
        assert.deepEqual(new Set(logs.map((l: Json) => l.step_id).filter(Boolean)), new Set(STEP_IDS));
        const first = await get(main, `/api/v1/pipelines/logs/runs_main/${runId}?limit=2`);
        const rest = await get(main, `/api/v1/pipelines/logs/runs_main/${runId}?after_id=${first.logs[1].id}`);
        assert.deepEqual([...first.logs, ...rest.logs], logs);
      });

      test('download: NDJSON attachment, every line JSON', async () => {
        const response = await call(server, { method: 'GET', url: `/api/v1/pipelines/logs/runs_main/${runId}/download`, headers: { 'x-api-key': main.api_key } });
        assertOk(response, 200);
        assert.match(String(response.headers['content-type']), /^application\/x-ndjson/);
        assert.equal(response.headers['content-disposition'], `attachment; filename="run-${runId}.log.jsonl"`);
        const lines = response.body.trimEnd().split('\n').map((line) => JSON.parse(line) as Json);
        assert.equal(lines[0]?.type, 'run');
        assert.equal(lines[0]?.run_id, runId);
        const count = (type: string) => lines.filter((line) => line.type === type).length;
        const { logs } = await get(main, `/api/v1/pipelines/logs/runs_main/${runId}`);
        assert.deepEqual([count('run'), count('transition'), count('step'), count('log')], [1, 4, 3, logs.length]);
      });

      test('cancel of a finished run → 409 in the error shape, the run unchanged', async () => {
        const response = await call(server, { method: 'POST', url: `/api/v1/pipelines/cancel/runs_main/${runId}`, headers: { 'x-api-key': main.api_key } });
        assertError(response, 409, { message: /already completed: there is nothing to cancel/ });
        const run = await get(main, `/api/v1/pipelines/runs/${runId}`);
        assert.equal(run.status, 'completed');
        assert.equal(run.cancel_requested, false);
        assertError(await call(server, { method: 'POST', url: '/api/v1/pipelines/cancel/runs_main/00000000-0000-4000-8000-000000000000', headers: { 'x-api-key': main.api_key } }), 404);
      });
    });

    describe('listing runs', () => {
      let pages: CreatedOrg;
      const ids: string[] = [];
      before(async () => {
        pages = await createOrg(server, 'runs_pages');
        // One after the other, so the pages have a known order.
        for (const day of ['2026-01-01', '2026-01-02', '2026-01-03']) {
          ids.push(await startRun(server, pages, { date: day }));
          await waitCompleted(pages, ids.at(-1)!);
        }
      });

      test('GET runs: cursor pagination sees every run once, newest first', async () => {
        const seen: Json[] = [];
        let url = '/api/v1/pipelines/runs?limit=2';
        for (let page = 0; page < 5; page++) {
          const body = await get(pages, url);
          assert.ok(body.runs.length <= 2);
          seen.push(...body.runs);
          if (!body.next_cursor) break;
          url = `/api/v1/pipelines/runs?limit=2&cursor=${encodeURIComponent(body.next_cursor)}`;
        }
        const seenIds = seen.map((run) => run.run_id);
        assert.equal(new Set(seenIds).size, seenIds.length, 'a run appeared twice');
        assert.deepEqual([...seenIds].sort(), [...ids].sort());
        const order = seen.map((run) => `${run.created_at}|${run.run_id}`);
        assert.deepEqual(order, [...order].sort().reverse());
        const first = await get(pages, '/api/v1/pipelines/runs?limit=2');
        assert.equal(first.runs.length, 2);
        assert.equal(typeof first.next_cursor, 'string');
      });

      // Flaky src bug: the first runs of a fresh org race on CREATE SCHEMA/TABLE IF NOT EXISTS in
      // DuckDB ("Catalog write-write conflict on create"); a step without retries fails the run.
      test('concurrent first runs of a fresh org all complete', async () => {
        const fresh = await createOrg(server, 'runs_concurrent');
        const started = await Promise.all(['2026-02-01', '2026-02-02', '2026-02-03'].map((date) => startRun(server, fresh, { date })));
        for (const id of started) await waitCompleted(fresh, id);
      });

      test('a cursor this API did not return → 400', async () => {
        assertError(await call(server, { method: 'GET', url: '/api/v1/pipelines/runs?cursor=bm9wZQ', headers: { 'x-api-key': pages.api_key } }), 400, { field: 'cursor' });
      });

      test('history: provider, pipeline and status filters, and limit', async () => {
        const all = await get(pages, '/api/v1/pipelines/history/runs_pages');
        assert.equal(all.runs.length, 3);
        assert.equal(all.next_cursor, null);
        const one = await get(pages, '/api/v1/pipelines/history/runs_pages?provider=demo&limit=1');
        assert.equal(one.runs.length, 1);
        assert.equal(one.runs[0].run_id, all.runs[0].run_id);
        assert.equal(typeof one.next_cursor, 'string');
        assert.deepEqual((await get(pages, '/api/v1/pipelines/history/runs_pages?provider=nope')).runs, []);
        assert.equal((await get(pages, '/api/v1/pipelines/history/runs_pages?provider=demo&domain=usage&pipeline=daily_cost&status=completed')).runs.length, 3);
        assert.deepEqual((await get(pages, '/api/v1/pipelines/history/runs_pages?status=failed')).runs, []);
        assert.ok(all.runs.every((run: Json) => run.org_slug === 'runs_pages'));
      });
    });

    describe('validation', () => {
      const rejected = async (body: unknown, expect: { field?: string; message?: string | RegExp }) => {
        const before = await runsToday(main);
        assertError(await requestRun(server, main, body), 400, { code: 'invalid_input', ...expect });
        assert.equal(await runsToday(main), before, 'a rejected request reserved quota');
      };

      test('a bad date → 400 naming date', () => rejected({ date: '2026-13-01' }, { field: 'date', message: /date/ }));
      test('start_date after end_date → 400', () => rejected({ start_date: '2026-01-10', end_date: '2026-01-09' }, { field: 'start_date' }));
      test(`a range longer than MAX_RUN_RANGE_DAYS (${MAX_RANGE_DAYS}) → 400`, () => rejected({ start_date: '2026-01-01', end_date: '2026-01-08' }, { field: 'end_date', message: new RegExp(`${MAX_RANGE_DAYS} days`) }));
      test('an unknown parameter → 400 naming it', () => rejected({ date: '2026-01-05', bogus_param: 'x' }, { field: 'bogus_param', message: /bogus_param/ }));
      test('a parameter of the wrong type → 400', () => rejected({ teams: 'x' }, { field: 'teams', message: /teams/ }));

      test(`a range of exactly ${MAX_RANGE_DAYS} days is accepted`, async () => {
        const range = await createOrg(server, 'runs_range');
        const id = await startRun(server, range, { start_date: '2026-01-01', end_date: '2026-01-07' });
        await waitCompleted(range, id);
        const { steps } = await get(range, `/api/v1/pipelines/logs/runs_range/${id}/steps`);
        assert.equal(steps[0].records_processed, MAX_RANGE_DAYS * 9);
      });

      // Fails: server.ts sets ajv coerceTypes, and RunBody's additionalProperties is
      // Union([String, Number, Boolean]), so 5 is coerced to "5" before resolveRunParameters.
      test('an integer parameter is accepted as an integer', async () => {
        const response = await requestRun(server, main, { date: '2026-01-05', teams: 5 });
        assertOk(response, 202);
        const run = await waitForRunEnd(app, main.org_slug, (response.json() as Json).run_id);
        assert.equal(run.parameters.teams, 5);
      });

      test('an unknown pipeline route → 404', async () => {
        const response = await call(server, { method: 'POST', url: '/api/v1/pipelines/run/runs_main/demo/usage/nope', headers: { 'x-api-key': main.api_key }, payload: {} });
        assertError(response, 404, { message: 'Pipeline not found: demo/usage/nope' });
      });

      test('a malformed JSON body → 400, not 500', async () => {
        const response = await call(server, { method: 'POST', url: `/api/v1/pipelines/run/runs_main/${DEMO_ROUTE}`, headers: { 'x-api-key': main.api_key, 'content-type': 'application/json' }, payload: '{"date": "2026-01-05"' });
        assertError(response, 400);
      });

      test('a run_id that is not a uuid → 400', async () => {
        for (const url of ['/api/v1/pipelines/runs/not-a-uuid', '/api/v1/pipelines/status/runs_main/not-a-uuid', '/api/v1/pipelines/logs/runs_main/123/steps']) {
          assertError(await call(server, { method: 'GET', url, headers: { 'x-api-key': main.api_key } }), 400, { field: 'run_id' });
        }
      });
    });

    describe('quotas', () => {
      test('a SUSPENDED subscription → 403', async () => {
        const org = await createOrg(server, 'runs_suspended');
        assert.equal((await patchSubscription(server, org.org_slug, { status: 'SUSPENDED' })).status, 'SUSPENDED');
        assertError(await requestRun(server, org), 403, { message: 'Organization subscription is SUSPENDED' });
        assert.equal(await runsToday(org), 0);
        assert.deepEqual((await get(org, '/api/v1/pipelines/history/runs_suspended')).runs, []);
      });

      test('daily_limit 1 → the second run is 429 with Retry-After', async () => {
        const org = await createOrg(server, 'runs_daily');
        assert.equal((await patchSubscription(server, org.org_slug, { daily_limit: 1 })).daily_limit, 1);
        const first = await startRun(server, org);
        const response = await requestRun(server, org, { date: '2026-01-06' });
        const body = assertError(response, 429, { code: 'quota_exceeded' });
        const retryAfter = String(response.headers['retry-after']);
        assert.match(retryAfter, /^\d+$/);
        assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 86_400, retryAfter);
        assert.equal(body.error.limit, 'daily');
        assert.equal(body.error.retry_after_seconds, Number(retryAfter));
        await waitCompleted(org, first);
        assert.equal((await get(org, '/api/v1/pipelines/history/runs_daily')).runs.length, 1);
      });
    });

    describe('discovery, OpenAPI and health', () => {
      test('validator lists demo/usage/daily_cost with its parameters and schedule', async () => {
        const { pipelines } = await get(undefined, '/api/v1/validator/pipelines');
        const demo = pipelines.find((p: Json) => p.route === DEMO_ROUTE);
        assert.ok(demo, 'demo pipeline missing');
        assert.equal(demo.schedule, '0 6 * * *');
        assert.equal(demo.parameters.teams.type, 'integer');
        assert.equal(demo.parameters.teams.default, 3);
        assert.deepEqual(demo.steps.map((s: Json) => s.step_id), STEP_IDS);
        assert.deepEqual((await get(undefined, '/api/v1/validator/pipelines/demo')).pipelines.map((p: Json) => p.route), [DEMO_ROUTE]);
        assert.deepEqual((await get(undefined, '/api/v1/validator/pipelines/nope')).pipelines, []);
      });

      test('GET /openapi.json is an OpenAPI 3 document with the run path', async () => {
        const doc = await get(undefined, '/openapi.json');
        assert.match(doc.openapi, /^3\./);
        assert.ok(doc.paths['/api/v1/pipelines/run/{org}/{provider}/{domain}/{pipeline}']?.post, 'run path missing');
        assert.ok(doc.paths['/api/v1/admin/orgs'], 'admin path missing');
      });

      test('GET /health → 200 with control_plane and warehouse ok', async () => {
        const health = await get(undefined, '/health');
        assert.equal(health.status, 'ok');
        assert.deepEqual(health.checks, { control_plane: 'ok', warehouse: 'ok' });
      });
    });
  });
}
