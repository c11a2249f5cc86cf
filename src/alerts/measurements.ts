/** What the evaluation SQL measured, read from its rows (src/alerts/evaluation-sql.ts). Days are `YYYY-MM-DD`, amounts exact decimal text. */
export interface DayMeasure {
  rule_id: string;
  group_key: string;
  day: string;
  level: number;
  value: string;
  previous: string | null;
  history_days: number | null;
  median: number | null;
  mad: number | null;
  mean_abs_dev: number | null;
  z: number | null;
}

export interface BudgetMeasure {
  rule_id: string;
  group_key: string;
  /** The last day of the unbroken run of closed days from the 1st. */
  through: string;
  month: string;
  month_to_date: string;
  budget: string;
  forecast: string | null;
  days_elapsed: number;
  days_in_month: number;
  level: number;
  forecast_level: number;
}

export interface Measurements {
  /** Each rule's latest closed charge day (absent: none in the days read). */
  lastClosed: Map<string, string>;
  /** The days each daily rule judged, ascending. */
  judged: Map<string, string[]>;
  days: DayMeasure[];
  budgets: BudgetMeasure[];
}

export function readMeasurements(rows: Record<string, unknown>[]): Measurements {
  const measurements: Measurements = { lastClosed: new Map(), judged: new Map(), days: [], budgets: [] };
  for (const row of rows) {
    const ruleId = String(row.rule_id);
    const day = String(row.day);
    switch (row.row_type) {
      case 'rule':
        measurements.lastClosed.set(ruleId, day);
        break;
      case 'judged': {
        const days = measurements.judged.get(ruleId) ?? [];
        days.push(day);
        measurements.judged.set(ruleId, days);
        break;
      }
      case 'day':
        measurements.days.push({
          rule_id: ruleId,
          group_key: String(row.group_key),
          day,
          level: Number(row.level),
          value: decimal(row.value) ?? '0',
          previous: decimal(row.previous),
          history_days: numberOrNull(row.history_days),
          median: numberOrNull(row.median),
          mad: numberOrNull(row.mad),
          mean_abs_dev: numberOrNull(row.mean_abs_dev),
          z: numberOrNull(row.z),
        });
        break;
      case 'budget':
        measurements.budgets.push({
          rule_id: ruleId,
          group_key: String(row.group_key),
          through: day,
          month: String(row.month),
          month_to_date: decimal(row.value) ?? '0',
          budget: decimal(row.budget) ?? '0',
          forecast: decimal(row.forecast),
          days_elapsed: Number(row.days_elapsed),
          days_in_month: Number(row.days_in_month),
          level: Number(row.level),
          forecast_level: Number(row.forecast_level),
        });
        break;
    }
  }
  for (const days of measurements.judged.values()) days.sort();
  return measurements;
}

/** DuckDB's DECIMAL text without trailing zeros ('1200.500000000' -> '1200.5'). */
export function decimal(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value);
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function numberOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  const n = Number(value);
  return Number.isNaN(n) ? null : n;
}
