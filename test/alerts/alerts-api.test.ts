import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import { assertError, assertOk, call } from '../api/api-helpers.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { CONFIGS, ROOT_KEY, testApp } from '../support/test-app.ts';
import { loadHistory, steadyRows } from './focus-history.ts';

interface RuleBody {
  rule_id: string;
  name: string;
  kind: string;
  enabled: boolean;
  currency: string;
  cost_column: string;
  scope: Record<string, unknown>;
  group_by: string | null;
  thresholds?: number[];
  budget?: number;
  forecast_thresholds?: number[];
}

interface AlertsBody {
  open: number;
  alerts: { alert_id: string; rule_name: string; status: string; level: number; resolution: string | null; period_start: string; details: { title?: string; top_contributors?: unknown[] } }[];
}

for (const factory of controlPlaneFactories()) {
  describe(`cost alert endpoints (${factory.name})`, () => {
    let cp: ControlPlane;
    let warehouse: Warehouse;
    let app: App;
    let server: FastifyInstance;
    const keys: Record<string, string> = {};
    const as = (org: string) => ({ 'x-api-key': keys[org] as string });

    before(async () => {
      cp = await factory.open();
      warehouse = await openDuckDbWarehouse({ path: ':memory:', configsDir: CONFIGS, threads: 2 });
      // Evaluated "now" = 2026-04-22 12:00 UTC, a day and a half after the history's last day closed.
      app = await testApp(cp, { warehouse, settings: { WORKER_CONCURRENCY: '0' }, clock: { now: () => new Date('2026-04-22T12:00:00Z'), sleep: async () => undefined } });
      server = await buildServer(app);
      for (const org of ['acme', 'globex']) {
        const created = await call(server, { method: 'POST', url: '/api/v1/admin/orgs', headers: { 'x-ca-root-key': ROOT_KEY }, payload: { org_slug: org, plan: 'STARTER' } });
        keys[org] = (created.json() as { api_key: string }).api_key;
      }
    });
    after(async () => {
      await server.close();
      await app.close();
      await warehouse.close();
      await cp.close();
    });

    const post = (org: string, payload: unknown) => call(server, { method: 'POST', url: `/api/v1/alerts/${org}/rules`, headers: as(org), payload: payload as Record<string, unknown> });

    test('rules: create with defaults, read, change, replace, delete', async () => {
      const created = await post('acme', { name: 'budget', kind: 'monthly_budget', budget: 5000, scope: { providers: ['aws'] } });
      assertOk(created, 201);
      const rule = created.json() as RuleBody;
      assert.deepEqual(
        [rule.kind, rule.enabled, rule.currency, rule.cost_column, rule.thresholds, rule.forecast_thresholds, rule.budget, rule.scope],
        ['monthly_budget', true, 'USD', 'EffectiveCost', [50, 80, 100], [100], 5000, { providers: ['aws'] }],
      );
      const read = await call(server, { url: `/api/v1/alerts/acme/rules/${rule.rule_id}`, headers: as('acme') });
      assert.deepEqual(read.json(), rule);
      const patched = await call(server, { method: 'PATCH', url: `/api/v1/alerts/acme/rules/${rule.rule_id}`, headers: as('acme'), payload: { budget: 6000, cost_column: 'BilledCost' } });
      assertOk(patched, 200);
      assert.deepEqual([(patched.json() as RuleBody).budget, (patched.json() as RuleBody).cost_column, (patched.json() as RuleBody).scope], [6000, 'BilledCost', { providers: ['aws'] }]);
      const replaced = await call(server, { method: 'PUT', url: `/api/v1/alerts/acme/rules/${rule.rule_id}`, headers: as('acme'), payload: { name: 'budget', kind: 'daily_threshold', thresholds: [100] } });
      assertOk(replaced, 200);
      assert.deepEqual([(replaced.json() as RuleBody).kind, (replaced.json() as RuleBody).budget, (replaced.json() as RuleBody).scope], ['daily_threshold', undefined, {}]);
      assertError(await post('acme', { name: 'budget', kind: 'daily_threshold', thresholds: [1] }), 409);
      assertOk(await call(server, { method: 'DELETE', url: `/api/v1/alerts/acme/rules/${rule.rule_id}`, headers: as('acme') }), 204);
      assertError(await call(server, { url: `/api/v1/alerts/acme/rules/${rule.rule_id}`, headers: as('acme') }), 404);
    });

    test('a bad rule is a 400 naming the field, and nothing is stored', async () => {
      const before = (await call(server, { url: '/api/v1/alerts/acme/rules', headers: as('acme') })).json() as { rules: RuleBody[] };
      const bad: [Record<string, unknown>, string][] = [
        [{ kind: 'daily_threshold', thresholds: [1] }, 'name'],
        [{ name: 'x', thresholds: [1] }, 'kind'],
        [{ name: 'x', kind: 'weekly' }, 'kind'],
        [{ name: 'x', kind: 'daily_threshold' }, 'thresholds'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [200, 100] }, 'thresholds.1'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [-5] }, 'thresholds.0'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [1], budget: 10 }, 'budget'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [1], currency: 'usd' }, 'currency'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [1], cost_column: 'ListCost' }, 'cost_column'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [1], scope: { colour: ['red'] } }, 'scope.colour'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [1], scope: { services: [] } }, 'scope.services'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [1], scope: { tags: { team: 5 } } }, 'scope.tags.team'],
        [{ name: 'x', kind: 'daily_threshold', thresholds: [1], window: 7 }, 'window'],
        [{ name: 'x', kind: 'anomaly' }, 'group_by'],
        [{ name: 'x', kind: 'anomaly', group_by: 'service', min_history_days: 7 }, 'min_history_days'],
        [{ name: 'x', kind: 'day_over_day', min_spend: 10 }, 'increase_percent'],
        [{ name: 'x', kind: 'monthly_budget' }, 'budget'],
        [{ name: 'x', kind: 'monthly_budget', budget: 0 }, 'budget'],
      ];
      for (const [payload, field] of bad) assertError(await post('acme', payload), 400, { field });
      assertError(await call(server, { method: 'POST', url: '/api/v1/alerts/acme/rules', headers: as('acme'), payload: [1, 2] as unknown as Record<string, unknown> }), 400);
      assert.deepEqual((await call(server, { url: '/api/v1/alerts/acme/rules', headers: as('acme') })).json(), before);
    });

    test("another org's rules and alerts are not visible", async () => {
      const rule = (await post('acme', { name: 'acme only', kind: 'daily_threshold', thresholds: [1] })).json() as RuleBody;
      const listed = (await call(server, { url: '/api/v1/alerts/globex/rules', headers: as('globex') })).json() as { rules: RuleBody[] };
      assert.ok(!listed.rules.some((r) => r.rule_id === rule.rule_id));
      assertError(await call(server, { url: `/api/v1/alerts/globex/rules/${rule.rule_id}`, headers: as('globex') }), 404);
      assertError(await call(server, { method: 'PATCH', url: `/api/v1/alerts/globex/rules/${rule.rule_id}`, headers: as('globex'), payload: { enabled: false } }), 404);
      assertError(await call(server, { method: 'DELETE', url: `/api/v1/alerts/globex/rules/${rule.rule_id}`, headers: as('globex') }), 404);
      assertError(await call(server, { url: '/api/v1/alerts/acme/rules', headers: as('globex') }), 403);
      assertError(await call(server, { url: '/api/v1/alerts/acme', headers: as('globex') }), 403);
      assertError(await call(server, { url: '/api/v1/alerts/acme' }), 401);
      assertOk(await call(server, { url: `/api/v1/alerts/acme/rules/${rule.rule_id}`, headers: as('acme') }), 200);
      await call(server, { method: 'DELETE', url: `/api/v1/alerts/acme/rules/${rule.rule_id}`, headers: as('acme') });
    });

    test('GET alerts lists the open and past alerts an evaluation raised; disabling a rule ends its open alert', async () => {
      await loadHistory(warehouse, { orgSlug: 'globex', start: '2026-04-01', end: '2026-04-20', ingestedAt: new Date('2026-04-22T06:00:00Z'), rows: steadyRows('2026-04-01', '2026-04-20', { wobble: 0 }) });
      const rule = (await post('globex', { name: 'over 400 a day', kind: 'daily_threshold', thresholds: [400] })).json() as RuleBody;
      const evaluated = await call(server, { method: 'POST', url: '/api/v1/alerts/globex/evaluate', headers: as('globex') });
      assertOk(evaluated, 200);
      assert.equal((evaluated.json() as { fired: unknown[] }).fired.length, 1);
      const listed = (await call(server, { url: '/api/v1/alerts/globex', headers: as('globex') })).json() as AlertsBody;
      assert.equal(listed.open, 1);
      assert.deepEqual(listed.alerts.map((a) => [a.rule_name, a.status, a.level, a.period_start]), [['over 400 a day', 'open', 1, '2026-04-14']]);
      assert.match(listed.alerts[0]?.details.title ?? '', /500 USD spent on 2026-04-14, over 400 USD/);
      assert.equal(listed.alerts[0]?.details.top_contributors?.length, 5);
      assert.equal(((await call(server, { url: '/api/v1/alerts/acme', headers: as('acme') })).json() as AlertsBody).alerts.length, 0);

      assertOk(await call(server, { method: 'PATCH', url: `/api/v1/alerts/globex/rules/${rule.rule_id}`, headers: as('globex'), payload: { enabled: false } }), 200);
      const past = (await call(server, { url: '/api/v1/alerts/globex?status=resolved', headers: as('globex') })).json() as AlertsBody;
      assert.deepEqual(past.alerts.map((a) => [a.status, a.resolution]), [['resolved', 'rule_disabled']]);
      assert.equal(((await call(server, { url: '/api/v1/alerts/globex?status=open', headers: as('globex') })).json() as AlertsBody).alerts.length, 0);
      assertError(await call(server, { url: '/api/v1/alerts/globex?status=closed', headers: as('globex') }), 400, { field: 'status' });
    });
  });
}
