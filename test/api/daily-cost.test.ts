import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import { loadHistory } from '../alerts/focus-history.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { CONFIGS, ROOT_KEY, testApp } from '../support/test-app.ts';
import { assertError, assertOk, call, createOrg, type CreatedOrg } from './api-helpers.ts';

interface DailyCostBody {
  from: string;
  to: string;
  currency: string;
  days: { day: string; group: string; cost: string }[];
  groups: { group: string; total: string }[];
  total: string;
  month_to_date: { month: string; from: string; through: string; total: string };
  other_currencies: string[];
}

/** Amounts chosen so every sum is exact in decimal and wrong if a row is counted twice, dropped, or taken from another org. */
const rows = (day: string, service: string, cost: string) => `SELECT DATE '${day}' AS day, '${service}' AS service, 'acct' AS sub_account, 'res' AS resource, ${cost} AS cost, NULL AS tags`;

for (const factory of controlPlaneFactories()) {
  describe(`GET /api/v1/focus/daily-cost/{org} (${factory.name})`, () => {
    let cp: ControlPlane;
    let warehouse: Warehouse;
    let app: App;
    let server: FastifyInstance;
    let acme: CreatedOrg;
    let globex: CreatedOrg;
    const get = (url: string, headers: Record<string, string>) => call(server, { url, headers });

    before(async () => {
      cp = await factory.open();
      warehouse = await openDuckDbWarehouse({ path: ':memory:', configsDir: CONFIGS, threads: 2 });
      // "Today" is 2026-03-10: the month to date is 2026-03-01..10, which begins before a from of 03-05.
      app = await testApp(cp, { warehouse, settings: { WORKER_CONCURRENCY: '0' }, clock: { now: () => new Date('2026-03-10T15:00:00Z'), sleep: async () => undefined } });
      server = await buildServer(app);
      acme = await createOrg(server, 'cost_acme');
      globex = await createOrg(server, 'cost_globex');
      const ingestedAt = new Date('2026-03-10T01:00:00Z');
      await loadHistory(warehouse, {
        orgSlug: 'cost_acme', sourceSystem: 'aws', providerName: 'AWS', start: '2026-02-27', end: '2026-03-10', ingestedAt,
        rows: [rows('2026-02-27', 'EC2', '100.10'), rows('2026-03-01', 'EC2', '10.25'), rows('2026-03-01', 'S3', '1.005'), rows('2026-03-05', 'EC2', '20.50'), rows('2026-03-10', 'S3', '2.5')].join(' UNION ALL '),
      });
      await loadHistory(warehouse, {
        orgSlug: 'cost_acme', sourceSystem: 'gcp', providerName: 'Google Cloud', pipelineId: 'gcp_cost_billing', start: '2026-03-05', end: '2026-03-06', ingestedAt,
        rows: [rows('2026-03-05', 'BigQuery', '7.75'), rows('2026-03-06', 'BigQuery', '0.25')].join(' UNION ALL '),
      });
      await loadHistory(warehouse, { orgSlug: 'cost_acme', sourceSystem: 'azure', providerName: 'Azure', pipelineId: 'azure_cost_billing', currency: 'EUR', start: '2026-03-05', end: '2026-03-05', ingestedAt, rows: rows('2026-03-05', 'VM', '999') });
      await loadHistory(warehouse, { orgSlug: 'cost_globex', sourceSystem: 'aws', providerName: 'AWS', start: '2026-03-05', end: '2026-03-05', ingestedAt, rows: rows('2026-03-05', 'EC2', '5000') });
    });
    after(async () => {
      await server.close();
      await app.close();
      await warehouse.close();
      await cp.close();
    });

    test('per day and provider, the range total and the month to date, summed exactly', async () => {
      const response = await get('/api/v1/focus/daily-cost/cost_acme?from=2026-03-05&to=2026-03-10', { 'x-api-key': acme.api_key });
      assertOk(response, 200);
      const body = response.json() as DailyCostBody;
      assert.deepEqual(body.days, [
        { day: '2026-03-05', group: 'AWS', cost: '20.500000000' },
        { day: '2026-03-05', group: 'Google Cloud', cost: '7.750000000' },
        { day: '2026-03-06', group: 'Google Cloud', cost: '0.250000000' },
        { day: '2026-03-10', group: 'AWS', cost: '2.500000000' },
      ]);
      assert.deepEqual(body.groups, [{ group: 'AWS', total: '23.000000000' }, { group: 'Google Cloud', total: '8.000000000' }]);
      assert.equal(body.total, '31.000000000');
      // 03-01 (10.25 + 1.005) counts in the month to date though it is before from; 02-27 never does.
      assert.deepEqual(body.month_to_date, { month: '2026-03', from: '2026-03-01', through: '2026-03-10', total: '42.255000000' });
      assert.deepEqual(body.other_currencies, ['EUR']);
    });

    test('by service, in another currency, and the default range (the 30 days through today)', async () => {
      const byService = (await get('/api/v1/focus/daily-cost/cost_acme?group_by=service', { 'x-api-key': acme.api_key })).json() as DailyCostBody;
      assert.deepEqual([byService.from, byService.to], ['2026-02-09', '2026-03-10']);
      assert.deepEqual(byService.groups, [{ group: 'EC2', total: '130.850000000' }, { group: 'BigQuery', total: '8.000000000' }, { group: 'S3', total: '3.505000000' }]);
      const euros = (await get('/api/v1/focus/daily-cost/cost_acme?currency=EUR', { 'x-api-key': acme.api_key })).json() as DailyCostBody;
      assert.deepEqual([euros.total, euros.month_to_date.total, euros.other_currencies], ['999.000000000', '999.000000000', ['USD']]);
    });

    test("an org sees only its own rows; the root key reads any org; another org's key is refused", async () => {
      const own = (await get('/api/v1/focus/daily-cost/cost_globex', { 'x-api-key': globex.api_key })).json() as DailyCostBody;
      assert.equal(own.total, '5000.000000000');
      const asRoot = await get('/api/v1/focus/daily-cost/cost_globex', { 'x-ca-root-key': ROOT_KEY });
      assertOk(asRoot, 200);
      assert.deepEqual(asRoot.json(), own);
      assertError(await get('/api/v1/focus/daily-cost/cost_globex', { 'x-api-key': acme.api_key }), 403);
      assertError(await get('/api/v1/focus/daily-cost/cost_globex', {}), 401);
      assertError(await get('/api/v1/focus/daily-cost/cost_globex', { 'x-ca-root-key': `${ROOT_KEY}x` }), 401);
    });

    test('an org with no FOCUS table yet has no cost, not an error', async () => {
      const fresh = await createOrg(server, 'cost_fresh');
      const body = (await get('/api/v1/focus/daily-cost/cost_fresh', { 'x-api-key': fresh.api_key })).json() as DailyCostBody;
      assert.deepEqual([body.days, body.groups, body.total, body.month_to_date.total], [[], [], '0.000000000', '0.000000000']);
    });

    test('bad input is a 400 naming the field', async () => {
      const bad: [string, string][] = [
        ['from=2026-02-30', 'from'],
        ['to=yesterday', 'to'],
        ['from=2026-03-10&to=2026-03-01', 'from'],
        ['from=2024-01-01&to=2026-03-01', 'to'],
        ['group_by=region', 'group_by'],
        ['cost_column=ListCost', 'cost_column'],
        ['currency=usd', 'currency'],
      ];
      for (const [query, field] of bad) assertError(await get(`/api/v1/focus/daily-cost/cost_acme?${query}`, { 'x-api-key': acme.api_key }), 400, { field });
    });
  });
}
