import type { BudgetMeasure, DayMeasure } from './measurements.ts';
import { decimal } from './measurements.ts';
import type { AlertRule } from './rule-spec.ts';

export type Transition = 'fired' | 'escalated' | 'resolved';

export interface PayloadInput {
  rule: AlertRule;
  alertId: string;
  transition: Transition;
  status: 'open' | 'resolved';
  basis: 'actual' | 'forecast';
  groupKey: string;
  periodStart: string;
  periodEnd: string;
  level: number;
  /** The measurement the event is about: the peak day (fired, escalated) or the day that cleared it. */
  day?: DayMeasure | undefined;
  budget?: BudgetMeasure | undefined;
}

/**
 * The outbox payload of a cost event: what a person reads in the message (title, amounts with
 * their currency, threshold, period, scope), in the order they are shown, then the ids. The top
 * contributors are added when they have been measured. Amounts are exact decimal text.
 */
export function alertPayload(input: PayloadInput): Record<string, unknown> {
  const { rule, groupKey } = input;
  const payload: Record<string, unknown> = {
    title: title(input),
    rule_name: rule.name,
    status: input.status,
    transition: input.transition,
    rule_kind: rule.kind,
  };
  if (rule.group_by) payload[rule.group_by] = groupKey;
  if (Object.keys(rule.scope).length > 0) payload.scope = scopeText(rule);
  payload.period = input.basis === 'actual' && rule.kind !== 'monthly_budget' ? periodText(input.periodStart, input.periodEnd) : input.periodStart.slice(0, 7);
  Object.assign(payload, amounts(input));
  payload.cost_column = rule.cost_column;
  payload.currency = rule.currency;
  Object.assign(payload, {
    alert_id: input.alertId,
    rule_id: rule.rule_id,
    basis: input.basis,
    level: input.level,
    period_start: input.periodStart,
    period_end: input.periodEnd,
  });
  return payload;
}

function amounts(input: PayloadInput): Record<string, unknown> {
  const { rule, day, budget, level } = input;
  const params = rule.params;
  const crossed = Math.max(level, 1) - 1;
  if (budget) {
    const percent = (input.basis === 'actual' ? params.thresholds : params.forecast_thresholds)?.[crossed] ?? 0;
    const measured = input.basis === 'actual' ? budget.month_to_date : (budget.forecast ?? budget.month_to_date);
    return {
      month_to_date: budget.month_to_date,
      ...(budget.forecast !== null ? { forecast: budget.forecast } : {}),
      budget: budget.budget,
      threshold_percent: percent,
      threshold: amountText((Number(budget.budget) * percent) / 100),
      [input.basis === 'actual' ? 'percent_of_budget' : 'forecast_percent_of_budget']: round((Number(measured) / Number(budget.budget)) * 100, 1),
      through_day: budget.through,
      days_elapsed: budget.days_elapsed,
      days_in_month: budget.days_in_month,
    };
  }
  if (!day) return {};
  switch (rule.kind) {
    case 'daily_threshold':
      return { day: day.day, value: day.value, threshold: amountText(params.thresholds?.[crossed] ?? 0), ...(day.previous !== null ? { previous: day.previous } : {}) };
    case 'day_over_day': {
      const previous = Number(day.previous ?? 0);
      const change = Number(day.value) - previous;
      return {
        day: day.day,
        value: day.value,
        previous: day.previous,
        change_amount: amountText(change),
        ...(previous > 0 ? { change_percent: round((change / previous) * 100, 1) } : {}),
        min_spend: amountText(params.min_spend ?? 0),
        ...(params.increase_amount !== undefined ? { increase_amount: amountText(params.increase_amount) } : {}),
        ...(params.increase_percent !== undefined ? { increase_percent: params.increase_percent } : {}),
      };
    }
    case 'anomaly':
      return {
        day: day.day,
        value: day.value,
        baseline: day.median === null ? null : amountText(day.median),
        mad: day.mad === null ? null : round(day.mad, 4),
        z_score: day.z === null ? null : Number.isFinite(day.z) ? round(day.z, 2) : 'infinite (no spread in the history)',
        z_threshold: params.thresholds?.[crossed] ?? null,
        history_days: day.history_days,
      };
    default:
      return {};
  }
}

function title(input: PayloadInput): string {
  const { rule, day, budget, groupKey } = input;
  const where = groupKey ? ` (${groupKey})` : '';
  const c = rule.currency;
  const prefix = input.status === 'resolved' && input.transition === 'resolved' ? 'resolved: ' : '';
  if (budget) {
    const percents = input.basis === 'actual' ? rule.params.thresholds : rule.params.forecast_thresholds;
    const percent = percents?.[Math.max(input.level, 1) - 1] ?? 0;
    const month = budget.month.slice(0, 7);
    if (input.basis === 'forecast') {
      return `${rule.name}${where}: ${prefix}month-end forecast ${money(budget.forecast ?? budget.month_to_date, c)} ${input.transition === 'resolved' ? 'back under' : 'over'} ${percent}% of the ${money(budget.budget, c)} budget for ${month}`;
    }
    return `${rule.name}${where}: ${prefix}${money(budget.month_to_date, c)} spent in ${month} through ${budget.through}, ${input.transition === 'resolved' ? 'back under' : 'past'} ${percent}% of the ${money(budget.budget, c)} budget`;
  }
  if (!day) return `${rule.name}${where}: ${prefix}${periodText(input.periodStart, input.periodEnd)}`;
  const on = ` on ${day.day}`;
  switch (rule.kind) {
    case 'daily_threshold':
      return `${rule.name}${where}: ${prefix}${money(day.value, c)} spent${on}${input.transition === 'resolved' ? ', under' : ', over'} ${money(rule.params.thresholds?.[Math.max(input.level, 1) - 1] ?? 0, c)}`;
    case 'day_over_day':
      return `${rule.name}${where}: ${prefix}${money(day.value, c)} spent${on} against ${money(day.previous ?? '0', c)} the day before`;
    case 'anomaly':
      return `${rule.name}${where}: ${prefix}${money(day.value, c)} spent${on}, median ${money(day.median ?? 0, c)} over the previous 28 days${day.z !== null && Number.isFinite(day.z) ? ` (robust z ${round(day.z, 1)})` : ''}`;
    default:
      return rule.name;
  }
}

function scopeText(rule: AlertRule): Record<string, string> {
  const { providers, services, sub_accounts, tags } = rule.scope;
  return {
    ...(providers ? { providers: providers.join(', ') } : {}),
    ...(services ? { services: services.join(', ') } : {}),
    ...(sub_accounts ? { sub_accounts: sub_accounts.join(', ') } : {}),
    ...(tags ? { tags: Object.entries(tags).map(([key, value]) => `${key}=${value}`).join(', ') } : {}),
  };
}

export function periodText(start: string, end: string): string {
  return start === end ? start : `${start} to ${end}`;
}

function money(value: string | number, currency: string): string {
  const n = Number(value);
  return `${n.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${currency}`;
}

function amountText(value: number): string {
  return decimal(value.toFixed(9)) ?? '0';
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
