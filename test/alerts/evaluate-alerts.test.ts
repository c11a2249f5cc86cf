import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { CONFIGS } from '../support/test-app.ts';
import { alerts, evaluate, orgWithRules, outbox } from './alerts-fixture.ts';
import { daysSql, loadHistory, steadyRows } from './focus-history.ts';

/** Multiplies one service's cost on one day. */
const spike = (rows: string, service: string, day: string, factor: number) =>
  `SELECT * REPLACE (CASE WHEN service = '${service}' AND day = DATE '${day}' THEN cost * ${factor} ELSE cost END AS cost) FROM (${rows}) AS steady`;
const at = (iso: string) => new Date(iso);

for (const factory of controlPlaneFactories()) {
  describe(`cost alerts from generated FOCUS histories (${factory.name})`, () => {
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

    test('a spike on one service: the anomaly fires once and names that service, and not again on re-evaluation', async () => {
      const { db } = cp;
      const { orgSlug } = await orgWithRules(db, [{ name: 'service anomalies', kind: 'anomaly', group_by: 'service' }]);
      await loadHistory(warehouse, { orgSlug, start: '2026-03-01', end: '2026-04-20', ingestedAt: at('2026-04-22T06:00:00Z'), rows: spike(steadyRows('2026-03-01', '2026-04-20'), 'svc-03', '2026-04-20', 5) });
      const first = await evaluate(warehouse, db, orgSlug, '2026-04-22T12:00:00Z');
      assert.deepEqual(first.fired.map((a) => [a.group_key, a.period_start]), [['svc-03', '2026-04-20']]);
      const events = await outbox(db, orgSlug);
      assert.equal(events.length, 1);
      const [event] = events;
      assert.equal(event?.kind, 'cost_alert');
      assert.equal(event?.severity, 'WARNING');
      assert.equal(event?.payload.service, 'svc-03');
      assert.ok(Number(event?.payload.z_score) > 3.5, String(event?.payload.z_score));
      assert.ok(Math.abs(Number(event?.payload.baseline) - 105) < 3, `median near 105, got ${String(event?.payload.baseline)}`);
      assert.equal(event?.payload.history_days, 28);
      assert.equal(event?.payload.top_contributors?.[0]?.service, 'svc-03');
      assert.equal(event?.payload.top_contributors?.[0]?.resource, 'res-3');
      assert.equal(event?.payload.top_contributors?.length, 1, 'the group is svc-03: its only resource');

      const again = await evaluate(warehouse, db, orgSlug, '2026-04-22T18:00:00Z');
      assert.equal(again.events, 0);
      assert.equal((await outbox(db, orgSlug)).length, 1);
      assert.equal((await alerts(db, orgSlug)).length, 1);
    });

    test('a restated day: no second alert; restated higher, it escalates once', async () => {
      const { db } = cp;
      const { orgSlug } = await orgWithRules(db, [{ name: 'service anomalies', kind: 'anomaly', group_by: 'service', thresholds: [3.5, 500] }]);
      const history = (factor: number) => spike(steadyRows('2026-03-01', '2026-04-20'), 'svc-03', '2026-04-20', factor);
      await loadHistory(warehouse, { orgSlug, start: '2026-03-01', end: '2026-04-20', ingestedAt: at('2026-04-22T06:00:00Z'), rows: history(5) });
      assert.equal((await evaluate(warehouse, db, orgSlug, '2026-04-22T12:00:00Z')).fired.length, 1);

      // The provider restates the last three days; the same spike comes back.
      const restate = (factor: number, ingestedAt: string) =>
        loadHistory(warehouse, { orgSlug, start: '2026-04-18', end: '2026-04-20', ingestedAt: at(ingestedAt), rows: `SELECT * FROM (${history(factor)}) AS h WHERE day >= DATE '2026-04-18'` });
      await restate(5, '2026-04-23T06:00:00Z');
      const settling = await evaluate(warehouse, db, orgSlug, '2026-04-23T07:00:00Z');
      assert.equal(Object.values(settling.closed_through)[0], '2026-04-17', 'days loaded within the settle window are not closed');
      assert.equal(settling.events, 0);
      const settled = await evaluate(warehouse, db, orgSlug, '2026-04-23T12:00:00Z');
      assert.equal(Object.values(settled.closed_through)[0], '2026-04-20');
      assert.equal(settled.events, 0);
      assert.deepEqual((await alerts(db, orgSlug)).map((a) => [a.status, a.level, a.period_start]), [['open', 1, '2026-04-20']]);

      await restate(30, '2026-04-24T06:00:00Z');
      const escalated = await evaluate(warehouse, db, orgSlug, '2026-04-24T12:00:00Z');
      assert.deepEqual(escalated.escalated.map((a) => [a.group_key, a.level]), [['svc-03', 2]]);
      assert.equal(escalated.fired.length, 0);
      assert.equal((await evaluate(warehouse, db, orgSlug, '2026-04-24T13:00:00Z')).events, 0);
      const events = await outbox(db, orgSlug);
      assert.deepEqual(events.map((e) => [e.kind, e.payload.transition, e.payload.level]).sort(), [['cost_alert', 'escalated', 2], ['cost_alert', 'fired', 1]]);
      assert.equal((await alerts(db, orgSlug)).length, 1);
    });

    test('a half-loaded day never alerts: loaded before the provider had it all, a stream not yet loaded, a load in flight', async () => {
      const { db } = cp;
      const { orgSlug, rules } = await orgWithRules(db, [
        // Each stream costs about 525 a day; AWS's spike on the 20th makes about 1,470.
        { name: 'daily', kind: 'daily_threshold', thresholds: [1300] },
        { name: 'aws daily', kind: 'daily_threshold', thresholds: [1300], scope: { providers: ['aws'] } },
      ]);
      const [all, awsOnly] = rules.map((rule) => rule.rule_id) as [string, string];
      const rows = spike(steadyRows('2026-03-01', '2026-04-20'), 'svc-01', '2026-04-20', 10);
      await loadHistory(warehouse, { orgSlug, start: '2026-03-01', end: '2026-04-20', ingestedAt: at('2026-04-21T06:00:00Z'), rows });
      // 2026-04-20 was loaded 6 hours after it ended; AWS has a day's charges within 24.
      const early = await evaluate(warehouse, db, orgSlug, '2026-04-21T12:00:00Z');
      assert.equal(early.closed_through[all], '2026-04-19');
      assert.equal(early.events, 0);
      const later = await evaluate(warehouse, db, orgSlug, '2026-04-25T12:00:00Z');
      assert.equal(later.closed_through[all], '2026-04-19', 'time alone does not close a half-loaded day');
      assert.equal(later.events, 0);

      // A second stream (GCP) that has not loaded 2026-04-20 yet holds the day open for the rules it feeds.
      await loadHistory(warehouse, { orgSlug, sourceSystem: 'gcp', start: '2026-03-01', end: '2026-04-19', ingestedAt: at('2026-04-21T06:00:00Z'), rows: steadyRows('2026-03-01', '2026-04-19') });
      await loadHistory(warehouse, { orgSlug, start: '2026-04-20', end: '2026-04-20', ingestedAt: at('2026-04-25T13:00:00Z'), rows: `SELECT * FROM (${rows}) AS r WHERE day = DATE '2026-04-20'` });
      // And a load of AWS that is running over 2026-04-18..20 holds them open too.
      const [run] = await db.query<{ run_id: string }>(
        `INSERT INTO pipeline_runs (org_slug, run_id, pipeline_id, provider, domain, pipeline, status, parameters, trigger, created_by, created_at)
         VALUES ($1, gen_random_uuid(), 'aws_cost_billing', 'aws', 'cost', 'billing', 'running', $2::jsonb, 'api', 'test', now()) RETURNING run_id::text AS run_id`,
        [orgSlug, JSON.stringify({ start_date: '2026-04-18', end_date: '2026-04-20', credential_id: 'default' })],
      );
      const loading = await evaluate(warehouse, db, orgSlug, '2026-04-25T16:00:00Z');
      assert.equal(loading.closed_through[awsOnly], '2026-04-17');
      assert.equal(loading.closed_through[all], '2026-04-17');
      assert.equal(loading.events, 0);
      await db.query("UPDATE pipeline_runs SET status = 'completed', holds_slot = false, ended_at = now() WHERE org_slug = $1 AND run_id = $2", [orgSlug, run?.run_id]);

      const loaded = await evaluate(warehouse, db, orgSlug, '2026-04-25T16:00:00Z');
      assert.equal(loaded.closed_through[awsOnly], '2026-04-20');
      assert.equal(loaded.closed_through[all], '2026-04-19', 'GCP has not loaded 2026-04-20');
      assert.deepEqual(loaded.fired.map((a) => [a.rule_name, a.period_start]), [['aws daily', '2026-04-20']]);
      assert.equal((await outbox(db, orgSlug)).length, 1);
    });

    test('a budget crossed at 50 %, then at 80 %: two events, then none', async () => {
      const { db } = cp;
      const { orgSlug } = await orgWithRules(db, [{ name: 'May budget', kind: 'monthly_budget', budget: 10_000, forecast_thresholds: [] }]);
      const flat = (start: string, end: string) => steadyRows(start, end, { base: 100, wobble: 0 });
      await loadHistory(warehouse, { orgSlug, start: '2026-05-01', end: '2026-05-10', ingestedAt: at('2026-05-12T06:00:00Z'), rows: flat('2026-05-01', '2026-05-10') });
      const half = await evaluate(warehouse, db, orgSlug, '2026-05-12T12:00:00Z');
      assert.deepEqual(half.fired.map((a) => [a.level, a.payload.month_to_date, a.payload.threshold_percent, a.payload.threshold, a.period_start]), [[1, '5000', 50, '5000', '2026-05-01']]);
      await loadHistory(warehouse, { orgSlug, start: '2026-05-11', end: '2026-05-16', ingestedAt: at('2026-05-18T06:00:00Z'), rows: flat('2026-05-11', '2026-05-16') });
      const eighty = await evaluate(warehouse, db, orgSlug, '2026-05-18T12:00:00Z');
      assert.deepEqual(eighty.escalated.map((a) => [a.level, a.payload.month_to_date, a.payload.threshold_percent]), [[2, '8000', 80]]);
      assert.equal(eighty.fired.length, 0);
      assert.equal((await evaluate(warehouse, db, orgSlug, '2026-05-18T18:00:00Z')).events, 0);
      await loadHistory(warehouse, { orgSlug, start: '2026-05-17', end: '2026-05-18', ingestedAt: at('2026-05-20T06:00:00Z'), rows: flat('2026-05-17', '2026-05-18') });
      const still = await evaluate(warehouse, db, orgSlug, '2026-05-20T12:00:00Z');
      assert.equal(still.events, 0, '9,000 is still the 80 % level');
      const events = await outbox(db, orgSlug);
      assert.deepEqual(events.map((e) => [e.kind, e.payload.threshold_percent]).sort(), [['cost_alert', 50], ['cost_alert', 80]]);
      assert.deepEqual((await alerts(db, orgSlug)).map((a) => [a.basis, a.status, a.level]), [['actual', 'open', 2]]);
    });

    test('a budget restated under its first threshold resolves, and crossing the same threshold again later in the month sends nothing', async () => {
      const { db } = cp;
      const { orgSlug } = await orgWithRules(db, [{ name: 'budget', kind: 'monthly_budget', budget: 30_000, forecast_thresholds: [] }]);
      const flat = (start: string, end: string, base: number) => steadyRows(start, end, { base, wobble: 0 });
      await loadHistory(warehouse, { orgSlug, start: '2026-05-01', end: '2026-05-10', ingestedAt: at('2026-05-12T06:00:00Z'), rows: flat('2026-05-01', '2026-05-10', 300) });
      assert.equal((await evaluate(warehouse, db, orgSlug, '2026-05-12T12:00:00Z')).fired.length, 1, '15,000 is 50 %');
      // A credit restates the first ten days down to 1,000 in all.
      await loadHistory(warehouse, { orgSlug, start: '2026-05-01', end: '2026-05-10', ingestedAt: at('2026-05-14T06:00:00Z'), rows: flat('2026-05-01', '2026-05-10', 20) });
      const credited = await evaluate(warehouse, db, orgSlug, '2026-05-14T12:00:00Z');
      assert.deepEqual(credited.resolved.map((a) => [a.payload.month_to_date, a.payload.through_day]), [['1000', '2026-05-10']]);
      // The rest of the month brings it to 15,700 (52 %): the level it had reached, long after it cleared.
      await loadHistory(warehouse, { orgSlug, start: '2026-05-11', end: '2026-05-31', ingestedAt: at('2026-06-02T06:00:00Z'), rows: flat('2026-05-11', '2026-05-31', 140) });
      const end = await evaluate(warehouse, db, orgSlug, '2026-06-02T12:00:00Z');
      assert.equal(end.events, 0);
      assert.deepEqual((await alerts(db, orgSlug)).map((a) => [a.period_start, a.status, a.resolution]), [['2026-05-01', 'resolved', 'cleared']]);
      assert.equal((await outbox(db, orgSlug)).length, 2);
    });

    test("the month-end forecast: the month so far plus the last 7 days' mean for each day left", async () => {
      const { db } = cp;
      const { orgSlug } = await orgWithRules(db, [{ name: 'budget', kind: 'monthly_budget', budget: 20_000 }]);
      const rows = `SELECT * REPLACE (CASE WHEN day >= DATE '2026-05-11' THEN 200 ELSE 100 END AS cost) FROM (${steadyRows('2026-05-01', '2026-05-15')}) AS s`;
      await loadHistory(warehouse, { orgSlug, start: '2026-05-01', end: '2026-05-15', ingestedAt: at('2026-05-17T06:00:00Z'), rows });
      const result = await evaluate(warehouse, db, orgSlug, '2026-05-17T12:00:00Z');
      const byBasis = Object.fromEntries(result.fired.map((a) => [a.basis, a]));
      assert.deepEqual(Object.keys(byBasis).sort(), ['actual', 'forecast']);
      // 10,000 so far; the last 7 days cost 5 x 1,000 + 2 x 500 = 6,000, 857.14 a day, for 16 days left.
      assert.equal(byBasis.actual?.payload.month_to_date, '10000');
      assert.equal(byBasis.actual?.level, 1);
      assert.ok(Math.abs(Number(byBasis.forecast?.payload.forecast) - (10_000 + (6_000 / 7) * 16)) < 0.01, String(byBasis.forecast?.payload.forecast));
      assert.equal(byBasis.forecast?.payload.threshold_percent, 100);
      assert.equal((await outbox(db, orgSlug)).length, 2);
    });

    test('day over day: a jump below the floor never alerts; the amount and the percent both hold when both are given', async () => {
      const { db } = cp;
      const { orgSlug } = await orgWithRules(db, [
        { name: 'jumps', kind: 'day_over_day', group_by: 'service', min_spend: 1000, increase_percent: 50 },
        { name: 'big jumps', kind: 'day_over_day', group_by: 'service', min_spend: 1000, increase_percent: 50, increase_amount: 650 },
      ]);
      const rows = `SELECT days.day, s.service, NULL AS sub_account, 'res-' || s.service AS resource, CASE WHEN days.day < DATE '2026-04-20' THEN s.before ELSE s.after END AS cost, NULL AS tags
        FROM ${daysSql('2026-04-01', '2026-04-20')}, (VALUES ('small', 10, 100), ('large', 1000, 1600), ('big', 1200, 1900), ('steady', 2000, 2600)) AS s(service, before, after)`;
      await loadHistory(warehouse, { orgSlug, start: '2026-04-01', end: '2026-04-20', ingestedAt: at('2026-04-22T06:00:00Z'), rows });
      const result = await evaluate(warehouse, db, orgSlug, '2026-04-22T12:00:00Z');
      assert.deepEqual(result.fired.map((a) => [a.rule_name, a.group_key]).sort(), [['big jumps', 'big'], ['jumps', 'big'], ['jumps', 'large']]);
      const large = result.fired.find((a) => a.group_key === 'large');
      assert.deepEqual([large?.payload.previous, large?.payload.value, large?.payload.change_amount, large?.payload.change_percent], ['1000', '1600', '600', 60]);
      assert.equal(large?.payload.day, '2026-04-20');
    });

    test('scopes: provider (x_SourceSystem or ProviderName), service, sub-account and tag', async () => {
      const { db } = cp;
      const daily = (name: string, scope: Record<string, unknown>) => ({ name, kind: 'daily_threshold', thresholds: [2000], scope });
      const { orgSlug } = await orgWithRules(db, [
        daily('aws', { providers: ['aws'] }),
        daily('google by name', { providers: ['google cloud'] }),
        daily('svc-02', { services: ['SVC-02'] }),
        daily('svc-01', { services: ['svc-01'] }),
        daily('acct-2', { sub_accounts: ['acct-2'] }),
        daily('acct-1', { sub_accounts: ['acct-1'] }),
        daily('team data', { tags: { team: 'data' } }),
        daily('team web', { tags: { team: 'web' } }),
        daily('gcp data svc-02', { providers: ['gcp'], services: ['svc-02'], tags: { team: 'data', 'cost.center': '42' } }),
      ]);
      await loadHistory(warehouse, { orgSlug, start: '2026-04-01', end: '2026-04-20', ingestedAt: at('2026-04-22T06:00:00Z'), rows: steadyRows('2026-04-01', '2026-04-20', { wobble: 0 }) });
      const tagged = steadyRows('2026-04-01', '2026-04-20', { wobble: 0, tags: `CASE WHEN s = 2 THEN '{"team": "data", "cost.center": "42"}' ELSE '{"team": "ops"}' END` });
      await loadHistory(warehouse, { orgSlug, sourceSystem: 'gcp', providerName: 'Google Cloud', start: '2026-04-01', end: '2026-04-20', ingestedAt: at('2026-04-22T06:00:00Z'), rows: spike(tagged, 'svc-02', '2026-04-20', 50) });
      const result = await evaluate(warehouse, db, orgSlug, '2026-04-22T12:00:00Z');
      assert.deepEqual(result.fired.map((a) => a.rule_name).sort(), ['acct-2', 'gcp data svc-02', 'google by name', 'svc-02', 'team data']);
      const narrow = result.fired.find((a) => a.rule_name === 'gcp data svc-02');
      assert.equal(narrow?.payload.value, '5000');
      const [event] = (await outbox(db, orgSlug)).filter((e) => e.payload.rule_name === 'gcp data svc-02');
      assert.equal(event?.provider, 'gcp', 'a rule scoped to one provider names it on its event');
      assert.deepEqual(event?.payload.top_contributors?.map((c) => [c.service, c.sub_account, c.resource]), [['svc-02', 'acct-2', 'res-2']]);
    });

    test('resolution: an alert spans the days over its threshold, resolves on the first day under it, and a later spike is a new alert', async () => {
      const { db } = cp;
      const { orgSlug } = await orgWithRules(db, [{ name: 'daily', kind: 'daily_threshold', thresholds: [1000, 2000] }]);
      const base = steadyRows('2026-04-01', '2026-04-30', { wobble: 0 });
      // 500 a day; 1,400 on the 20th, 2,400 on the 21st, 500 again from the 22nd, 1,400 on the 25th.
      const rows = `SELECT * REPLACE (CASE WHEN service = 'svc-01' AND day IN (DATE '2026-04-20', DATE '2026-04-25') THEN 1000 WHEN service = 'svc-01' AND day = DATE '2026-04-21' THEN 2000 ELSE cost END AS cost) FROM (${base}) AS b`;
      const day = async (d: string, evaluateAt: string) => {
        await loadHistory(warehouse, { orgSlug, start: d, end: d, ingestedAt: at(`${d.slice(0, 8)}${String(Number(d.slice(8)) + 2).padStart(2, '0')}T06:00:00Z`), rows: `SELECT * FROM (${rows}) AS r WHERE day = DATE '${d}'` });
        return evaluate(warehouse, db, orgSlug, evaluateAt);
      };
      await loadHistory(warehouse, { orgSlug, start: '2026-04-01', end: '2026-04-19', ingestedAt: at('2026-04-21T06:00:00Z'), rows: `SELECT * FROM (${rows}) AS r WHERE day < DATE '2026-04-20'` });
      const fired = await day('2026-04-20', '2026-04-22T12:00:00Z');
      assert.deepEqual(fired.fired.map((a) => [a.period_start, a.level, a.payload.value]), [['2026-04-20', 1, '1400']]);
      const higher = await day('2026-04-21', '2026-04-23T12:00:00Z');
      assert.deepEqual(higher.escalated.map((a) => [a.period_start, a.period_end, a.level]), [['2026-04-20', '2026-04-21', 2]]);
      const cleared = await day('2026-04-22', '2026-04-24T12:00:00Z');
      assert.deepEqual(cleared.resolved.map((a) => [a.period_start, a.period_end, a.status]), [['2026-04-20', '2026-04-21', 'resolved']]);
      assert.equal((await evaluate(warehouse, db, orgSlug, '2026-04-24T13:00:00Z')).events, 0);
      await day('2026-04-23', '2026-04-25T12:00:00Z');
      await day('2026-04-24', '2026-04-26T12:00:00Z');
      const again = await day('2026-04-25', '2026-04-27T12:00:00Z');
      assert.deepEqual(again.fired.map((a) => [a.period_start, a.level]), [['2026-04-25', 1]]);

      const events = await outbox(db, orgSlug);
      assert.deepEqual(events.map((e) => [e.kind, e.severity, e.payload.transition, e.payload.period_start]).sort(), [
        ['cost_alert', 'WARNING', 'escalated', '2026-04-20'],
        ['cost_alert', 'WARNING', 'fired', '2026-04-20'],
        ['cost_alert', 'WARNING', 'fired', '2026-04-25'],
        ['cost_alert_resolved', 'INFO', 'resolved', '2026-04-20'],
      ]);
      const resolvedEvent = events.find((e) => e.kind === 'cost_alert_resolved');
      assert.equal(resolvedEvent?.payload.day, '2026-04-22');
      assert.equal(resolvedEvent?.payload.value, '500');
      assert.deepEqual((await alerts(db, orgSlug)).map((a) => [a.period_start, a.status, a.resolved_day]), [['2026-04-20', 'resolved', '2026-04-22'], ['2026-04-25', 'open', null]]);
    });

    test('two evaluations of one org at once write one alert and one event', async () => {
      const { db } = cp;
      const { orgSlug } = await orgWithRules(db, [{ name: 'daily', kind: 'daily_threshold', thresholds: [400] }]);
      await loadHistory(warehouse, { orgSlug, start: '2026-04-01', end: '2026-04-20', ingestedAt: at('2026-04-22T06:00:00Z'), rows: steadyRows('2026-04-01', '2026-04-20', { wobble: 0 }) });
      const results = await Promise.all([1, 2, 3].map(() => evaluate(warehouse, db, orgSlug, '2026-04-22T12:00:00Z')));
      assert.equal(results.reduce((n, r) => n + r.fired.length, 0), 1);
      assert.equal((await outbox(db, orgSlug)).length, 1);
      assert.equal((await alerts(db, orgSlug)).length, 1);
    });
  });
}
