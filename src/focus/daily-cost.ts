import { addDays, isIsoDate } from '../shared/clock.ts';
import { InputError } from '../shared/errors.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';
import { FOCUS_TABLE } from './export-focus.ts';

export const COST_GROUPS = ['provider', 'service'] as const;
export const COST_COLUMNS = ['EffectiveCost', 'BilledCost'] as const;
export type CostGroup = (typeof COST_GROUPS)[number];
export type CostColumn = (typeof COST_COLUMNS)[number];

/** A year and a month: enough for a cost chart, and a bound on what one request makes the warehouse scan. */
export const MAX_DAYS = 400;
const DEFAULT_DAYS = 30;
/** What DuckDB writes for a DECIMAL(38, 9) zero, so an org without a table reads like one without rows. */
const ZERO = '0.000000000';

export interface DailyCostRequest {
  orgSlug: string;
  env: string;
  /** First and last charge day, inclusive; by default the 30 days through today. */
  from?: string | undefined;
  to?: string | undefined;
  groupBy: CostGroup;
  costColumn: CostColumn;
  currency: string;
  /** Today, in UTC: the month-to-date total is of its month. */
  today: string;
}

export interface DailyCost {
  from: string;
  to: string;
  group_by: CostGroup;
  cost_column: CostColumn;
  currency: string;
  /** One entry per (charge day, group) with cost; amounts are exact decimal text. */
  days: { day: string; group: string; cost: string }[];
  /** Groups by their total over the range, largest first: the stacking order of a chart. */
  groups: { group: string; total: string }[];
  total: string;
  month_to_date: { month: string; from: string; through: string; total: string };
  /** Billing currencies with rows in the range that are not counted because they are not `currency`. */
  other_currencies: string[];
}

const GROUP_EXPRESSIONS: Record<CostGroup, string> = {
  // As the cost alerts group by provider (src/alerts/evaluation-sql.ts): FOCUS ProviderName, else the converter that wrote the row.
  provider: 'coalesce(ProviderName, x_SourceSystem)',
  service: "coalesce(ServiceName, '(no service)')",
};

/** What the two warehouses write differently; the rest of the statement is the same text in both. */
const DIALECTS = {
  duckdb: {
    param: (name: string) => `$${name}`,
    table: (dataset: string, table: string) => `${dataset}.${table}`,
    startOf: (date: string) => `CAST(${date} AS TIMESTAMPTZ)`,
    dayAfter: (date: string) => `CAST(${date} + INTERVAL 1 DAY AS TIMESTAMPTZ)`,
    text: (value: string) => `CAST(${value} AS VARCHAR)`,
    // DECIMAL(38, 9) as text keeps its nine decimals.
    amount: (value: string) => `CAST(${value} AS VARCHAR)`,
  },
  bigquery: {
    param: (name: string) => `@${name}`,
    table: (dataset: string, table: string) => `\`${dataset}.${table}\``,
    startOf: (date: string) => `TIMESTAMP(${date})`,
    dayAfter: (date: string) => `TIMESTAMP(DATE_ADD(${date}, INTERVAL 1 DAY))`,
    text: (value: string) => `CAST(${value} AS STRING)`,
    // NUMERIC as text drops trailing zeros: nine decimals, as DuckDB writes them.
    amount: (value: string) => `FORMAT('%.9f', ${value})`,
  },
} as const;

/**
 * Cost per charge day and provider or service, each group's and the range's totals, and the
 * month-to-date total of today's month (which may begin before `from`), summed in the warehouse
 * from one read of the table. Every value is a bound parameter; the text varies only with the
 * dialect and the closed lists of groups and cost columns.
 */
export function dailyCostSql(dialect: keyof typeof DIALECTS, dataset: string, groupBy: CostGroup, costColumn: CostColumn): string {
  const d = DIALECTS[dialect];
  const date = (name: string) => `CAST(${d.param(name)} AS DATE)`;
  const inRange = `currency = ${d.param('currency')} AND charge_day BETWEEN ${date('from')} AND ${date('to')}`;
  // Typed: BigQuery takes a bare NULL of a SELECT DISTINCT for an INT64, which no UNION with text allows.
  const none = d.text('NULL');
  return `WITH rows_read AS (
      SELECT CAST(ChargePeriodStart AS DATE) AS charge_day, ${GROUP_EXPRESSIONS[groupBy]} AS grp, BillingCurrency AS currency, ${costColumn} AS cost
        FROM ${d.table(dataset, FOCUS_TABLE)}
       WHERE x_org_slug = ${d.param('org')}
         AND ChargePeriodStart >= ${d.startOf(`least(${date('from')}, ${date('month_start')})`)}
         AND ChargePeriodStart < ${d.dayAfter(`greatest(${date('to')}, ${date('today')})`)})
    SELECT 'day' AS row_type, ${d.text('charge_day')} AS day, grp, ${d.amount('sum(cost)')} AS cost
      FROM rows_read WHERE ${inRange} GROUP BY charge_day, grp
    UNION ALL
    SELECT 'group', ${none}, grp, ${d.amount('sum(cost)')} FROM rows_read WHERE ${inRange} GROUP BY grp
    UNION ALL
    SELECT 'total', ${none}, ${none}, ${d.amount('coalesce(sum(cost), 0)')} FROM rows_read WHERE ${inRange}
    UNION ALL
    SELECT 'mtd', ${none}, ${none}, ${d.amount('coalesce(sum(cost), 0)')}
      FROM rows_read WHERE currency = ${d.param('currency')} AND charge_day BETWEEN ${date('month_start')} AND ${date('today')}
    UNION ALL
    SELECT DISTINCT 'currency', ${none}, currency, ${none}
      FROM rows_read WHERE currency IS DISTINCT FROM ${d.param('currency')} AND charge_day BETWEEN ${date('from')} AND ${date('to')}
    ORDER BY row_type, day, grp`;
}

/** Checks the range (400s naming the field), then reads the org's FOCUS table; an org with no table yet has no cost. */
export async function dailyCost(warehouse: Warehouse, request: DailyCostRequest): Promise<DailyCost> {
  const to = request.to ?? request.today;
  const from = request.from ?? addDays(to, -(DEFAULT_DAYS - 1));
  for (const [field, value] of [['from', from], ['to', to]] as const) {
    if (!isIsoDate(value)) throw new InputError(`${field} must be a date as YYYY-MM-DD that exists`, { field });
  }
  if (from > to) throw new InputError('from is after to', { field: 'from' });
  if (addDays(from, MAX_DAYS - 1) < to) throw new InputError(`from..to spans more than ${MAX_DAYS} days`, { field: 'to' });
  const monthStart = `${request.today.slice(0, 7)}-01`;
  const summary: DailyCost = {
    from, to, group_by: request.groupBy, cost_column: request.costColumn, currency: request.currency,
    days: [], groups: [], total: ZERO, month_to_date: { month: request.today.slice(0, 7), from: monthStart, through: request.today, total: ZERO }, other_currencies: [],
  };
  const dataset = `${request.orgSlug}_${request.env}`;
  if (!(await warehouse.hasTable(dataset, FOCUS_TABLE))) return summary;
  const rows = await warehouse.query(dailyCostSql(warehouse.dialect, dataset, request.groupBy, request.costColumn), {
    org: request.orgSlug, from, to, today: request.today, month_start: monthStart, currency: request.currency,
  });
  for (const row of rows) {
    const cost = String(row.cost);
    if (row.row_type === 'day') summary.days.push({ day: String(row.day), group: String(row.grp), cost });
    else if (row.row_type === 'group') summary.groups.push({ group: String(row.grp), total: cost });
    else if (row.row_type === 'total') summary.total = cost;
    else if (row.row_type === 'mtd') summary.month_to_date.total = cost;
    else summary.other_currencies.push(String(row.grp));
  }
  summary.groups.sort((a, b) => Number(b.total) - Number(a.total) || a.group.localeCompare(b.group));
  return summary;
}
