import type { QualityResult } from '../../shared/quality.ts';
import { insertedRows, type VerifyContext } from '../../warehouse/warehouse.ts';

export interface CostQualityOptions {
  tolerancePercent: number;
  priceSource: string;
  overrides: number;
  keys: number;
  overridden: number;
}

/**
 * The findings of a cost calculation, read from the rows it is about to commit:
 * - GENAI-PRICE-MISSING: each model and token type no price was found for (unknown model, a
 *   token class or tier the price list lacks), with its quantity and whether a billed cost is known;
 * - GENAI-ESTIMATE-VS-BILLED: per model, over the days the provider reported its cost, the
 *   usage priced by us against the provider's amount;
 * - GENAI-BILLED-NOT-IN-FOCUS: provider amounts that cannot become FOCUS rows (no quantity);
 * - GENAI-PRICING: where the prices came from.
 */
export function costQuality(options: CostQualityOptions) {
  return async (check: VerifyContext): Promise<QualityResult[]> => {
    const results: QualityResult[] = [];
    const missing = await check.all(
      `SELECT coalesce(model, '(no model)') AS model, token_type, pricing_tier, price_status, count(*)::INTEGER AS row_count,
              CAST(sum(consumed_quantity) AS VARCHAR) AS quantity, any_value(consumed_unit) AS unit,
              count(*) FILTER (WHERE billed_cost IS NULL)::INTEGER AS unbilled_rows
         FROM ${insertedRows(check)} AS inserted WHERE price_status NOT IN ('priced', 'no_quantity')
        GROUP BY ALL ORDER BY model, token_type, pricing_tier`,
    );
    for (const row of missing) {
      const unbilled = Number(row.unbilled_rows);
      results.push({
        check_kind: 'genai_pricing',
        rule_id: 'GENAI-PRICE-MISSING',
        level: 'SHOULD',
        status: 'warn',
        description: `no price for ${row.model} ${row.token_type} (${row.pricing_tier}): ${row.price_status}; ${row.quantity ?? 'unknown'} ${row.unit} on ${row.row_count} rows, ${unbilled === 0 ? 'all billed by the provider' : `${unbilled} rows without any cost (not in FOCUS)`}`,
        failing_rows: Number(row.row_count),
        details: { model: row.model, token_type: row.token_type, pricing_tier: row.pricing_tier, price_status: row.price_status, quantity: row.quantity, unit: row.unit, rows_without_cost: unbilled },
      });
    }

    const compared = await check.all(
      `SELECT coalesce(model, '(no model)') AS model, count(DISTINCT usage_date)::INTEGER AS days,
              CAST(sum(calculated_cost) FILTER (WHERE source <> 'cost_report') AS DECIMAL(38, 9))::VARCHAR AS estimated,
              count(*) FILTER (WHERE source <> 'cost_report' AND calculated_cost IS NULL)::INTEGER AS unpriced_rows,
              CAST(coalesce(sum(reported_cost), 0) AS DECIMAL(38, 9))::VARCHAR AS billed
         FROM ${insertedRows(check)} AS inserted WHERE cost_source = 'provider_reported'
        GROUP BY ALL ORDER BY model`,
    );
    for (const row of compared) {
      const billed = Number(row.billed);
      const estimated = row.estimated === null ? undefined : Number(row.estimated);
      const difference = estimated === undefined ? undefined : estimated - billed;
      const percent = difference === undefined ? undefined : billed === 0 ? (difference === 0 ? 0 : 100) : (difference / billed) * 100;
      const within = percent !== undefined && Math.abs(percent) <= options.tolerancePercent && Number(row.unpriced_rows) === 0;
      results.push({
        check_kind: 'genai_estimate_vs_billed',
        rule_id: 'GENAI-ESTIMATE-VS-BILLED',
        level: 'INFO',
        status: within ? 'pass' : 'warn',
        description:
          estimated === undefined
            ? `${row.model}: billed ${row.billed} over ${row.days} days; no usage priced to compare`
            : `${row.model}: estimated ${row.estimated}, billed ${row.billed} over ${row.days} days (${(percent ?? 0).toFixed(2)}%${Number(row.unpriced_rows) > 0 ? `, ${row.unpriced_rows} usage rows unpriced` : ''})`,
        failing_rows: within ? 0 : 1,
        details: { model: row.model, days: row.days, estimated_cost: row.estimated, billed_cost: row.billed, difference: difference === undefined ? null : difference.toFixed(9), difference_percent: percent === undefined ? null : Number(percent.toFixed(4)), unpriced_rows: row.unpriced_rows },
      });
    }

    const [lost] = await check.all(
      `SELECT count(*)::INTEGER AS row_count, CAST(coalesce(sum(reported_cost), 0) AS DECIMAL(38, 9))::VARCHAR AS amount
         FROM ${insertedRows(check)} AS inserted WHERE reported_cost IS NOT NULL AND reported_cost <> 0 AND NOT focus_eligible`,
    );
    if (lost && Number(lost.row_count) > 0) {
      results.push({
        check_kind: 'genai_pricing',
        rule_id: 'GENAI-BILLED-NOT-IN-FOCUS',
        level: 'SHOULD',
        status: 'warn',
        description: `${lost.amount} of billed cost on ${lost.row_count} rows has no quantity to be a FOCUS usage row; it stays in genai_payg_cost_daily`,
        failing_rows: Number(lost.row_count),
        details: { amount: lost.amount },
      });
    }

    results.push({
      check_kind: 'genai_pricing',
      rule_id: 'GENAI-PRICING',
      level: 'INFO',
      status: 'pass',
      description: `prices from ${options.priceSource}; ${options.keys} price keys, ${options.overridden} with an org override (${options.overrides} override lines)`,
      failing_rows: 0,
      details: { price_source: options.priceSource, price_keys: options.keys, overridden_keys: options.overridden, override_lines: options.overrides },
    });
    return results;
  };
}
