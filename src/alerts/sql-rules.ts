import type { SqlParams } from '../warehouse/warehouse.ts';
import type { AlertRule } from './rule-spec.ts';

/** The org's rules as the evaluation SQL takes them ($rules, in RULES_STRUCTURE), and the tag filters they use. */
export interface SqlRules {
  json: string;
  /** Distinct tag (key, value) filters; a rule names its own by 1-based index into the rows' tag_hits. */
  tagFilters: number;
  tagParams: SqlParams;
}

export function sqlRules(rules: readonly AlertRule[]): SqlRules {
  const tagIndex = new Map<string, number>();
  const tagParams: SqlParams = {};
  const tagOf = (key: string, value: string) => {
    const id = JSON.stringify([key, value]);
    let index = tagIndex.get(id);
    if (index === undefined) {
      index = tagIndex.size;
      tagIndex.set(id, index);
      // A JSON path naming the key whatever its characters ($, dots, quotes).
      tagParams[`tag_path_${index}`] = `$."${key.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
      tagParams[`tag_value_${index}`] = value;
    }
    return index + 1;
  };
  const lower = (list: string[] | undefined) => (list ? list.map((item) => item.toLowerCase()) : null);
  const json = rules.map((rule) => {
    const { scope, params } = rule;
    const thresholds = params.thresholds ?? null;
    return {
      rule_id: rule.rule_id,
      kind: rule.kind,
      cost_column: rule.cost_column,
      currency: rule.currency,
      providers: lower(scope.providers),
      services: lower(scope.services),
      sub_accounts: scope.sub_accounts ?? null,
      tags: scope.tags ? Object.entries(scope.tags).map(([key, value]) => tagOf(key, value)) : null,
      group_by: rule.group_by,
      amounts: rule.kind === 'daily_threshold' ? thresholds : null,
      percents: rule.kind === 'monthly_budget' ? thresholds : null,
      forecast_percents: rule.kind === 'monthly_budget' ? (params.forecast_thresholds ?? []) : null,
      z_thresholds: rule.kind === 'anomaly' ? thresholds : null,
      budget: params.budget ?? null,
      min_spend: params.min_spend ?? 0,
      increase_amount: params.increase_amount ?? null,
      increase_percent: params.increase_percent ?? null,
      min_increase: params.min_increase ?? 0,
      min_history_days: params.min_history_days ?? null,
    };
  });
  return { json: JSON.stringify(json), tagFilters: tagIndex.size, tagParams };
}
