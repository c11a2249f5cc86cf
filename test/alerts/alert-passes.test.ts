/**
 * When cost alerts are evaluated without being asked (issue 13): after each run that wrote FOCUS
 * rows, again once that load has settled, and once a day, with the orgs shared between
 * processes by leases. On PostgreSQL the evaluations race for real.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { costAlerts, type CostAlerts } from '../../src/alerts/cost-alerts.ts';
import type { App } from '../../src/main/app.ts';
import type { Clock } from '../../src/shared/clock.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { importPlans } from '../../src/subscription/plans-import.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { CONFIGS, testApp, waitFor, waitForRunEnd } from '../support/test-app.ts';
import { orgWithRules, outbox } from './alerts-fixture.ts';

/** A clock the test moves forward; sleeps are real (none is long here). */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    sleep: (ms, signal) => new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
    }),
    advance: (ms) => (offset += ms),
  };
}

const DAY = 86_400_000;
const isoDay = (date: Date) => date.toISOString().slice(0, 10);
const passes = (cp: ControlPlane, orgSlug: string) =>
  cp.db.query<{ passed_on: string | null; due: boolean; leased: boolean }>(
    `SELECT passed_on::text AS passed_on, due_at IS NOT NULL AS due, COALESCE(lease_until > now(), false) AS leased FROM cost_alert_passes WHERE org_slug = $1`,
    [orgSlug],
  );

for (const factory of controlPlaneFactories()) {
  describe(`cost alert evaluations without a request (${factory.name})`, () => {
    let cp: ControlPlane;
    let warehouse: Warehouse;
    before(async () => {
      cp = await factory.open();
      warehouse = await openDuckDbWarehouse({ path: ':memory:', configsDir: CONFIGS, threads: 2 });
    });
    after(async () => {
      await warehouse.close();
      await cp.close();
    });

    /** Two processes' services on one control plane; every org but the test's has its day done. */
    const twoProcesses = async (clock: Clock): Promise<[CostAlerts, CostAlerts]> => {
      await cp.db.query(
        `INSERT INTO cost_alert_passes (org_slug, passed_on) SELECT DISTINCT org_slug, DATE '2999-01-01' FROM cost_alert_rules
         ON CONFLICT (org_slug) DO UPDATE SET passed_on = excluded.passed_on, due_at = NULL, lease_until = NULL`,
      );
      const make = () => costAlerts({ db: cp.db, warehouse, env: 'dev', clock, logger: silentLogger() });
      return [make(), make()];
    };

    test('the daily pass evaluates each org with an enabled rule once a day, however many processes run it', async () => {
      const clock = movableClock();
      const [one, two] = await twoProcesses(clock);
      const orgs = await Promise.all([1, 2, 3].map(() => orgWithRules(cp.db, [{ name: 'daily', kind: 'daily_threshold', thresholds: [10] }])));
      const disabled = await orgWithRules(cp.db, [{ name: 'off', kind: 'daily_threshold', thresholds: [10], enabled: false }]);

      const [a, b] = await Promise.all([one.evaluateDue({ dailyPass: true }), two.evaluateDue({ dailyPass: true })]);
      assert.equal(a.orgs + b.orgs, 3, `each org once between the two: ${a.orgs} + ${b.orgs}`);
      assert.deepEqual([...a.failed, ...b.failed], []);
      for (const { orgSlug } of orgs) assert.deepEqual(await passes(cp, orgSlug), [{ passed_on: isoDay(clock.now()), due: false, leased: false }]);
      assert.deepEqual(await passes(cp, disabled.orgSlug), [], 'an org without an enabled rule is never taken');

      assert.equal((await one.evaluateDue({ dailyPass: true })).orgs, 0, 'the same day again: nothing');
      assert.equal((await one.evaluateDue()).orgs, 0, 'outside the pass hours only what a load made due');
      clock.advance(DAY);
      assert.equal((await two.evaluateDue({ dailyPass: true })).orgs, 3, 'the next day: each again');
    });

    test('a load makes its org due again once it has settled; a failed evaluation is retried after its lease, not at once', async () => {
      const clock = movableClock();
      const [alerts] = await twoProcesses(clock);
      const { orgSlug } = await orgWithRules(cp.db, [{ name: 'daily', kind: 'daily_threshold', thresholds: [10] }]);
      await alerts.afterLoad(orgSlug);
      assert.deepEqual(await passes(cp, orgSlug), [{ passed_on: null, due: true, leased: false }]);
      assert.equal((await alerts.evaluateDue()).orgs, 0, 'not before the settling time');

      await cp.db.query(`UPDATE cost_alert_passes SET due_at = now() - interval '1 second' WHERE org_slug = $1`, [orgSlug]);
      const noWarehouse = costAlerts({ db: cp.db, warehouse: undefined, env: 'dev', clock, logger: silentLogger() });
      const failed = await noWarehouse.evaluateDue();
      assert.deepEqual(failed.failed.map((f) => f.org_slug), [orgSlug]);
      assert.equal((await alerts.evaluateDue()).orgs, 0, 'leased to the process that failed');
      await cp.db.query(`UPDATE cost_alert_passes SET lease_until = now() - interval '1 second' WHERE org_slug = $1`, [orgSlug]);
      assert.equal((await alerts.evaluateDue()).orgs, 1, 'taken again once the lease ran out');
      assert.deepEqual(await passes(cp, orgSlug), [{ passed_on: null, due: false, leased: false }]);
    });

    describe('after a run that wrote FOCUS rows', () => {
      let app: App;
      const clock = movableClock();
      const ORG = `alert_loads_${process.pid}_${factory.name.replace(/\W/g, '')}`;
      before(async () => {
        app = await testApp(cp, { warehouse, clock });
        await app.orgs.create(ORG, ORG, { plan: 'T', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 2 });
        app.worker?.start();
      });
      after(() => app.close());

      test('the engine asks for an evaluation at the end of the run, and the settled load fires the alert once', async () => {
        await app.alerts.createRule(ORG, { name: 'over 50 a day', kind: 'daily_threshold', thresholds: [50] });
        const today = clock.now();
        const start = isoDay(new Date(today.getTime() - 6 * DAY));
        const end = isoDay(new Date(today.getTime() - 2 * DAY));
        // 3,100 a month, billed monthly from the 1st: 100 a day in a 31-day month, never under 50.
        const plans = `subscription_id,vendor,product,plan_name,status,start_date,end_date,billing_cycle,pricing_model,seats,unit_price,currency,discount_percent,invoice_issuer,cost_center,team
SUB-1,Acme Chat,Chat,Team,active,2025-01-01,,monthly,flat,,3100.00,USD,,,CC-1,Support`;
        await importPlans(warehouse, { orgSlug: ORG, dataset: `${ORG}_dev`, csvText: plans, importedAt: today, runId: 'import-1' });
        const { run_id } = await app.requests.request({ orgSlug: ORG, route: 'subscription/costs/subscription_cost', body: { start_date: start, end_date: end }, trigger: 'api', createdBy: 'test' });
        const run = await waitForRunEnd(app, ORG, run_id, 60_000);
        assert.equal(run.status, 'completed', run.error_message ?? '');

        // Right after the load its days are not settled: the evaluation finds nothing yet, and
        // leaves the org due again at the end of the settling time.
        const [due] = await waitFor(async () => {
          const rows = await passes(cp, ORG);
          return rows[0]?.due ? rows : undefined;
        }, 20_000, 'the org to be due an evaluation');
        assert.deepEqual(due, { passed_on: null, due: true, leased: false });
        assert.deepEqual(await outbox(cp.db, ORG), []);
        assert.equal((await app.alerts.evaluateDue()).orgs, 0);

        // Three hours on (on both clocks), the loop takes the org and the days alert, once.
        clock.advance(3 * 3_600_000);
        await cp.db.query(`UPDATE cost_alert_passes SET due_at = due_at - interval '3 hours' WHERE org_slug = $1`, [ORG]);
        const settled = await app.alerts.evaluateDue();
        assert.equal(settled.orgs, 1);
        const events = await outbox(cp.db, ORG);
        assert.deepEqual(events.map((e) => [e.kind, e.payload.transition]), [['cost_alert', 'fired']]);
        assert.equal((await app.alerts.evaluateDue()).orgs, 0, 'answered: not due again');
        assert.equal((await app.alerts.listAlerts(ORG, { status: 'open' })).length, 1);
      });
    });
  });
}
