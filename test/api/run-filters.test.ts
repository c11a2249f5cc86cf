import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import { addDays, isoDate } from '../../src/shared/clock.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';
import { assertError, assertOk, call, createOrg, DEMO_ROUTE, startRun, type CreatedOrg } from './api-helpers.ts';

/** The run list's filters the dashboard uses: trigger, and the days the runs were created (UTC). */
for (const factory of controlPlaneFactories()) {
  describe(`run history filters: trigger, from, to (${factory.name})`, () => {
    let controlPlane: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let org: CreatedOrg;
    let apiRun: string;
    let cliRun: string;
    const today = isoDate(new Date());
    const ids = async (query: string) => {
      const response = await call(server, { url: `/api/v1/pipelines/history/${org.org_slug}?${query}`, headers: { 'x-api-key': org.api_key } });
      assertOk(response, 200);
      return (response.json() as { runs: { run_id: string }[] }).runs.map((run) => run.run_id).sort();
    };

    before(async () => {
      controlPlane = await factory.open();
      app = await testApp(controlPlane, { settings: { WORKER_CONCURRENCY: '0' } });
      server = await buildServer(app);
      org = await createOrg(server, 'filters_acme');
      apiRun = await startRun(server, org, { date: '2026-01-05' });
      cliRun = (await app.requests.request({ orgSlug: org.org_slug, route: DEMO_ROUTE, body: { date: '2026-01-06' }, trigger: 'cli', createdBy: 'cli' })).run_id;
    });
    after(async () => {
      await server?.close();
      await app?.close();
      await controlPlane?.close();
    });

    test('by trigger', async () => {
      assert.deepEqual(await ids('trigger=api'), [apiRun]);
      assert.deepEqual(await ids('trigger=cli'), [cliRun]);
      assert.deepEqual(await ids('trigger=schedule'), []);
    });

    test('by the days they were created, both ends included', async () => {
      const both = [apiRun, cliRun].sort();
      assert.deepEqual(await ids(`from=${today}&to=${today}`), both);
      assert.deepEqual(await ids(`from=${addDays(today, -3)}`), both);
      assert.deepEqual(await ids(`to=${addDays(today, -1)}`), []);
      assert.deepEqual(await ids(`from=${addDays(today, 1)}`), []);
      assert.deepEqual(await ids(`trigger=cli&from=${today}`), [cliRun]);
    });

    test('a bad filter is a 400 naming it', async () => {
      for (const [query, field] of [['trigger=cron', 'trigger'], ['from=2026-02-30', 'from'], ['to=today', 'to']] as const) {
        assertError(await call(server, { url: `/api/v1/pipelines/history/${org.org_slug}?${query}`, headers: { 'x-api-key': org.api_key } }), 400, { field });
      }
    });
  });
}
