import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { assertError, assertOk, call } from '../api/api-helpers.ts';
import { openPglite } from '../support/control-planes.ts';
import { ROOT_KEY, testApp } from '../support/test-app.ts';

/** The scheduler's HTTP surface on the real configs (the demo pipeline needs no credential, so every org gets its schedule). */
describe('schedule endpoints', () => {
  let cp: ControlPlane;
  let app: App;
  let server: FastifyInstance;
  let key: string;
  let other: string;
  const root = { 'x-ca-root-key': ROOT_KEY };

  before(async () => {
    cp = await openPglite();
    app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0' } });
    server = await buildServer(app);
    const created = await call(server, { method: 'POST', url: '/api/v1/admin/orgs', headers: root, payload: { org_slug: 'acme', plan: 'STARTER' } });
    key = (created.json() as { api_key: string }).api_key;
    other = ((await call(server, { method: 'POST', url: '/api/v1/admin/orgs', headers: root, payload: { org_slug: 'globex', plan: 'STARTER' } })).json() as { api_key: string }).api_key;
  });
  after(async () => {
    await server.close();
    await app.close();
    await cp.close();
  });

  const demoSchedule = async () => {
    const listed = await call(server, { url: '/api/v1/pipelines/schedules/acme', headers: { 'x-api-key': key } });
    assertOk(listed, 200);
    const schedule = (listed.json() as { schedules: { schedule_id: string; provider: string; cron_expression: string; next_run_at: string }[] }).schedules.find((s) => s.provider === 'demo');
    assert.ok(schedule, 'a new org gets the schedules of the pipelines it can run');
    return schedule;
  };

  test("an org reads and changes its own schedules, and nobody else's", async () => {
    const schedule = await demoSchedule();
    assert.equal(schedule.cron_expression, '0 6 * * *');
    const changed = await call(server, { method: 'PUT', url: '/api/v1/pipelines/schedules/acme', headers: { 'x-api-key': key }, payload: { schedule_id: schedule.schedule_id, cron_expression: '15 7 * * *', timezone: 'Asia/Tokyo' } });
    assertOk(changed, 200);
    const body = changed.json() as { cron_expression: string; timezone: string; source: string; next_run_at: string };
    assert.deepEqual([body.cron_expression, body.timezone, body.source], ['15 7 * * *', 'Asia/Tokyo', 'org']);
    assert.match(body.next_run_at, /T22:15:00\.000Z$/, '07:15 in Tokyo');
    // Another org's key cannot read or change it, and another org's path with one's own key is refused.
    assertError(await call(server, { method: 'PUT', url: '/api/v1/pipelines/schedules/globex', headers: { 'x-api-key': other }, payload: { schedule_id: schedule.schedule_id, is_enabled: false } }), 404);
    assertError(await call(server, { url: '/api/v1/pipelines/schedules/acme', headers: { 'x-api-key': other } }), 403);
  });

  test('bad changes are 400s naming the field, and change nothing', async () => {
    const schedule = await demoSchedule();
    const put = (payload: Record<string, unknown>) => call(server, { method: 'PUT', url: '/api/v1/pipelines/schedules/acme', headers: { 'x-api-key': key }, payload: { schedule_id: schedule.schedule_id, ...payload } });
    assertError(await put({ cron_expression: 'every day' }), 400, { field: 'cron_expression' });
    assertError(await put({ timezone: 'Mars/Olympus' }), 400, { field: 'timezone' });
    assertError(await put({ parameters: { date: '{{ tomorrow }}' } }), 400, { field: 'parameters.date' });
    assertError(await put({ missed_policy: 'sometimes' }), 400);
    assertError(await put({}), 400);
    assert.deepEqual(await demoSchedule(), schedule);
  });

  test('the operator triggers a schedule now: one tick and one run, however often it is called within a second', async () => {
    const schedule = await demoSchedule();
    const first = await call(server, { method: 'POST', url: '/api/v1/scheduler/trigger', headers: root, payload: { schedule_id: schedule.schedule_id } });
    assertOk(first, 200);
    assert.equal((first.json() as { enqueued: number }).enqueued, 1);
    const queue = await call(server, { url: '/api/v1/scheduler/queue?org=acme', headers: root });
    const ticks = (queue.json() as { ticks: { status: string; run_id: string; run_status: string }[] }).ticks;
    assert.equal(ticks.length, 1);
    assert.equal(ticks[0]?.status, 'enqueued');
    assert.equal(ticks[0]?.run_status, 'pending');
    const run = await call(server, { url: `/api/v1/pipelines/status/acme/${ticks[0]?.run_id}`, headers: { 'x-api-key': key } });
    assert.equal((run.json() as { trigger: string }).trigger, 'schedule');
    assertError(await call(server, { url: '/api/v1/scheduler/queue?status=lost', headers: root }), 400, { field: 'status' });
    assertError(await call(server, { method: 'POST', url: '/api/v1/scheduler/trigger', headers: { 'x-api-key': key }, payload: {} }), 401);
    assertError(await call(server, { method: 'POST', url: '/api/v1/scheduler/trigger', headers: root, payload: { schedule_id: '00000000-0000-4000-8000-000000000000' } }), 404);
  });

  test('the operator disables a schedule; process-queue answers with what it enqueued and what waits', async () => {
    const schedule = await demoSchedule();
    const disabled = await call(server, { method: 'PUT', url: `/api/v1/scheduler/schedule/${schedule.schedule_id}`, headers: root, payload: { is_enabled: false } });
    assertOk(disabled, 200);
    assert.equal((disabled.json() as { source: string; is_enabled: boolean }).is_enabled, false);
    const drained = await call(server, { method: 'POST', url: '/api/v1/scheduler/process-queue', headers: root, payload: {} });
    assertOk(drained, 200);
    const body = drained.json() as { queued: number; executing_here: boolean };
    assert.equal(body.executing_here, false, 'this test app runs no worker');
    assert.ok(body.queued >= 1, 'the triggered run still waits');
    assertOk(await call(server, { method: 'POST', url: '/api/v1/scheduler/queue/process', headers: root }), 200);
    const deleted = await call(server, { method: 'DELETE', url: `/api/v1/pipelines/schedules/acme/${schedule.schedule_id}`, headers: { 'x-api-key': key } });
    assertOk(deleted, 204);
    await app.scheduler.sync('acme');
    const listed = (await call(server, { url: '/api/v1/pipelines/schedules/acme', headers: { 'x-api-key': key } })).json() as { schedules: { schedule_id: string }[] };
    assert.ok(!listed.schedules.some((s) => s.schedule_id === schedule.schedule_id), 'a deleted schedule stays deleted after a sync');
  });
});
