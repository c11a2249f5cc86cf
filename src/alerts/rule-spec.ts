import { InputError } from '../shared/errors.ts';

/** The kinds of cost rule (docs/alerts.md has each one's statistic). */
export const RULE_KINDS = ['daily_threshold', 'day_over_day', 'monthly_budget', 'anomaly'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];
export const COST_COLUMNS = ['EffectiveCost', 'BilledCost'] as const;
export type CostColumn = (typeof COST_COLUMNS)[number];
export const GROUP_BYS = ['service', 'sub_account', 'provider'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** Which rows a rule counts; every list is "any of", and the parts are combined with AND. */
export interface RuleScope {
  /** x_SourceSystem (aws, gcp, openai, subscription...) or ProviderName, case-insensitive. */
  providers?: string[];
  /** ServiceName, case-insensitive. */
  services?: string[];
  /** SubAccountId, exactly. */
  sub_accounts?: string[];
  /** Tags key = value, every pair required. */
  tags?: Record<string, string>;
}

/** The kind's own settings. Amounts are in the rule's currency. */
export interface RuleParams {
  /** daily_threshold: amounts; monthly_budget: percents of the budget; anomaly: robust z-scores. Ascending. */
  thresholds?: number[];
  /** monthly_budget: the month's budget. */
  budget?: number;
  /** monthly_budget: percents of the budget the month-end forecast is held to; [] for none. */
  forecast_thresholds?: number[];
  /** day_over_day, anomaly: a day below this spend never alerts. */
  min_spend?: number;
  /** day_over_day: the increase over the previous day, as an amount and / or a percent (both must hold when both are given). */
  increase_amount?: number;
  increase_percent?: number;
  /** anomaly: the day must also exceed the median by this amount. */
  min_increase?: number;
  /** anomaly: closed days among the previous 28 needed before a day is judged. */
  min_history_days?: number;
}

export interface RuleDefinition {
  name: string;
  kind: RuleKind;
  is_enabled: boolean;
  currency: string;
  cost_column: CostColumn;
  scope: RuleScope;
  group_by: GroupBy | null;
  params: RuleParams;
}

export interface AlertRule extends RuleDefinition {
  org_slug: string;
  rule_id: string;
  created_at: Date;
  updated_at: Date;
}

/** The anomaly statistic's window: the 28 calendar days before the judged day (docs/alerts.md). */
export const ANOMALY_HISTORY_DAYS = 28;
export const DEFAULT_MIN_HISTORY_DAYS = 14;
/** Iglewicz and Hoaglin's cut-off for the modified z-score. */
export const DEFAULT_Z_THRESHOLD = 3.5;
export const DEFAULT_BUDGET_THRESHOLDS = [50, 80, 100];
export const DEFAULT_FORECAST_THRESHOLDS = [100];

const MAX_AMOUNT = 1e15;
const MAX_LIST = 50;
const MAX_TAGS = 10;
const MAX_THRESHOLDS = 10;
const TEXT = /^[^\u0000-\u001f\u007f]{1,200}$/;

/** Which kind-specific fields each kind takes: another kind's field is refused, not ignored. */
const KIND_FIELDS: Record<RuleKind, (keyof RuleParams)[]> = {
  daily_threshold: ['thresholds'],
  day_over_day: ['min_spend', 'increase_amount', 'increase_percent'],
  monthly_budget: ['budget', 'thresholds', 'forecast_thresholds'],
  anomaly: ['thresholds', 'min_spend', 'min_increase', 'min_history_days'],
};
const COMMON_FIELDS = ['name', 'kind', 'enabled', 'currency', 'cost_column', 'scope', 'group_by'];
const PARAM_FIELDS = new Set(Object.values(KIND_FIELDS).flat());

/** A rule as the API shows it and takes it: the kind's fields beside the common ones. */
export function ruleBody(rule: AlertRule): Record<string, unknown> {
  return {
    rule_id: rule.rule_id,
    name: rule.name,
    kind: rule.kind,
    enabled: rule.is_enabled,
    currency: rule.currency,
    cost_column: rule.cost_column,
    scope: rule.scope,
    group_by: rule.group_by,
    ...rule.params,
    created_at: rule.created_at.toISOString(),
    updated_at: rule.updated_at.toISOString(),
  };
}

/**
 * Checks a rule body (a new rule, or an existing rule with a change merged in) and returns its
 * definition with defaults filled; a problem is an InputError naming the field.
 */
export function checkRule(body: unknown, existing?: AlertRule): RuleDefinition {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError('the rule must be a JSON object', { field: 'body' });
  const input = body as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!COMMON_FIELDS.includes(key) && !PARAM_FIELDS.has(key as keyof RuleParams)) throw new InputError(`${key} is not a field of a cost rule`, { field: key });
  }
  const merged: Record<string, unknown> = existing ? { ...ruleBody(existing), ...input } : { ...input };
  const kind = oneOf(required(merged.kind, 'kind'), 'kind', RULE_KINDS);
  // A change of kind starts the kind's fields afresh: the old kind's would not apply.
  if (existing && input.kind !== undefined && input.kind !== existing.kind) for (const field of PARAM_FIELDS) if (!(field in input)) delete merged[field];
  for (const field of PARAM_FIELDS) {
    if (merged[field] !== undefined && !KIND_FIELDS[kind].includes(field)) throw new InputError(`${field} does not apply to a ${kind} rule (it takes ${KIND_FIELDS[kind].join(', ')})`, { field });
  }
  const groupBy = merged.group_by === undefined || merged.group_by === null ? null : oneOf(merged.group_by, 'group_by', GROUP_BYS);
  if (kind === 'anomaly' && groupBy !== 'service' && groupBy !== 'sub_account') throw new InputError('an anomaly rule needs group_by service or sub_account: the statistic is per service or per sub-account', { field: 'group_by' });
  const enabled = merged.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new InputError('enabled must be true or false', { field: 'enabled' });
  const currency = merged.currency ?? 'USD';
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) throw new InputError('currency must be a billing currency code of three capital letters, such as USD', { field: 'currency' });
  return {
    name: text(required(merged.name, 'name'), 'name'),
    kind,
    is_enabled: enabled,
    currency,
    cost_column: merged.cost_column === undefined ? 'EffectiveCost' : oneOf(merged.cost_column, 'cost_column', COST_COLUMNS),
    scope: checkScope(merged.scope ?? {}),
    group_by: groupBy,
    params: checkParams(kind, merged),
  };
}

function checkParams(kind: RuleKind, input: Record<string, unknown>): RuleParams {
  switch (kind) {
    case 'daily_threshold':
      return { thresholds: ascending(required(input.thresholds, 'thresholds'), 'thresholds', 0, MAX_AMOUNT) };
    case 'day_over_day': {
      const params: RuleParams = { min_spend: amount(input.min_spend ?? 0, 'min_spend', true) };
      if (input.increase_amount !== undefined) params.increase_amount = amount(input.increase_amount, 'increase_amount', false);
      if (input.increase_percent !== undefined) params.increase_percent = bounded(input.increase_percent, 'increase_percent', 0, 100_000);
      if (params.increase_amount === undefined && params.increase_percent === undefined) throw new InputError('a day_over_day rule needs increase_amount, increase_percent or both', { field: 'increase_percent' });
      return params;
    }
    case 'monthly_budget':
      return {
        budget: amount(required(input.budget, 'budget'), 'budget', false),
        thresholds: ascending(input.thresholds ?? DEFAULT_BUDGET_THRESHOLDS, 'thresholds', 0, 10_000),
        // [] turns the forecast's alerts off; the forecast is still measured and shown.
        forecast_thresholds: Array.isArray(input.forecast_thresholds) && input.forecast_thresholds.length === 0 ? [] : ascending(input.forecast_thresholds ?? DEFAULT_FORECAST_THRESHOLDS, 'forecast_thresholds', 0, 10_000),
      };
    case 'anomaly': {
      const minHistory = input.min_history_days ?? DEFAULT_MIN_HISTORY_DAYS;
      if (typeof minHistory !== 'number' || !Number.isInteger(minHistory) || minHistory < DEFAULT_MIN_HISTORY_DAYS || minHistory > ANOMALY_HISTORY_DAYS) {
        throw new InputError(`min_history_days must be a whole number from ${DEFAULT_MIN_HISTORY_DAYS} to ${ANOMALY_HISTORY_DAYS}`, { field: 'min_history_days' });
      }
      return {
        thresholds: ascending(input.thresholds ?? [DEFAULT_Z_THRESHOLD], 'thresholds', 0, 1000),
        min_spend: amount(input.min_spend ?? 0, 'min_spend', true),
        min_increase: amount(input.min_increase ?? 0, 'min_increase', true),
        min_history_days: minHistory,
      };
    }
  }
}

function checkScope(value: unknown): RuleScope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError('scope must be an object of providers, services, sub_accounts and tags', { field: 'scope' });
  const scope: RuleScope = {};
  for (const [key, entry] of Object.entries(value)) {
    const field = `scope.${key}`;
    if (key === 'providers' || key === 'services' || key === 'sub_accounts') {
      if (!Array.isArray(entry) || entry.length === 0 || entry.length > MAX_LIST) throw new InputError(`${field} must be a list of 1 to ${MAX_LIST} names`, { field });
      scope[key] = [...new Set(entry.map((item, i) => text(item, `${field}.${i}`)))];
    } else if (key === 'tags') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new InputError(`${field} must be an object of tag keys and the values they must have`, { field });
      const pairs = Object.entries(entry as Record<string, unknown>);
      if (pairs.length === 0 || pairs.length > MAX_TAGS) throw new InputError(`${field} must have 1 to ${MAX_TAGS} key = value pairs`, { field });
      scope.tags = Object.fromEntries(pairs.map(([tag, tagValue]) => [text(tag, `${field}`), text(tagValue, `${field}.${tag}`)]));
    } else {
      throw new InputError(`${field} is not a scope: scopes are providers, services, sub_accounts and tags`, { field });
    }
  }
  return scope;
}

function required(value: unknown, field: string): unknown {
  if (value === undefined || value === null) throw new InputError(`${field} is required`, { field });
  return value;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || !TEXT.test(value)) throw new InputError(`${field} must be text of 1 to 200 characters without control characters`, { field });
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) throw new InputError(`${field} must be one of ${allowed.join(', ')}`, { field });
  return value as T;
}

function amount(value: unknown, field: string, zeroAllowed: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroAllowed && value === 0) || value > MAX_AMOUNT) {
    throw new InputError(`${field} must be an amount ${zeroAllowed ? 'of 0 or more' : 'above 0'} (at most ${MAX_AMOUNT})`, { field });
  }
  return value;
}

function bounded(value: unknown, field: string, above: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= above || value > max) throw new InputError(`${field} must be a number above ${above} and at most ${max}`, { field });
  return value;
}

function ascending(value: unknown, field: string, above: number, max: number): number[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_THRESHOLDS) throw new InputError(`${field} must be a list of 1 to ${MAX_THRESHOLDS} numbers`, { field });
  const numbers = value.map((item, i) => bounded(item, `${field}.${i}`, above, max));
  numbers.forEach((n, i) => {
    if (i > 0 && n <= (numbers[i - 1] as number)) throw new InputError(`${field} must be in ascending order without repeats`, { field: `${field}.${i}` });
  });
  return numbers;
}
