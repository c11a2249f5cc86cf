-- sp_subscription_2_calculate_daily_costs, BigQuery form of the .duckdb.sql beside it (same rules,
-- same rows; docs/subscription-costs.md). Differences of dialect only:
-- * The days come from GENERATE_DATE_ARRAY; whole months are added with DATE_ADD, which clamps
--   to the month's end as DuckDB's date + INTERVAL does (31 Jan + 1 month = 28 or 29 Feb).
-- * Exact integer arithmetic in units of 1e-9 uses BIGNUMERIC (76 digits) where DuckDB uses
--   HUGEINT: a cycle's list charge times (100 - discount) x 1e9 reaches 1e30, past INT64. DIV
--   truncates like DuckDB's //; every operand is a whole number and never negative.
-- Before the org's first plans import its plans table does not exist, so say what is missing and
-- how to add it instead of BigQuery's "Not found: Table". No quotes or leading slashes in the
-- message: run errors mask both (engine-errors.ts).
SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM `{org_dataset}.INFORMATION_SCHEMA.TABLES` WHERE table_name = 'saas_subscription_plans')
            THEN ERROR(CONCAT('no SaaS subscription plans are imported for ', @org_slug, ', so there is nothing to cost: import the plans CSV with pipeline plans import ',
                              @org_slug, ' plans.csv (or PUT it as text/csv to api/v1/subscriptions/plans/', @org_slug, '), then run this pipeline again')) END;

WITH plans AS (
  SELECT p.*,
         CASE p.billing_cycle WHEN 'monthly' THEN 1 WHEN 'quarterly' THEN 3 WHEN 'annual' THEN 12 END AS cycle_months,
         CASE WHEN p.pricing_model = 'per_seat' THEN p.seats ELSE 1 END AS quantity,
         MIN(p.start_date) OVER (PARTITION BY p.subscription_id) AS anchor_date
    FROM `{org_dataset}.saas_subscription_plans` AS p
   WHERE p.x_org_slug = @org_slug AND p.status <> 'trial'
),
plan_days AS (
  SELECT plans.*, cost_date
    FROM plans
    JOIN UNNEST(GENERATE_DATE_ARRAY(CAST(@start_date AS DATE), CAST(@end_date AS DATE))) AS cost_date
      ON cost_date BETWEEN plans.start_date AND COALESCE(plans.end_date, CAST(@end_date AS DATE))
),
-- Whole months from the anchor to the day: the calendar month difference, less one when adding
-- it to the anchor overshoots the day (anchor 31 Jan: 28 Feb is one month on, 27 Feb is not).
elapsed AS (
  SELECT *,
         CASE WHEN DATE_ADD(anchor_date, INTERVAL month_diff MONTH) <= cost_date THEN month_diff ELSE month_diff - 1 END AS months_elapsed
    FROM (SELECT *, 12 * (EXTRACT(YEAR FROM cost_date) - EXTRACT(YEAR FROM anchor_date)) + EXTRACT(MONTH FROM cost_date) - EXTRACT(MONTH FROM anchor_date) AS month_diff FROM plan_days)
),
cycles AS (
  SELECT *,
         DATE_ADD(anchor_date, INTERVAL DIV(months_elapsed, cycle_months) * cycle_months MONTH) AS cycle_start,
         DATE_SUB(DATE_ADD(anchor_date, INTERVAL (DIV(months_elapsed, cycle_months) + 1) * cycle_months MONTH), INTERVAL 1 DAY) AS cycle_end
    FROM elapsed
),
segments AS (
  SELECT *,
         GREATEST(start_date, cycle_start) AS segment_start,
         LEAST(COALESCE(end_date, cycle_end), cycle_end) AS segment_end,
         DATE_DIFF(cycle_end, cycle_start, DAY) + 1 AS cycle_days,
         -- Amounts in units of 1e-9 (exact: the inputs are NUMERIC, scale 9).
         CAST(unit_price AS BIGNUMERIC) * 1000000000 AS unit_nanos,
         CAST(discount_percent AS BIGNUMERIC) * 1000000000 AS discount_nanos
    FROM cycles
),
charges AS (
  SELECT *,
         DATE_DIFF(segment_end, segment_start, DAY) + 1 AS segment_days,
         unit_nanos * quantity AS list_cycle_nanos,
         -- x (100 - discount) / 100, rounded half up (amounts are never negative).
         DIV(unit_nanos * quantity * (100000000000 - discount_nanos) + 50000000000, 100000000000) AS cycle_nanos,
         DIV(unit_nanos * (100000000000 - discount_nanos) + 50000000000, 100000000000) AS contracted_unit_nanos,
         DIV(CAST(quantity AS BIGNUMERIC) * 2000000000 + cycle_days, 2 * cycle_days) AS pricing_quantity_nanos
    FROM segments
),
segment_charges AS (
  SELECT *,
         DIV(cycle_nanos * segment_days, cycle_days) AS segment_nanos,
         DIV(list_cycle_nanos * segment_days, cycle_days) AS segment_list_nanos
    FROM charges
),
daily AS (
  SELECT *,
         CASE WHEN cost_date = segment_end THEN segment_nanos - DIV(segment_nanos, segment_days) * (segment_days - 1) ELSE DIV(segment_nanos, segment_days) END AS daily_nanos,
         CASE WHEN cost_date = segment_end THEN segment_list_nanos - DIV(segment_list_nanos, segment_days) * (segment_days - 1) ELSE DIV(segment_list_nanos, segment_days) END AS list_nanos,
         CASE WHEN cost_date = segment_start THEN segment_nanos ELSE 0 END AS billed_nanos,
         COUNT(*) OVER (PARTITION BY subscription_id, cost_date) AS rows_that_day
    FROM segment_charges
)
SELECT cost_date,
       -- Overlapping plan rows would charge a day twice; the import refuses them, and so does this.
       CASE WHEN rows_that_day = 1 THEN subscription_id
            ELSE ERROR(CONCAT('subscription ', subscription_id, ' has ', CAST(rows_that_day AS STRING), ' plan rows on ', CAST(cost_date AS STRING), '; its date ranges must not overlap')) END AS subscription_id,
       start_date AS plan_start_date,
       status, vendor, product, plan_name,
       COALESCE(sku_id, CONCAT(vendor, '/', product, '/', plan_name)) AS sku_id,
       billing_cycle, pricing_model, currency, seats, quantity, unit_price, discount_percent,
       CAST(contracted_unit_nanos / 1000000000 AS NUMERIC) AS contracted_unit_price,
       cycle_start, cycle_end, cycle_days, segment_start, segment_end, segment_days,
       CAST(cycle_nanos / 1000000000 AS NUMERIC) AS cycle_charge,
       CAST(segment_nanos / 1000000000 AS NUMERIC) AS segment_charge,
       CAST(pricing_quantity_nanos / 1000000000 AS NUMERIC) AS pricing_quantity,
       CAST(list_nanos / 1000000000 AS NUMERIC) AS list_cost,
       CAST(daily_nanos / 1000000000 AS NUMERIC) AS daily_cost,
       CAST(billed_nanos / 1000000000 AS NUMERIC) AS billed_cost,
       billing_account_id, billing_account_name, invoice_issuer, contract_id, cost_center, team, owner,
       service_category, service_subcategory
  FROM daily
