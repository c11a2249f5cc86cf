import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BudgetMeasure, DayMeasure, Measurements } from '../../src/alerts/measurements.ts';
import { reconcile } from '../../src/alerts/reconcile.ts';
import { checkRule, type AlertRule } from '../../src/alerts/rule-spec.ts';
import type { StoredAlert } from '../../src/store/cost-alerts.ts';

/** The alert state machine alone (src/alerts/reconcile.ts): measurements in, changes out. */
const rule = (body: Record<string, unknown>): AlertRule => ({ ...checkRule(body), org_slug: 'acme', rule_id: 'r1', created_at: new Date(0), updated_at: new Date(0) });
const daily = rule({ name: 'daily', kind: 'daily_threshold', thresholds: [100, 200], group_by: 'service' });
const budget = rule({ name: 'budget', kind: 'monthly_budget', budget: 1000, forecast_thresholds: [] });
const day = (group: string, d: string, level: number): DayMeasure => ({ rule_id: 'r1', group_key: group, day: d, level, value: String(level * 100), previous: null, history_days: null, median: null, mad: null, mean_abs_dev: null, z: null });
const month = (m: string, level: number, through = `${m.slice(0, 8)}10`): BudgetMeasure => ({
  rule_id: 'r1', group_key: '', through, month: m, month_to_date: String(level * 500), budget: '1000', forecast: null, days_elapsed: 10, days_in_month: 31, level, forecast_level: 0,
});
const measured = (judged: string[], days: DayMeasure[], budgets: BudgetMeasure[] = []): Measurements => ({ lastClosed: new Map(), judged: new Map([['r1', judged]]), days, budgets });
const stored = (fields: Partial<StoredAlert>): StoredAlert => ({
  org_slug: 'acme', alert_id: 'a1', rule_id: 'r1', group_key: 'svc', basis: 'actual', period_start: '2026-04-20', period_end: '2026-04-20', status: 'open', level: 1,
  resolved_day: null, resolution: null, details: {}, opened_at: new Date(0), updated_at: new Date(0), resolved_at: null, ...fields,
});
let ids = 0;
const newId = () => `new-${++ids}`;
const summary = (changes: ReturnType<typeof reconcile>) => changes.map((c) => [c.transition, c.write.alert.group_key, c.write.alert.period_start, c.write.alert.period_end, c.write.alert.status, c.write.alert.level, c.write.event?.kind ?? null]);

test('each group walks its judged days: fires, extends, escalates, resolves; one event per alert', () => {
  const changes = reconcile({
    rules: [daily],
    state: [],
    measurements: measured(['2026-04-18', '2026-04-19', '2026-04-20', '2026-04-21'], [day('a', '2026-04-19', 1), day('a', '2026-04-20', 2), day('b', '2026-04-21', 1)]),
    newId,
  });
  assert.deepEqual(summary(changes), [
    ['fired', 'a', '2026-04-19', '2026-04-20', 'resolved', 2, 'cost_alert'],
    ['fired', 'b', '2026-04-21', '2026-04-21', 'open', 1, 'cost_alert'],
  ]);
  // The event of a: fired and resolved within one evaluation, it tells of its peak.
  assert.equal(changes[0]?.write.event?.payload.day, '2026-04-20');
  assert.equal(changes[0]?.write.event?.payload.status, 'resolved');
  assert.deepEqual(changes[0]?.ask && [changes[0].ask.from_day, changes[0].ask.base_from, changes[0].ask.direction], ['2026-04-20', '2026-04-19', 1]);
});

test('days an alert already covers never open another; within its days they only escalate it', () => {
  const state = [stored({ group_key: 'a', period_start: '2026-04-19', period_end: '2026-04-20', status: 'resolved', resolved_day: '2026-04-21', level: 1 })];
  const again = reconcile({ rules: [daily], state, measurements: measured(['2026-04-19', '2026-04-20', '2026-04-21'], [day('a', '2026-04-19', 1), day('a', '2026-04-20', 2)]), newId });
  assert.deepEqual(summary(again), [], 'a resolved alert is not escalated by a restatement, nor fired again');
  const open = [stored({ group_key: 'a', period_start: '2026-04-19', period_end: '2026-04-20', level: 1 })];
  const restated = reconcile({ rules: [daily], state: open, measurements: measured(['2026-04-19', '2026-04-20'], [day('a', '2026-04-19', 2), day('a', '2026-04-20', 1)]), newId });
  assert.deepEqual(summary(restated), [['escalated', 'a', '2026-04-19', '2026-04-20', 'open', 2, 'cost_alert']]);
  const same = reconcile({ rules: [daily], state: open, measurements: measured(['2026-04-19', '2026-04-20'], [day('a', '2026-04-19', 1), day('a', '2026-04-20', 1)]), newId });
  assert.deepEqual(summary(same), []);
});

test('an open alert whose group has no rows on a later judged day resolves (no row is a level of 0)', () => {
  const changes = reconcile({ rules: [daily], state: [stored({ group_key: 'gone' })], measurements: measured(['2026-04-20', '2026-04-21'], []), newId });
  assert.deepEqual(summary(changes), [['resolved', 'gone', '2026-04-20', '2026-04-20', 'resolved', 1, 'cost_alert_resolved']]);
  assert.equal(changes[0]?.write.alert.resolved_day, '2026-04-21');
  assert.equal(changes[0]?.write.event?.severity, 'INFO');
});

test("budgets: a month's alert escalates and resolves; a past month's open alert ends silently when a later month is judged", () => {
  const april = stored({ alert_id: 'april', group_key: '', period_start: '2026-04-01', period_end: '2026-04-30', level: 2 });
  const changes = reconcile({ rules: [budget], state: [april], measurements: measured([], [], [month('2026-05-01', 1)]), newId });
  assert.deepEqual(summary(changes), [
    ['ended', '', '2026-04-01', '2026-04-30', 'resolved', 2, null],
    ['fired', '', '2026-05-01', '2026-05-31', 'open', 1, 'cost_alert'],
  ]);
  assert.equal(changes[0]?.write.alert.resolution, 'period_ended');
  // Restated down under 50 %: resolved; back up to the same level: not fired again.
  const may = stored({ alert_id: 'may', group_key: '', period_start: '2026-05-01', period_end: '2026-05-31', level: 1 });
  assert.deepEqual(summary(reconcile({ rules: [budget], state: [may], measurements: measured([], [], [month('2026-05-01', 0)]), newId })), [['resolved', '', '2026-05-01', '2026-05-31', 'resolved', 1, 'cost_alert_resolved']]);
  const resolvedMay = { ...may, status: 'resolved' as const, resolved_day: '2026-05-10', resolution: 'cleared' as const };
  assert.deepEqual(summary(reconcile({ rules: [budget], state: [resolvedMay], measurements: measured([], [], [month('2026-05-01', 1)]), newId })), []);
  assert.deepEqual(summary(reconcile({ rules: [budget], state: [resolvedMay], measurements: measured([], [], [month('2026-05-01', 2)]), newId })), [['escalated', '', '2026-05-01', '2026-05-31', 'open', 2, 'cost_alert']]);
  // Days being restated cut the month's closed run short: a month to date through an earlier day than the alert's is not a fall.
  const measuredThrough16 = { ...may, details: { through_day: '2026-05-16' } };
  assert.deepEqual(summary(reconcile({ rules: [budget], state: [measuredThrough16], measurements: measured([], [], [month('2026-05-01', 0, '2026-05-13')]), newId })), []);
  assert.deepEqual(summary(reconcile({ rules: [budget], state: [measuredThrough16], measurements: measured([], [], [month('2026-05-01', 0, '2026-05-16')]), newId })).map((c) => c[0]), ['resolved']);
  const ask = reconcile({ rules: [budget], state: [], measurements: measured([], [], [month('2026-03-01', 1, '2026-03-31')]), newId })[0]?.ask;
  assert.deepEqual(ask && [ask.from_day, ask.to_day, ask.base_from, ask.base_to], ['2026-03-01', '2026-03-31', '2026-02-01', '2026-02-28'], 'the same days of the month before, within it');
});
