-- sp_subscription_2_calculate_daily_costs: one row per subscription per paid day of the run
-- range ($start_date..$end_date), from the org's saas_subscription_plans. Set-based: the days
-- come from generate_series, every amount from the plan row and the day alone, so any range
-- (and any re-run of it) gives the same rows for the same plans. docs/subscription-costs.md
-- explains the rules; in short:
--
-- * Cycles are anchored at the subscription's first paid start date (trial rows are free and
--   do not count): cycle k runs from anchor + k cycles to the day before anchor + (k+1) cycles,
--   each step added to the anchor in whole months, so cycles end at month ends the way the
--   vendor bills (31 Jan, 28 or 29 Feb, 31 Mar ...) and a year has 365 or 366 days.
-- * A plan row covers a segment of each cycle: the whole cycle, or from its start_date when it
--   starts mid-cycle (a seat change, a late start) and to its end_date when it ends mid-cycle.
--   segment charge = cycle charge x segment days / cycle days, billed on the segment's first day.
-- * Rounding: exact integer arithmetic in units of 1e-9 (the scale of NUMERIC, HUGEINT here;
--   DuckDB divides DECIMAL as DOUBLE, which would not be exact). The cycle charge is rounded half
--   up once; proration and the daily share truncate, and the segment's last day takes the
--   remainder (less than segment_days x 1e-9), so the days of a segment sum to its charge exactly.
-- Before the org's first plans import its plans table does not exist (the import creates it, and
-- refuses an empty file), so say what is missing and how to add it instead of DuckDB's "table does
-- not exist". The message has no quotes or leading slashes: run errors mask both (engine-errors.ts).
SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $org_dataset AND table_name = 'saas_subscription_plans')
            THEN error('no SaaS subscription plans are imported for ' || $org_slug || ', so there is nothing to cost: import the plans CSV with pipeline plans import '
                       || $org_slug || ' plans.csv (or PUT it as text/csv to api/v1/subscriptions/plans/' || $org_slug || '), then run this pipeline again') END;

WITH plans AS (
  SELECT p.*,
         CASE p.billing_cycle WHEN 'monthly' THEN 1 WHEN 'quarterly' THEN 3 WHEN 'annual' THEN 12 END AS cycle_months,
         CAST(CASE WHEN p.pricing_model = 'per_seat' THEN p.seats ELSE 1 END AS BIGINT) AS quantity,
         min(p.start_date) OVER (PARTITION BY p.subscription_id) AS anchor_date
    FROM {org_dataset}.saas_subscription_plans AS p
   WHERE p.x_org_slug = $org_slug AND p.status <> 'trial'
),
plan_days AS (
  SELECT plans.*, CAST(days.d AS DATE) AS cost_date
    FROM plans
    JOIN generate_series(CAST($start_date AS DATE), CAST($end_date AS DATE), INTERVAL 1 DAY) AS days(d)
      ON CAST(days.d AS DATE) BETWEEN plans.start_date AND coalesce(plans.end_date, CAST($end_date AS DATE))
),
-- Whole months from the anchor to the day: the calendar month difference, less one when adding
-- it to the anchor overshoots the day (anchor 31 Jan: 28 Feb is one month on, 27 Feb is not).
elapsed AS (
  SELECT *,
         CASE WHEN CAST(anchor_date + to_months(CAST(month_diff AS INTEGER)) AS DATE) <= cost_date THEN month_diff ELSE month_diff - 1 END AS months_elapsed
    FROM (SELECT *, 12 * (year(cost_date) - year(anchor_date)) + month(cost_date) - month(anchor_date) AS month_diff FROM plan_days)
),
cycles AS (
  SELECT *,
         CAST(anchor_date + to_months(CAST(months_elapsed // cycle_months * cycle_months AS INTEGER)) AS DATE) AS cycle_start,
         CAST(anchor_date + to_months(CAST((months_elapsed // cycle_months + 1) * cycle_months AS INTEGER)) - INTERVAL 1 DAY AS DATE) AS cycle_end
    FROM elapsed
),
segments AS (
  SELECT *,
         greatest(start_date, cycle_start) AS segment_start,
         least(coalesce(end_date, cycle_end), cycle_end) AS segment_end,
         CAST(cycle_end - cycle_start + 1 AS BIGINT) AS cycle_days,
         -- Amounts in units of 1e-9 (exact: the inputs are NUMERIC, scale 9).
         CAST(unit_price * CAST(1000000000 AS HUGEINT) AS HUGEINT) AS unit_nanos,
         CAST(discount_percent * CAST(1000000000 AS HUGEINT) AS HUGEINT) AS discount_nanos
    FROM cycles
),
charges AS (
  SELECT *,
         CAST(segment_end - segment_start + 1 AS BIGINT) AS segment_days,
         unit_nanos * quantity AS list_cycle_nanos,
         -- x (100 - discount) / 100, rounded half up (amounts are never negative).
         (unit_nanos * quantity * (CAST(100000000000 AS HUGEINT) - discount_nanos) + CAST(50000000000 AS HUGEINT)) // CAST(100000000000 AS HUGEINT) AS cycle_nanos,
         (unit_nanos * (CAST(100000000000 AS HUGEINT) - discount_nanos) + CAST(50000000000 AS HUGEINT)) // CAST(100000000000 AS HUGEINT) AS contracted_unit_nanos,
         (CAST(quantity AS HUGEINT) * 2000000000 + cycle_days) // (2 * cycle_days) AS pricing_quantity_nanos
    FROM segments
),
segment_charges AS (
  SELECT *,
         cycle_nanos * segment_days // cycle_days AS segment_nanos,
         list_cycle_nanos * segment_days // cycle_days AS segment_list_nanos
    FROM charges
),
daily AS (
  SELECT *,
         CASE WHEN cost_date = segment_end THEN segment_nanos - segment_nanos // segment_days * (segment_days - 1) ELSE segment_nanos // segment_days END AS daily_nanos,
         CASE WHEN cost_date = segment_end THEN segment_list_nanos - segment_list_nanos // segment_days * (segment_days - 1) ELSE segment_list_nanos // segment_days END AS list_nanos,
         CASE WHEN cost_date = segment_start THEN segment_nanos ELSE 0 END AS billed_nanos,
         count(*) OVER (PARTITION BY subscription_id, cost_date) AS rows_that_day
    FROM segment_charges
)
SELECT cost_date,
       -- Overlapping plan rows would charge a day twice; the import refuses them, and so does this.
       CASE WHEN rows_that_day = 1 THEN subscription_id
            ELSE error('subscription ' || subscription_id || ' has ' || rows_that_day || ' plan rows on ' || cost_date || '; its date ranges must not overlap') END AS subscription_id,
       start_date AS plan_start_date,
       status, vendor, product, plan_name,
       coalesce(sku_id, vendor || '/' || product || '/' || plan_name) AS sku_id,
       billing_cycle, pricing_model, currency, seats, quantity, unit_price, discount_percent,
       CAST(CAST(contracted_unit_nanos AS DECIMAL(38, 0)) * 0.000000001 AS DECIMAL(38, 9)) AS contracted_unit_price,
       cycle_start, cycle_end, cycle_days, segment_start, segment_end, segment_days,
       CAST(CAST(cycle_nanos AS DECIMAL(38, 0)) * 0.000000001 AS DECIMAL(38, 9)) AS cycle_charge,
       CAST(CAST(segment_nanos AS DECIMAL(38, 0)) * 0.000000001 AS DECIMAL(38, 9)) AS segment_charge,
       CAST(CAST(pricing_quantity_nanos AS DECIMAL(38, 0)) * 0.000000001 AS DECIMAL(38, 9)) AS pricing_quantity,
       CAST(CAST(list_nanos AS DECIMAL(38, 0)) * 0.000000001 AS DECIMAL(38, 9)) AS list_cost,
       CAST(CAST(daily_nanos AS DECIMAL(38, 0)) * 0.000000001 AS DECIMAL(38, 9)) AS daily_cost,
       CAST(CAST(billed_nanos AS DECIMAL(38, 0)) * 0.000000001 AS DECIMAL(38, 9)) AS billed_cost,
       billing_account_id, billing_account_name, invoice_issuer, contract_id, cost_center, team, owner,
       service_category, service_subcategory
  FROM daily
