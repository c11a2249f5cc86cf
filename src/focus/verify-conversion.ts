import { ProcessorError } from '../shared/errors.ts';
import type { QualityResult } from '../shared/quality.ts';
import type { SqlParams, VerifyContext } from '../warehouse/warehouse.ts';
import { checkFocusTable, type RuleResult } from './check-focus-table.ts';

export interface ConversionChecks {
  /** Provider profile of configs/focus/rules-1.3.overrides.yml: which conditional rules apply. */
  provider: string;
  /** A SELECT of one row, `billed_cost` and `effective_cost`, totalling the source rows of the same partition. */
  reconcile?: { source: string } | undefined;
}

/**
 * The checks every conversion to FOCUS runs on the rows it just wrote, inside the write's
 * transaction: the conformance rules, then the reconciliation of BilledCost and EffectiveCost
 * with the source, exact in DECIMAL. Every result is recorded; a failing MUST rule or a
 * mismatch throws, which rolls the write back and fails the step.
 */
export function verifyConversion(checks: ConversionChecks, params: SqlParams, record: (results: QualityResult[]) => void) {
  return async (context: VerifyContext): Promise<void> => {
    const rules = await checkFocusTable(context, { table: context.table, where: context.rows, parts: context.parts, provider: checks.provider });
    record(rules.map(toQuality));
    const reconciliation = checks.reconcile ? await reconcile(context, checks.reconcile.source, params) : [];
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

/** Totals compared as DECIMAL(38, 9) text, so equality is exact, never a float tolerance. */
async function reconcile(context: VerifyContext, source: string, params: SqlParams): Promise<QualityResult[]> {
  const total = (column: string) => `CAST(coalesce(sum(${column}), 0) AS DECIMAL(38, 9))::VARCHAR`;
  const [focus] = await context.all(`SELECT ${total('BilledCost')} AS billed_cost, ${total('EffectiveCost')} AS effective_cost FROM ${context.table} WHERE ${context.rows}`);
  const [native] = await context.query(`SELECT ${total('billed_cost')} AS billed_cost, ${total('effective_cost')} AS effective_cost FROM (${source}) AS source`, params);
  return (['billed_cost', 'effective_cost'] as const).map((column) => {
    const name = column === 'billed_cost' ? 'BilledCost' : 'EffectiveCost';
    const ours = String(focus?.[column]);
    const theirs = String(native?.[column]);
    const equal = ours === theirs;
    return {
      check_kind: 'reconciliation',
      rule_id: `RECONCILE-${name}`,
      level: 'MUST',
      status: equal ? 'pass' : 'fail',
      description: equal ? `${name} total ${ours} equals the source total` : `${name} total ${ours} in the FOCUS rows differs from the source total ${theirs}`,
      failing_rows: 0,
      details: { focus_total: ours, source_total: theirs },
    };
  });
}
