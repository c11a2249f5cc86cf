import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { REPO, testApp } from '../support/test-app.ts';

let cp: ControlPlane;
let app: App;
before(async () => {
  cp = await openPglite();
  app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0' } });
  for (const org of ['plans_api', 'plans_other']) await app.orgs.create(org, org, app.plans.TRIAL!);
});
after(async () => {
  await app.close();
  await cp.close();
});

test('PUT /api/v1/subscriptions/plans/{org} replaces the plans from a CSV body, all or nothing', async () => {
  const server = await buildServer(app);
  const { api_key } = await app.orgs.createKey('plans_api');
  const csv = await readFile(join(REPO, 'examples', 'saas_subscription_plans.csv'), 'utf8');
  const put = (payload: string, key = api_key, org = 'plans_api') => server.inject({ method: 'PUT', url: `/api/v1/subscriptions/plans/${org}`, headers: { 'x-api-key': key, 'content-type': 'text/csv' }, payload });
  const ok = await put(csv);
  assert.equal(ok.statusCode, 200, ok.payload);
  const rows = (ok.json() as { rows: number }).rows;
  assert.ok(rows > 0);
  const bad = await put(csv.replace(/,USD,/, ',XXX,'));
  assert.equal(bad.statusCode, 400);
  assert.match((bad.json() as { error: { message: string } }).error.message, /line \d+, column currency/);
  const [count] = await app.warehouse!.query('SELECT count(*)::INT AS n FROM plans_api_dev.saas_subscription_plans');
  assert.equal(count?.n, rows, 'the bad file changed nothing');
  assert.equal((await put(csv, (await app.orgs.createKey('plans_other')).api_key)).statusCode, 403);
  await server.close();
});
