import { ProcessorError } from '../shared/errors.ts';
import type { QualityResult } from '../shared/quality.ts';
import { insertedRows, type SqlParams, type VerifyContext } from '../warehouse/warehouse.ts';
import { checkFocusTable, type RuleResult } from './check-focus-table.ts';
import { DUCKDB_FOCUS_SQL, type FocusSqlDialect } from './sql-dialect.ts';

export interface ConversionChecks {
  /** Provider profile of configs/focus/rules-1.3.overrides.yml: which conditional rules apply. */
  provider: string;
  reconcile?: Reconciliation | undefined;
}

export interface Reconciliation {
  /**
   * A SELECT of the source rows of the partition (or their subtotals): `billed_cost`,
   * `effective_cost`, and `billing_period_start` when per_billing_period.
   */
  source: string;
  /** BilledCost is reconciled per BillingPeriodStart as well as in total. */
  per_billing_period?: boolean | undefined;
}

/**
 * The checks every conversion to FOCUS runs on the rows it just wrote, inside the write's
 * transaction: the conformance rules, then the reconciliation of BilledCost and EffectiveCost
 * with the source, exact in DECIMAL, in total and (BilledCost) per billing period. Every result
 * is recorded; a failing MUST rule or a mismatch throws, which rolls the write back and fails
 * the step.
 *
 * In the warehouse's dialect: DuckDB by default; for BigQuery, `dialect` BIGQUERY_FOCUS_SQL, a
 * context that gives the checked table's `columns` (BigQuery has no DESCRIBE), and a
 * `reconcile.source` in BigQuery's SQL.
 */
export function verifyConversion(checks: ConversionChecks, params: SqlParams, record: (results: QualityResult[]) => void, dialect: FocusSqlDialect = DUCKDB_FOCUS_SQL) {
  return async (context: VerifyContext): Promise<void> => {
    const rules = await checkFocusTable(context, { table: insertedRows(context), provider: checks.provider, dialect, ...(context.columns ? { columns: context.columns } : {}) });
    record(rules.map(toQuality));
    const reconciliation = checks.reconcile ? await reconcile(context, checks.reconcile, params, dialect) : [];
    record(reconciliation);

    const failed = rules.find((rule) => rule.level === 'MUST' && rule.status === 'fail');
    if (failed) {
      const example = failed.examples[0] ? `; e.g. ${JSON.stringify(failed.examples[0])}` : '';
      throw new ProcessorError(`FOCUS rule ${failed.rule_id} failed on ${failed.failing_rows} rows (${failed.description})${example}`, { retryable: false });
    }
    const mismatch = reconciliation.find((result) => result.status === 'fail');
    if (mismatch) throw new ProcessorError(`reconciliation failed: ${mismatch.description}`, { retryable: false });
  };
}

function toQuality(rule: RuleResult): QualityResult {
  return {
    check_kind: 'focus_rule',
    rule_id: rule.rule_id,
    level: rule.level,
    status: rule.status,
    description: rule.description,
    failing_rows: rule.failing_rows,
    ...(rule.examples.length > 0 || rule.reason ? { details: { ...(rule.examples.length > 0 ? { examples: rule.examples } : {}), ...(rule.reason ? { reason: rule.reason } : {}) } } : {}),
  };
}

/**
 * Totals compared as DECIMAL(38, 9) text, so equality is exact, never a float tolerance. One scan
 * per side: the totals of each billing period (when asked), and the grand totals as their sum.
 */
async function reconcile(context: VerifyContext, reconciliation: Reconciliation, params: SqlParams, sql: FocusSqlDialect): Promise<QualityResult[]> {
  // Grouped by the period's timestamp, turned into text once per group.
  const totals = (rows: string, period: string, billed: string, effective: string) => {
    const text = (column: string) => sql.decimalText(`coalesce(${column}, 0)`);
    const perPeriod = reconciliation.per_billing_period === true;
    const grouped = perPeriod
      ? `SELECT ${sql.timestamp(period)} AS period, sum(${billed}) AS billed_cost, sum(${effective}) AS effective_cost FROM ${rows} GROUP BY 1`
      : `SELECT sum(${billed}) AS billed_cost, sum(${effective}) AS effective_cost FROM ${rows}`;
    const grand = `SELECT ${sql.text('NULL')} AS period, TRUE AS grand, ${text('sum(billed_cost)')} AS billed_cost, ${text('sum(effective_cost)')} AS effective_cost FROM grouped`;
    const periods = `SELECT ${sql.text('period')} AS period, FALSE AS grand, ${text('billed_cost')} AS billed_cost, ${text('effective_cost')} AS effective_cost FROM grouped`;
    return `WITH grouped AS (${grouped}) ${grand}${perPeriod ? ` UNION ALL ${periods}` : ''}`;
  };
  const focus = await context.all(totals(`${insertedRows(context)} AS inserted`, 'BillingPeriodStart', 'BilledCost', 'EffectiveCost'));
  const native = await context.query(totals(`(${reconciliation.source}) AS source`, 'billing_period_start', 'billed_cost', 'effective_cost'), params);
  const grand = (rows: Record<string, unknown>[]) => rows.find((row) => row.grand === true) ?? {};
  const results = (['billed_cost', 'effective_cost'] as const).map((column) => {
    const name = column === 'billed_cost' ? 'BilledCost' : 'EffectiveCost';
    const ours = String(grand(focus)[column]);
    const theirs = String(grand(native)[column]);
    const equal = ours === theirs;
    return result(`RECONCILE-${name}`, equal, equal ? `${name} total ${ours} equals the source total` : `${name} total ${ours} in the FOCUS rows differs from the source total ${theirs}`, {
      focus_total: ours,
      source_total: theirs,
    });
  });
  if (!reconciliation.per_billing_period) return results;
  const byPeriod = (rows: Record<string, unknown>[]) => new Map(rows.filter((row) => row.grand !== true).map((row) => [String(row.period), String(row.billed_cost)]));
  const [ours, theirs] = [byPeriod(focus), byPeriod(native)];
  for (const period of [...new Set([...ours.keys(), ...theirs.keys()])].sort()) {
    const a = ours.get(period) ?? '0.000000000';
    const b = theirs.get(period) ?? '0.000000000';
    const equal = a === b;
    const description = equal
      ? `billing period ${period}: BilledCost ${a} equals the source total`
      : `billing period ${period}: BilledCost ${a} in the FOCUS rows differs from the source total ${b}`;
    results.push(result(`RECONCILE-BilledCost-${period.slice(0, 10)}`, equal, description, { billing_period_start: period, focus_total: a, source_total: b }));
  }
  return results;
}

function result(ruleId: string, pass: boolean, description: string, details: Record<string, unknown>): QualityResult {
  return { check_kind: 'reconciliation', rule_id: ruleId, level: 'MUST', status: pass ? 'pass' : 'fail', description, failing_rows: 0, details };
}
