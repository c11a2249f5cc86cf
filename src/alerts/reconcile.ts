import { addDays } from '../shared/clock.ts';
import type { AlertBasis, AlertWrite, Resolution, StoredAlert } from '../store/cost-alerts.ts';
import { alertPayload, periodText, type Transition } from './alert-payload.ts';
import type { BudgetMeasure, DayMeasure, Measurements } from './measurements.ts';
import { ANOMALY_HISTORY_DAYS, type AlertRule } from './rule-spec.ts';

/** The days a contributors query compares for one event (src/alerts/evaluation-sql.ts, contributorsSql). */
export interface ContributorAsk {
  rule_id: string;
  group_key: string;
  from_day: string;
  to_day: string;
  base_from: string;
  base_to: string;
  base_days: number;
  direction: 1 | -1;
}

/** One alert's change from an evaluation: its row, its event if it has one, what the contributors are measured over. */
export interface PlannedChange {
  rule: AlertRule;
  transition: Transition | 'extended' | 'ended';
  write: AlertWrite;
  ask?: ContributorAsk;
}

/** An alert as it is being changed by this evaluation. */
interface Working {
  alert: AlertWrite['alert'];
  isNew: boolean;
  transition: PlannedChange['transition'] | undefined;
  /** The measurement the event is about. */
  measure: { day?: DayMeasure; budget?: BudgetMeasure } | undefined;
}

/**
 * Turns an evaluation's measurements into alert changes against the stored state. Pure: the
 * same inputs give the same changes, so an evaluation repeated on unchanged data changes nothing.
 *
 * Daily kinds (daily_threshold, day_over_day, anomaly) walk each group's judged days in order.
 * A day at or before the group's covered day (the latest day an alert of it has already
 * accounted for: an open alert's last day, a resolved one's clearing day) never opens an alert
 * again, so a restated day cannot fire twice; within an open alert's days it can only escalate
 * it. A later day over the threshold extends the open alert (escalating it when it crosses a
 * higher threshold) or opens a new one; a later day under it resolves the open alert.
 *
 * Budgets are judged per month and basis (month-to-date, forecast): the month's alert fires at
 * its first threshold, escalates at each higher one, resolves when the amount falls back under
 * the lowest (measured through at least the day it was last measured through); a past month's
 * open alert ends silently when a later month is judged.
 */
export function reconcile(input: { rules: AlertRule[]; state: StoredAlert[]; measurements: Measurements; newId: () => string }): PlannedChange[] {
  const { measurements, newId } = input;
  const changes: PlannedChange[] = [];
  for (const rule of input.rules) {
    const stored = input.state.filter((alert) => alert.rule_id === rule.rule_id);
    const working =
      rule.kind === 'monthly_budget'
        ? planBudget(measurements.budgets.filter((m) => m.rule_id === rule.rule_id), stored, newId)
        : planDaily(measurements.judged.get(rule.rule_id) ?? [], measurements.days.filter((m) => m.rule_id === rule.rule_id), stored, newId);
    for (const item of working) if (item.transition) changes.push(finish(rule, item));
  }
  return changes;
}

function planDaily(judged: string[], measures: DayMeasure[], stored: StoredAlert[], newId: () => string): Working[] {
  const byGroup = new Map<string, Map<string, DayMeasure>>();
  for (const m of measures) {
    const days = byGroup.get(m.group_key) ?? new Map<string, DayMeasure>();
    days.set(m.day, m);
    byGroup.set(m.group_key, days);
  }
  const groups = [...new Set([...byGroup.keys(), ...stored.filter((a) => a.status === 'open').map((a) => a.group_key)])].sort();
  const result: Working[] = [];
  for (const group of groups) {
    const alerts = stored.filter((a) => a.group_key === group && a.basis === 'actual');
    const open = alerts.find((a) => a.status === 'open');
    let covered = alerts.reduce((latest, a) => maxDay(latest, a.status === 'open' ? a.period_end : (a.resolved_day ?? a.period_end)), '');
    let current: Working | undefined = open ? fromStored(open) : undefined;
    for (const day of judged) {
      const measure = byGroup.get(group)?.get(day);
      const level = measure?.level ?? 0;
      if (day <= covered) {
        if (current && day >= current.alert.period_start && level > current.alert.level) escalate(current, level, { day: measure as DayMeasure });
        continue;
      }
      covered = day;
      if (current) {
        if (level > 0) {
          current.alert.period_end = day;
          current.transition ??= 'extended';
          if (level > current.alert.level) escalate(current, level, { day: measure as DayMeasure });
        } else {
          resolve(current, day, 'cleared', measure ? { day: measure } : undefined);
          result.push(current);
          current = undefined;
        }
      } else if (level > 0) {
        current = opened(newId(), group, 'actual', day, day, level, { day: measure as DayMeasure });
      }
    }
    if (current) result.push(current);
  }
  return result;
}

function planBudget(measures: BudgetMeasure[], stored: StoredAlert[], newId: () => string): Working[] {
  const touched = new Map<string, Working>();
  const work = (alert: StoredAlert) => {
    let item = touched.get(alert.alert_id);
    if (!item) touched.set(alert.alert_id, (item = fromStored(alert)));
    return item;
  };
  const created: Working[] = [];
  for (const m of [...measures].sort((a, b) => a.month.localeCompare(b.month) || a.group_key.localeCompare(b.group_key))) {
    for (const basis of ['actual', 'forecast'] as const) {
      const level = basis === 'actual' ? m.level : m.forecast_level;
      const existing = stored.find((a) => a.group_key === m.group_key && a.basis === basis && a.period_start === m.month);
      // Days of the month being restated shorten its unbroken closed run: the month so far
      // through an earlier day than the alert was last measured through is not the month's
      // spend falling, and changes nothing.
      if (existing && m.through < String(existing.details.through_day ?? '')) continue;
      if (!existing) {
        if (level > 0) created.push(opened(newId(), m.group_key, basis, m.month, lastDayOfMonth(m.month), level, { budget: m }));
      } else if (level > existing.level) {
        const item = work(existing);
        item.alert.status = 'open';
        item.alert.resolved_day = null;
        item.alert.resolution = null;
        escalate(item, level, { budget: m });
      } else if (existing.status === 'open' && level === 0) {
        resolve(work(existing), m.through, 'cleared', { budget: m });
      }
    }
  }
  // A month is over for the rule once a later month is judged: its open alerts end without a message.
  const latestMonth = measures.reduce((latest, m) => maxDay(latest, m.month), '');
  for (const alert of stored) {
    if (alert.status === 'open' && latestMonth && alert.period_start < latestMonth) {
      const item = work(alert);
      if (item.alert.status === 'open') resolve(item, alert.period_end, 'period_ended', undefined);
    }
  }
  return [...touched.values(), ...created];
}

function fromStored(alert: StoredAlert): Working {
  const { org_slug: _org, opened_at: _opened, updated_at: _updated, resolved_at: _resolved, ...row } = alert;
  return { alert: { ...row, details: { ...row.details } }, isNew: false, transition: undefined, measure: undefined };
}

function opened(alertId: string, group: string, basis: AlertBasis, start: string, end: string, level: number, measure: Working['measure']): Working {
  return {
    alert: { alert_id: alertId, rule_id: '', group_key: group, basis, period_start: start, period_end: end, status: 'open', level, resolved_day: null, resolution: null, details: {} },
    isNew: true,
    transition: 'fired',
    measure,
  };
}

function escalate(item: Working, level: number, measure: Working['measure']): void {
  item.alert.level = level;
  item.measure = measure;
  if (item.transition !== 'fired') item.transition = 'escalated';
}

function resolve(item: Working, day: string, resolution: Resolution, measure: Working['measure']): void {
  item.alert.status = 'resolved';
  item.alert.resolved_day = day;
  item.alert.resolution = resolution;
  // An alert that fired or escalated in this evaluation keeps that event (its payload says it is resolved).
  if (item.transition === 'fired' || item.transition === 'escalated') return;
  item.transition = resolution === 'cleared' ? 'resolved' : 'ended';
  item.measure = measure;
}

/** The row, the event and its contributors' days of a changed alert. */
function finish(rule: AlertRule, item: Working): PlannedChange {
  const alert = { ...item.alert, rule_id: rule.rule_id };
  const transition = item.transition as PlannedChange['transition'];
  if (transition === 'extended' || transition === 'ended') {
    const details: Record<string, unknown> = { ...alert.details, status: alert.status, period_end: alert.period_end };
    if (rule.kind !== 'monthly_budget') details.period = periodText(alert.period_start, alert.period_end);
    return { rule, transition, write: { alert: { ...alert, details }, isNew: item.isNew } };
  }
  const payload = alertPayload({
    rule,
    alertId: alert.alert_id,
    transition,
    status: alert.status,
    basis: alert.basis,
    groupKey: alert.group_key,
    periodStart: alert.period_start,
    periodEnd: alert.period_end,
    level: alert.level,
    day: item.measure?.day,
    budget: item.measure?.budget,
  });
  const provider = rule.group_by === 'provider' ? alert.group_key : rule.scope.providers?.length === 1 ? (rule.scope.providers[0] ?? null) : null;
  const event = transition === 'resolved'
    ? { kind: 'cost_alert_resolved' as const, severity: 'INFO' as const, provider, payload }
    : { kind: 'cost_alert' as const, severity: 'WARNING' as const, provider, payload };
  const ask = contributorAsk(rule, alert.group_key, transition === 'resolved' ? -1 : 1, item.measure);
  return { rule, transition, write: { alert: { ...alert, details: payload }, isNew: item.isNew, event }, ...(ask ? { ask } : {}) };
}

function contributorAsk(rule: AlertRule, group: string, direction: 1 | -1, measure: Working['measure']): ContributorAsk | undefined {
  const base = { rule_id: rule.rule_id, group_key: group, direction };
  if (measure?.budget) {
    // The month so far against the same days of the month before.
    const { month, through } = measure.budget;
    const previousMonth = addMonths(month, -1);
    const sameDay = addDays(previousMonth, Number(through.slice(8, 10)) - 1);
    const baseTo = sameDay.slice(0, 7) === previousMonth.slice(0, 7) ? sameDay : lastDayOfMonth(previousMonth);
    return { ...base, from_day: month, to_day: through, base_from: previousMonth, base_to: baseTo, base_days: 1 };
  }
  const day = measure?.day?.day;
  if (!day) return undefined;
  if (rule.kind === 'anomaly') return { ...base, from_day: day, to_day: day, base_from: addDays(day, -ANOMALY_HISTORY_DAYS), base_to: addDays(day, -1), base_days: ANOMALY_HISTORY_DAYS };
  return { ...base, from_day: day, to_day: day, base_from: addDays(day, -1), base_to: addDays(day, -1), base_days: 1 };
}

function maxDay(a: string, b: string): string {
  return a > b ? a : b;
}

function lastDayOfMonth(day: string): string {
  return addDays(addMonths(`${day.slice(0, 7)}-01`, 1), -1);
}

function addMonths(monthStart: string, months: number): string {
  const date = new Date(`${monthStart.slice(0, 7)}-01T00:00:00Z`);
  date.setUTCMonth(date.getUTCMonth() + months);
  return date.toISOString().slice(0, 10);
}
