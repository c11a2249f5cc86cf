-- sp_genai_2_calculate_costs, BigQuery form of the .duckdb.sql beside it: the rows of
-- genai_payg_cost_daily, run by genai.payg_cost. It reads this pipeline's genai_payg_usage_daily
-- for the run's days and `staged`, the prices the processor resolved for each of their distinct
-- keys, all as text: unqualified, the staged rows of the same job (a temporary table or a WITH).
--
-- billed_cost: on a day the provider's cost report covers, the provider's amount for the key
-- (0 for usage the report has no line for: the report is the bill); on other days the usage
-- at the contracted price. A key with neither stays, its cost null, and is not a FOCUS row.
-- Dialect: NUMERIC for DuckDB's DECIMAL(38, 9), BIGNUMERIC(38, 18) for its DECIMAL(38, 18); a
-- BIGNUMERIC product of a price and a quantity is exact (DuckDB's DECIMAL(38, 27) below 1e11).
WITH
usage AS (
  SELECT * FROM `{org_dataset}.genai_payg_usage_daily`
   WHERE x_org_slug = @org_slug AND x_pipeline_id = @pipeline_id AND x_credential_id = @credential_id
     AND usage_date BETWEEN CAST(@start_date AS DATE) AND CAST(@end_date AS DATE)
),
prices AS (
  SELECT CAST(usage_date AS DATE) AS usage_date, model, token_type, pricing_tier, context_window, pricing_unit,
         CAST(pricing_factor AS NUMERIC(10, 9)) AS pricing_factor,
         -- Unit prices at 18 decimals, as DuckDB keeps them: a price per token below 5e-10 survives.
         CAST(list_unit_price AS BIGNUMERIC(38, 18)) AS list_unit_price,
         CAST(contracted_unit_price AS BIGNUMERIC(38, 18)) AS contracted_unit_price,
         price_status, list_price_source, price_model_id, price_source, CAST(price_effective_from AS DATE) AS price_effective_from, override_note
    FROM staged
),
priced AS (
  SELECT u.*, p.pricing_unit, p.list_unit_price AS price_list_unit_price, p.contracted_unit_price AS price_contracted_unit_price,
         p.price_status AS staged_status, p.list_price_source AS staged_price_source, p.price_model_id, p.price_source, p.price_effective_from, p.override_note,
         coalesce(u.usage_quantity, u.reported_quantity) AS consumed_quantity,
         -- Tokens to millions of tokens is exact in DECIMAL; seconds to hours rounds at 9 places.
         CAST(CAST(coalesce(u.usage_quantity, u.reported_quantity) AS NUMERIC) * p.pricing_factor AS NUMERIC) AS pricing_quantity
    FROM usage u
    LEFT JOIN prices p
      ON p.usage_date = u.usage_date AND p.model IS NOT DISTINCT FROM u.model AND p.token_type = u.token_type
     AND p.pricing_tier = u.pricing_tier AND p.context_window IS NOT DISTINCT FROM u.context_window
),
costed AS (
  SELECT *,
         CAST(price_contracted_unit_price * pricing_quantity AS NUMERIC) AS calculated_cost,
         CASE WHEN day_reported THEN coalesce(reported_cost, 0)
              ELSE CAST(price_contracted_unit_price * pricing_quantity AS NUMERIC) END AS billed
    FROM priced
),
derived AS (
  SELECT *,
         -- Billed by the provider yet not in the price list: the unit price it charged (exact
         -- BIGNUMERIC division to 18 decimals; DuckDB divides in binary64, within 1e-16 of it).
         CASE WHEN price_list_unit_price IS NULL AND billed IS NOT NULL AND pricing_quantity > 0
              THEN CAST(CAST(billed AS BIGNUMERIC) / pricing_quantity AS BIGNUMERIC(38, 18)) END AS billed_unit_price
    FROM costed
)
SELECT usage_date, provider, billing_account_id, billing_account_name, sub_account_id, sub_account_name, model, token_type,
       pricing_tier, context_window, consumed_unit, consumed_quantity, pricing_unit, pricing_quantity,
       coalesce(price_list_unit_price, billed_unit_price) AS list_unit_price,
       coalesce(price_contracted_unit_price, billed_unit_price) AS contracted_unit_price,
       CASE WHEN price_list_unit_price IS NOT NULL THEN CAST(price_list_unit_price * pricing_quantity AS NUMERIC)
            WHEN billed_unit_price IS NOT NULL THEN billed END AS list_cost,
       CASE WHEN price_contracted_unit_price IS NOT NULL THEN calculated_cost
            WHEN billed_unit_price IS NOT NULL THEN billed END AS contracted_cost,
       calculated_cost,
       reported_cost,
       billed AS billed_cost,
       coalesce(reported_currency, 'USD') AS billing_currency,
       CASE WHEN billed IS NULL THEN NULL WHEN day_reported THEN 'provider_reported' ELSE 'calculated' END AS cost_source,
       CASE WHEN pricing_quantity IS NULL THEN 'no_quantity' ELSE coalesce(staged_status, 'unknown_model') END AS price_status,
       CASE WHEN price_list_unit_price IS NOT NULL THEN staged_price_source WHEN billed_unit_price IS NOT NULL THEN 'billed' END AS list_price_source,
       price_model_id, price_source, price_effective_from, override_note, source,
       billed IS NOT NULL AND pricing_quantity IS NOT NULL AND coalesce(price_list_unit_price, billed_unit_price) IS NOT NULL AS focus_eligible
  FROM derived
