import { ANOMALY_HISTORY_DAYS } from './rule-spec.ts';
import { FORECAST_RATE_DAYS, JUDGED_DAYS, MIN_FORECAST_DAYS, RELEVANCE_DAYS } from './closed-days.ts';

/**
 * The SQL of an evaluation, in DuckDB's dialect. Everything that varies is a bound parameter
 * ($rules, $loads, ... as JSON text); the text varies only with the table and the number of
 * distinct tag filters of the org's rules ($tag_path_N / $tag_value_N).
 */

/** The shape of $rules: one struct per enabled rule (src/alerts/sql-rules.ts builds it). */
export const RULES_STRUCTURE = JSON.stringify([
  {
    rule_id: 'VARCHAR',
    kind: 'VARCHAR',
    cost_column: 'VARCHAR',
    currency: 'VARCHAR',
    providers: 'VARCHAR[]',
    services: 'VARCHAR[]',
    sub_accounts: 'VARCHAR[]',
    tags: 'INTEGER[]',
    group_by: 'VARCHAR',
    amounts: 'DECIMAL(38,9)[]',
    percents: 'DOUBLE[]',
    forecast_percents: 'DOUBLE[]',
    z_thresholds: 'DOUBLE[]',
    budget: 'DECIMAL(38,9)',
    min_spend: 'DECIMAL(38,9)',
    increase_amount: 'DECIMAL(38,9)',
    increase_percent: 'DOUBLE',
    min_increase: 'DOUBLE',
    min_history_days: 'INTEGER',
  },
]);

const rulesCte = `rules AS (SELECT unnest(from_json(CAST($rules AS JSON), '${RULES_STRUCTURE}'), recursive := true))`;

/** The FOCUS columns rules look at, one name each; tag_hits[i] says whether the row has the org's i-th tag filter. */
function projection(tagFilters: number): string {
  const hits = Array.from({ length: tagFilters }, (_, i) => `coalesce(json_extract_string(Tags, $tag_path_${i}) = $tag_value_${i}, false)`);
  return `CAST(ChargePeriodStart AS DATE) AS day, x_pipeline_id AS pipeline_id, x_credential_id AS credential_id,
    lower(x_SourceSystem) AS source_system, lower(coalesce(ProviderName, '')) AS provider_name, coalesce(ProviderName, x_SourceSystem) AS provider,
    ServiceName AS service, lower(ServiceName) AS service_lower, coalesce(SubAccountId, '') AS sub_account, BillingCurrency AS currency,
    ${hits.length > 0 ? `[${hits.join(', ')}]` : 'CAST([] AS BOOLEAN[])'} AS tag_hits`;
}

/** Whether row `b` is in rule `r`'s scope (its currency, providers, services, sub-accounts, tags). */
const inScope = (r: string, b: string) => `${b}.currency = ${r}.currency
    AND (${r}.providers IS NULL OR list_contains(${r}.providers, ${b}.source_system) OR list_contains(${r}.providers, ${b}.provider_name))
    AND (${r}.services IS NULL OR list_contains(${r}.services, ${b}.service_lower))
    AND (${r}.sub_accounts IS NULL OR list_contains(${r}.sub_accounts, ${b}.sub_account))
    AND (${r}.tags IS NULL OR list_bool_and(list_transform(${r}.tags, lambda i: ${b}.tag_hits[i])))`;
const groupOf = (r: string, b: string) => `CASE ${r}.group_by WHEN 'service' THEN ${b}.service WHEN 'sub_account' THEN ${b}.sub_account WHEN 'provider' THEN ${b}.provider ELSE '' END`;
const costOf = (r: string, b: string) => `CASE WHEN ${r}.cost_column = 'BilledCost' THEN ${b}.billed_cost ELSE ${b}.effective_cost END`;

/**
 * One statement per org: which charge days are closed for each rule, and each rule's measures
 * on the days it judges. Rows of four types come back:
 * - `rule`: the rule's latest closed day;
 * - `judged`: a day a daily kind judges (closed, and with what the kind needs: a closed previous
 *   day for day_over_day, min_history_days closed days of the previous 28 for an anomaly);
 * - `day`: a group's measures and level on a judged day, for every level above 0 and for the
 *   groups named in $open (their open alerts need the days that clear them);
 * - `budget`: a group's month-to-date, forecast and levels for each month a budget judges.
 */
export function evaluationSql(table: string, tagFilters: number): string {
  return `WITH
  ${rulesCte},
  lags AS (SELECT unnest(from_json(CAST($lags AS JSON), '[{"system":"VARCHAR","hours":"DOUBLE"}]'), recursive := true)),
  loads AS (SELECT unnest(from_json(CAST($loads AS JSON), '[{"pipeline_id":"VARCHAR","credential_id":"VARCHAR","first_day":"DATE","last_day":"DATE"}]'), recursive := true)),
  open_groups AS (SELECT unnest(from_json(CAST($open AS JSON), '[{"rule_id":"VARCHAR","group_key":"VARCHAR"}]'), recursive := true)),
  days AS (SELECT CAST(unnest(generate_series(CAST($scan_from AS DATE), CAST($today AS DATE) - 1, INTERVAL 1 DAY)) AS DATE) AS day),
  -- The scan: one pass over the FOCUS rows of the days read, aggregated to what the rules tell apart.
  base AS (
    SELECT ${projection(tagFilters)}, sum(EffectiveCost) AS effective_cost, sum(BilledCost) AS billed_cost, max(x_ingested_at) AS loaded_at
      FROM ${table}
     WHERE ChargePeriodStart >= CAST($scan_from AS TIMESTAMPTZ) AND ChargePeriodStart < CAST($today AS TIMESTAMPTZ)
     GROUP BY ALL),
  -- Closed days of each load stream (pipeline, credential). A load replaces whole charge days, so
  -- a day's rows of a stream share the load's x_ingested_at.
  source_days AS (
    SELECT b.pipeline_id, b.credential_id, b.day, max(b.loaded_at) AS loaded_at, max(coalesce(l.hours, $default_lag_hours)) AS lag_hours
      FROM base b LEFT JOIN lags l ON l.system = b.source_system
     GROUP BY ALL),
  sources AS (SELECT DISTINCT pipeline_id, credential_id FROM source_days),
  loading AS (SELECT DISTINCT l.pipeline_id, l.credential_id, d.day FROM loads l JOIN days d ON d.day BETWEEN l.first_day AND l.last_day),
  source_grid AS (
    SELECT s.pipeline_id, s.credential_id, d.day, sd.loaded_at IS NOT NULL AS has_rows, g.day IS NOT NULL AS in_flight,
           -- loaded after the provider's lag had passed, and not touched within the settle window
           coalesce(epoch(sd.loaded_at) >= epoch(CAST(d.day AS TIMESTAMPTZ)) + 86400 + 3600 * sd.lag_hours
                    AND epoch(sd.loaded_at) <= epoch(CAST($now AS TIMESTAMPTZ)) - 3600 * $settle_hours, false) AS settled
      FROM sources s CROSS JOIN days d
      LEFT JOIN source_days sd ON sd.pipeline_id = s.pipeline_id AND sd.credential_id = s.credential_id AND sd.day = d.day
      LEFT JOIN loading g ON g.pipeline_id = s.pipeline_id AND g.credential_id = s.credential_id AND g.day = d.day),
  source_closed AS (
    -- A day without rows is a day without charges when a later day of the stream is closed.
    SELECT pipeline_id, credential_id, day,
           NOT in_flight AND CASE WHEN has_rows THEN settled
             ELSE coalesce(bool_or(has_rows AND settled AND NOT in_flight) OVER (PARTITION BY pipeline_id, credential_id ORDER BY day ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), false) END AS closed
      FROM source_grid),
  matched AS (
    SELECT r.rule_id, b.day, b.pipeline_id, b.credential_id, ${groupOf('r', 'b')} AS group_key, ${costOf('r', 'b')} AS cost
      FROM rules r JOIN base b ON ${inScope('r', 'b')}),
  -- A day is closed for a rule when every stream with rows in its scope in the week up to that day has closed it.
  hits AS (SELECT DISTINCT rule_id, pipeline_id, credential_id, day FROM matched),
  relevance AS (
    SELECT r.rule_id, c.day, c.closed,
           bool_or(h.rule_id IS NOT NULL) OVER (PARTITION BY r.rule_id, c.pipeline_id, c.credential_id ORDER BY c.day ROWS BETWEEN ${RELEVANCE_DAYS} PRECEDING AND CURRENT ROW) AS relevant
      FROM rules r CROSS JOIN source_closed c
      LEFT JOIN hits h ON h.rule_id = r.rule_id AND h.pipeline_id = c.pipeline_id AND h.credential_id = c.credential_id AND h.day = c.day),
  rule_days AS (SELECT rule_id, day, coalesce(bool_and(closed) FILTER (WHERE relevant), false) AS closed FROM relevance GROUP BY rule_id, day),
  closed_days AS (SELECT rule_id, day FROM rule_days WHERE closed),
  latest AS (SELECT rule_id, max(day) AS last_closed FROM closed_days GROUP BY rule_id),
  judged AS (
    SELECT c.rule_id, c.day, r.kind
      FROM closed_days c JOIN latest l ON l.rule_id = c.rule_id JOIN rules r ON r.rule_id = c.rule_id
     WHERE c.day >= greatest(l.last_closed - ${JUDGED_DAYS - 1}, CAST($judge_from AS DATE))
       AND (r.kind <> 'day_over_day' OR EXISTS (SELECT 1 FROM closed_days p WHERE p.rule_id = c.rule_id AND p.day = c.day - 1))
       AND (r.kind <> 'anomaly' OR (SELECT count(*) FROM closed_days h WHERE h.rule_id = c.rule_id AND h.day BETWEEN c.day - ${ANOMALY_HISTORY_DAYS} AND c.day - 1) >= r.min_history_days)),
  -- Each group's cost on each closed day, 0 on a closed day it has no rows.
  groups AS (SELECT DISTINCT rule_id, group_key FROM matched UNION SELECT rule_id, group_key FROM open_groups),
  spend AS (SELECT rule_id, group_key, day, sum(cost) AS cost FROM matched GROUP BY ALL),
  series AS (
    SELECT g.rule_id, g.group_key, c.day, coalesce(s.cost, 0) AS cost
      FROM groups g JOIN closed_days c ON c.rule_id = g.rule_id
      LEFT JOIN spend s ON s.rule_id = g.rule_id AND s.group_key = g.group_key AND s.day = c.day),
  judged_series AS (
    SELECT s.rule_id, s.group_key, s.day, s.cost, j.kind FROM series s JOIN judged j ON j.rule_id = s.rule_id AND j.day = s.day WHERE j.kind <> 'monthly_budget'),
  previous AS (
    SELECT j.rule_id, j.group_key, j.day, p.cost AS previous
      FROM judged_series j JOIN series p ON p.rule_id = j.rule_id AND p.group_key = j.group_key AND p.day = j.day - 1),
  -- The anomaly's robust statistic over the closed days of the previous 28.
  history AS (
    SELECT j.rule_id, j.group_key, j.day, CAST(h.cost AS DOUBLE) AS cost
      FROM judged_series j JOIN series h ON h.rule_id = j.rule_id AND h.group_key = j.group_key AND h.day BETWEEN j.day - ${ANOMALY_HISTORY_DAYS} AND j.day - 1
     WHERE j.kind = 'anomaly'),
  robust AS (SELECT rule_id, group_key, day, count(*) AS history_days, median(cost) AS median, mad(cost) AS mad FROM history GROUP BY ALL),
  mean_deviation AS (
    SELECT h.rule_id, h.group_key, h.day, avg(abs(h.cost - r.median)) AS mean_abs_dev
      FROM history h JOIN robust r ON r.rule_id = h.rule_id AND r.group_key = h.group_key AND r.day = h.day
     GROUP BY ALL),
  day_measures AS (
    SELECT j.rule_id, j.group_key, j.day, j.kind, j.cost AS value, p.previous, ro.history_days, ro.median, ro.mad, md.mean_abs_dev,
           CASE WHEN ro.mad > 0 THEN (CAST(j.cost AS DOUBLE) - ro.median) / (1.4826 * ro.mad)
                WHEN md.mean_abs_dev > 0 THEN (CAST(j.cost AS DOUBLE) - ro.median) / (1.2533 * md.mean_abs_dev)
                WHEN CAST(j.cost AS DOUBLE) > ro.median THEN CAST('Infinity' AS DOUBLE)
                ELSE 0 END AS z
      FROM judged_series j
      LEFT JOIN previous p ON p.rule_id = j.rule_id AND p.group_key = j.group_key AND p.day = j.day
      LEFT JOIN robust ro ON ro.rule_id = j.rule_id AND ro.group_key = j.group_key AND ro.day = j.day
      LEFT JOIN mean_deviation md ON md.rule_id = j.rule_id AND md.group_key = j.group_key AND md.day = j.day),
  day_levels AS (
    SELECT m.*,
           CASE m.kind
             WHEN 'daily_threshold' THEN list_count(list_filter(r.amounts, lambda t: m.value >= t))
             WHEN 'day_over_day' THEN CASE WHEN m.value >= r.min_spend AND m.value > m.previous
                  AND (r.increase_amount IS NULL OR m.value - m.previous >= r.increase_amount)
                  AND (r.increase_percent IS NULL OR m.previous <= 0 OR (m.value - m.previous) * 100 >= r.increase_percent * m.previous) THEN 1 ELSE 0 END
             WHEN 'anomaly' THEN CASE WHEN m.value >= r.min_spend AND CAST(m.value AS DOUBLE) - m.median >= r.min_increase
                  THEN list_count(list_filter(r.z_thresholds, lambda t: m.z >= t)) ELSE 0 END
           END AS level
      FROM day_measures m JOIN rules r ON r.rule_id = m.rule_id),
  -- A budget's month is judged through its last day in an unbroken run of closed days from the 1st.
  budget_months AS (SELECT DISTINCT rule_id, CAST(date_trunc('month', day) AS DATE) AS month FROM judged WHERE kind = 'monthly_budget'),
  budget_through AS (
    SELECT m.rule_id, m.month, coalesce(min(d.day) FILTER (WHERE NOT d.closed) - 1, max(d.day)) AS through
      FROM budget_months m JOIN latest l ON l.rule_id = m.rule_id
      JOIN rule_days d ON d.rule_id = m.rule_id AND d.day BETWEEN m.month AND least(last_day(m.month), l.last_closed)
     GROUP BY m.rule_id, m.month),
  budget_sums AS (
    SELECT t.rule_id, s.group_key, t.month, t.through, sum(s.cost) AS month_to_date,
           sum(s.cost) FILTER (WHERE s.day > t.through - ${FORECAST_RATE_DAYS}) AS recent_cost,
           day(t.through) AS days_elapsed, day(last_day(t.month)) AS days_in_month
      FROM budget_through t JOIN series s ON s.rule_id = t.rule_id AND s.day BETWEEN t.month AND t.through
     WHERE t.through >= t.month
     GROUP BY ALL),
  budget_measures AS (
    SELECT b.*, r.budget,
           CASE WHEN b.days_elapsed >= ${MIN_FORECAST_DAYS}
                THEN CAST(b.month_to_date + b.recent_cost / least(${FORECAST_RATE_DAYS}, b.days_elapsed) * (b.days_in_month - b.days_elapsed) AS DECIMAL(38, 9)) END AS forecast
      FROM budget_sums b JOIN rules r ON r.rule_id = b.rule_id)
  SELECT 'rule' AS row_type, rule_id, last_closed AS day FROM latest
  UNION ALL BY NAME
  SELECT 'judged' AS row_type, rule_id, day FROM judged WHERE kind <> 'monthly_budget'
  UNION ALL BY NAME
  SELECT 'day' AS row_type, rule_id, group_key, day, level, value, previous, history_days, median, mad, mean_abs_dev, z
    FROM day_levels
   WHERE level > 0 OR EXISTS (SELECT 1 FROM open_groups o WHERE o.rule_id = day_levels.rule_id AND o.group_key = day_levels.group_key)
  UNION ALL BY NAME
  SELECT 'budget' AS row_type, b.rule_id, b.group_key, b.through AS day, b.month, b.month_to_date AS value, b.budget, b.forecast, b.days_elapsed, b.days_in_month,
         list_count(list_filter(r.percents, lambda p: b.month_to_date * 100 >= b.budget * p)) AS level,
         CASE WHEN b.forecast IS NULL THEN 0 ELSE list_count(list_filter(r.forecast_percents, lambda p: b.forecast * 100 >= b.budget * p)) END AS forecast_level
    FROM budget_measures b JOIN rules r ON r.rule_id = b.rule_id`;
}

/**
 * The top contributors of each asked change: per (ServiceName, SubAccountId, ResourceId) of the
 * rule's scope and group, cost over [from_day, to_day] minus the baseline (cost over
 * [base_from, base_to] / base_days), the 5 largest in the asked direction (+1 increases, -1 decreases).
 */
export function contributorsSql(table: string, tagFilters: number): string {
  return `WITH
  ${rulesCte},
  asks AS (SELECT unnest(from_json(CAST($asks AS JSON), '[{"ask":"INTEGER","rule_id":"VARCHAR","group_key":"VARCHAR","from_day":"DATE","to_day":"DATE","base_from":"DATE","base_to":"DATE","base_days":"INTEGER","direction":"INTEGER"}]'), recursive := true)),
  focus AS (
    SELECT ${projection(tagFilters)}, coalesce(ResourceId, '') AS resource, EffectiveCost AS effective_cost, BilledCost AS billed_cost
      FROM ${table}
     WHERE ChargePeriodStart >= CAST($from_day AS TIMESTAMPTZ) AND ChargePeriodStart < CAST($to_day AS TIMESTAMPTZ) + INTERVAL 1 DAY),
  contributions AS (
    SELECT a.ask, b.service, b.sub_account, b.resource, any_value(a.direction) AS direction,
           sum(CASE WHEN b.day BETWEEN a.from_day AND a.to_day THEN ${costOf('r', 'b')} ELSE 0 END) AS cost,
           CAST(sum(CASE WHEN b.day BETWEEN a.base_from AND a.base_to THEN ${costOf('r', 'b')} ELSE 0 END) / any_value(a.base_days) AS DECIMAL(38, 9)) AS baseline
      FROM asks a JOIN rules r ON r.rule_id = a.rule_id
      JOIN focus b ON ${inScope('r', 'b')} AND ${groupOf('r', 'b')} = a.group_key
       AND (b.day BETWEEN a.from_day AND a.to_day OR b.day BETWEEN a.base_from AND a.base_to)
     GROUP BY a.ask, b.service, b.sub_account, b.resource)
  SELECT ask, service, sub_account, resource, cost, baseline, cost - baseline AS change
    FROM contributions
  QUALIFY row_number() OVER (PARTITION BY ask ORDER BY (cost - baseline) * direction DESC, service, sub_account, resource) <= 5
   ORDER BY ask, (cost - baseline) * direction DESC, service, sub_account, resource`;
}
