-- sp_cloud_1_convert_to_focus_aws, BigQuery form of the .duckdb.sql beside it: an AWS Cost and
-- Usage Report (legacy CUR CSV or Athena Parquet, CUR 2.0 / Data Exports) or an AWS FOCUS export,
-- staged by cloud.billing_export, to FOCUS 1.3 rows of the run's charge days. Mapping and its reasons: docs/cloud-billing.md (AWS).
--
-- Reads (dataset of the org, suffix the run's credential; staged as tables or views with the
-- contract's columns, NUMERIC as BIGNUMERIC and JSON as its text):
--   aws_billing_export__*        the CUR, columns of configs/schemas/cloud/aws_cur.json
--   aws_billing_export_focus__*  an AWS FOCUS export, columns of configs/schemas/cloud/focus_export.json
--   aws_billing_export_load__*   the run that staged them
--   cloud_service_categories     configs/cloud/opendata/service_categories.csv
-- Functions: sp_cloud_0_macros_aws and _focus. Parameters: @run_id, @start_date, @end_date (the run's charge days, inclusive).
-- Dialect: the native rows are a WITH query (BigQuery has no temporary views; DuckDB's SET of
-- insertion order has no counterpart); a Savings Plan group's key is a FARM_FINGERPRINT of the
-- columns DuckDB hashes; every FOCUS column is cast to the table's type (focus_clean_rows declares
-- them, and BigQuery's INSERT does not coerce FLOAT64 to NUMERIC).

-- The staged views are this run's; a concurrent run of the same pipeline and credential re-staged them otherwise.
SELECT ERROR(CONCAT('the staged AWS export was replaced by run ', x_load_run_id, ' while this run was converting, run this one again'))
  FROM `{org_dataset}.aws_billing_export_load__{credential_id}`
 WHERE x_load_run_id <> @run_id;

-- A native AWS FOCUS export (FOCUS 1.0 or 1.2 with AWS columns), with its service category
-- from the lookup by service code, else by service name.
-- focus_native_rows (sp_cloud_0_macros_focus) turns it into FOCUS 1.3 rows in `converted`,
-- which also selects the run's days.
WITH
native_export_rows AS (
SELECT f.*,
       COALESCE(c1.service_category, c2.service_category) AS lookup_category, COALESCE(c1.service_subcategory, c2.service_subcategory) AS lookup_subcategory,
       CAST(NULL AS STRING) AS x_SourceRecordId
FROM `{org_dataset}.aws_billing_export_focus__{credential_id}` f
LEFT JOIN (SELECT * FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'aws') c1 ON c1.match = 'product_code' AND c1.key = LOWER(f.x_ServiceCode)
LEFT JOIN (SELECT * FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'aws') c2 ON c2.match = 'service_name' AND c2.key = LOWER(f.ServiceName)
),
-- AWS FOCUS (and the spec's worked examples) show Savings-Plan-covered usage at BilledCost 0:
-- a SavingsPlanNegation row offsets each covered row. Where the negations of an (account,
-- resource, usage type, operation, hour, plan) group cancel its covered usage exactly, the
-- covered rows are billed 0 and the negations dropped; anything unpaired is kept as it is, so
-- BilledCost always sums to the invoice. Only the Savings Plan rows are grouped, from a narrow
-- read of the export.
sp_groups AS (
  SELECT FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(line_item_usage_account_id, line_item_resource_id, line_item_usage_type, line_item_operation, line_item_usage_start_date, savings_plan_savings_plan_a_r_n))) AS sp_key,
         line_item_usage_account_id, line_item_resource_id, line_item_usage_type, line_item_operation, line_item_usage_start_date, savings_plan_savings_plan_a_r_n,
         SUM(IF(line_item_line_item_type = 'SavingsPlanCoveredUsage', CAST(COALESCE(line_item_net_unblended_cost, line_item_unblended_cost) AS NUMERIC), NULL)) AS covered,
         SUM(IF(line_item_line_item_type = 'SavingsPlanNegation', CAST(COALESCE(line_item_net_unblended_cost, line_item_unblended_cost) AS NUMERIC), NULL)) AS negated
    FROM `{org_dataset}.aws_billing_export__{credential_id}`
   WHERE line_item_line_item_type IN ('SavingsPlanCoveredUsage', 'SavingsPlanNegation')
     AND line_item_usage_start_date >= CAST(@start_date AS TIMESTAMP) AND line_item_usage_start_date < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
   GROUP BY line_item_usage_account_id, line_item_resource_id, line_item_usage_type, line_item_operation, line_item_usage_start_date, savings_plan_savings_plan_a_r_n
),
li AS (
  SELECT
    v.*,
    COALESCE(g.negated = -g.covered, false) AS netted
  FROM (
    SELECT
      *,
      line_item_line_item_type AS t,
      CAST(COALESCE(line_item_net_unblended_cost, line_item_unblended_cost) AS NUMERIC) AS billed,
      CASE WHEN line_item_line_item_type IN ('SavingsPlanCoveredUsage', 'SavingsPlanNegation')
           THEN FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(line_item_usage_account_id, line_item_resource_id, line_item_usage_type, line_item_operation, line_item_usage_start_date, savings_plan_savings_plan_a_r_n))) END AS sp_key,
      CASE WHEN line_item_line_item_type IN ('SavingsPlanCoveredUsage', 'SavingsPlanNegation', 'SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') THEN savings_plan_savings_plan_a_r_n
           WHEN line_item_line_item_type IN ('DiscountedUsage', 'RIFee') THEN reservation_reservation_a_r_n
           WHEN line_item_line_item_type IN ('Fee', 'Refund') THEN COALESCE(reservation_reservation_a_r_n, savings_plan_savings_plan_a_r_n) END AS cd_id
    FROM `{org_dataset}.aws_billing_export__{credential_id}`
    -- The unit in FOCUS UnitFormat (configs/cloud/opendata/units.csv); an unmapped one is kept as written.
    LEFT JOIN (SELECT unit AS aws_unit_key, focus_unit FROM `{org_dataset}.cloud_units` WHERE provider = 'aws') un ON un.aws_unit_key = LOWER(pricing_unit)
    WHERE line_item_usage_start_date >= CAST(@start_date AS TIMESTAMP) AND line_item_usage_start_date < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
  ) v
  LEFT JOIN sp_groups g
    ON v.sp_key = g.sp_key
   AND v.line_item_usage_account_id IS NOT DISTINCT FROM g.line_item_usage_account_id
   AND v.line_item_resource_id IS NOT DISTINCT FROM g.line_item_resource_id
   AND v.line_item_usage_type IS NOT DISTINCT FROM g.line_item_usage_type
   AND v.line_item_operation IS NOT DISTINCT FROM g.line_item_operation
   AND v.line_item_usage_start_date IS NOT DISTINCT FROM g.line_item_usage_start_date
   AND v.savings_plan_savings_plan_a_r_n IS NOT DISTINCT FROM g.savings_plan_savings_plan_a_r_n
),
classified AS (
  SELECT
    *,
    CASE WHEN t IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation') THEN 'Usage'
         WHEN t IN ('Fee', 'RIFee', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee') THEN 'Purchase'
         WHEN t = 'Tax' THEN 'Tax'
         WHEN t = 'Credit' OR t LIKE '%Discount' THEN 'Credit'
         WHEN t = 'Refund' THEN CASE WHEN cd_id IS NOT NULL THEN 'Purchase' ELSE 'Usage' END
         ELSE 'Adjustment' END AS category,
    -- Refunds, usage restating an earlier billing period, and usage lines with a negative cost
    -- (they reverse an earlier charge) are corrections.
    t = 'Refund' OR bill_bill_type = 'Refund' OR line_item_usage_start_date < bill_billing_period_start_date
      OR (t IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') AND billed < 0) AS correction,
    CASE WHEN cd_id IS NULL THEN NULL WHEN t LIKE 'SavingsPlan%' OR STRPOS(cd_id, ':savingsplan/') > 0 THEN 'sp' ELSE 'ri' END AS cd_kind,
    COALESCE(product_product_name, product_servicecode, line_item_product_code) AS service_name,
    -- The commitment an RIFee or SavingsPlanRecurringFee left unused in its period.
    CASE WHEN t = 'RIFee'
         THEN CAST(COALESCE(reservation_net_unused_amortized_upfront_fee_for_billing_period, reservation_unused_amortized_upfront_fee_for_billing_period, 0) AS NUMERIC)
              + CAST(COALESCE(reservation_net_unused_recurring_fee, reservation_unused_recurring_fee, 0) AS NUMERIC)
         WHEN t = 'SavingsPlanRecurringFee'
         THEN CAST(COALESCE(savings_plan_total_commitment_to_date, 0) - COALESCE(savings_plan_used_commitment, 0) AS NUMERIC) END AS unused_amount,
    CASE WHEN t = 'RIFee' THEN COALESCE(reservation_unused_normalized_unit_quantity, reservation_unused_quantity, 0)
         WHEN t = 'SavingsPlanRecurringFee' THEN CAST(COALESCE(savings_plan_total_commitment_to_date, 0) - COALESCE(savings_plan_used_commitment, 0) AS FLOAT64) END AS unused_quantity
  FROM li
  WHERE NOT (netted AND t = 'SavingsPlanNegation')
),
-- The spec's worked examples: a commitment fee is a Purchase row (BilledCost = fee, EffectiveCost
-- 0), and the commitment left unused in its period is a Usage row of its own (BilledCost 0,
-- EffectiveCost = the unused amount, CommitmentDiscountStatus Unused). One read of the export:
-- fee rows with an unused amount come out twice, the second time as the unused row.
expanded AS (
  SELECT *
  FROM classified CROSS JOIN UNNEST(CASE WHEN unused_amount > 0 THEN [false, true] ELSE [false] END) AS unused_row
),
costs AS (
  SELECT
    * REPLACE (CASE WHEN unused_row THEN 'Usage' ELSE category END AS category),
    -- Unit prices describe priced charges: not tax, credits or refunds, nor a usage line with a
    -- negative cost (a correction of an earlier charge, whose unit price would be negative).
    category IN ('Usage', 'Purchase') AND t <> 'Refund' AND NOT (billed < 0 AND t <> 'SavingsPlanNegation') AS has_price,
    CASE WHEN unused_row THEN unused_quantity
         WHEN t = 'SavingsPlanNegation' THEN 0
         WHEN t IN ('SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee') THEN CAST(billed AS FLOAT64)
         ELSE COALESCE(line_item_usage_amount, 1) END AS quantity,
    CASE WHEN unused_row THEN CAST(0 AS NUMERIC)
         WHEN netted AND t = 'SavingsPlanCoveredUsage' THEN CAST(0 AS NUMERIC)
         ELSE billed END AS billed_cost,
    CASE WHEN unused_row THEN unused_amount
         WHEN t = 'SavingsPlanCoveredUsage' THEN CAST(COALESCE(savings_plan_net_savings_plan_effective_cost, savings_plan_savings_plan_effective_cost, 0) AS NUMERIC)
         WHEN t = 'DiscountedUsage' THEN CAST(COALESCE(reservation_net_effective_cost, reservation_effective_cost, 0) AS NUMERIC)
         WHEN t IN ('SavingsPlanNegation', 'SavingsPlanUpfrontFee', 'SavingsPlanRecurringFee', 'RIFee') THEN CAST(0 AS NUMERIC)
         WHEN t IN ('Fee', 'Refund') AND cd_id IS NOT NULL THEN CAST(0 AS NUMERIC)
         ELSE billed END AS effective_cost,
    -- List and contracted costs are the CUR's own; unit prices follow from them (see unit_price).
    CASE WHEN unused_row THEN unused_amount
         WHEN t = 'SavingsPlanNegation' OR t LIKE '%Discount' THEN CAST(0 AS NUMERIC)
         WHEN cd_kind = 'sp' AND category = 'Purchase' THEN billed
         WHEN category IN ('Usage', 'Purchase') AND t <> 'Refund' AND billed >= 0
         THEN CAST(COALESCE(pricing_public_on_demand_cost, pricing_public_on_demand_rate * line_item_usage_amount, billed) AS NUMERIC)
         ELSE billed END AS list_cost,
    CASE WHEN unused_row THEN unused_amount
         WHEN t = 'SavingsPlanNegation' THEN CAST(0 AS NUMERIC)
         WHEN t = 'DiscountedUsage' THEN CAST(COALESCE(pricing_public_on_demand_cost, pricing_public_on_demand_rate * line_item_usage_amount, 0) AS NUMERIC)
         ELSE billed END AS contracted_cost
  FROM expanded
),
r AS (
  SELECT
    *,
    CASE WHEN has_price THEN quantity END AS pq,
    CASE WHEN has_price THEN {org_dataset}.focus_unit_price(list_cost, quantity, CASE WHEN unused_row OR (cd_kind = 'sp' AND category = 'Purchase') THEN NULL ELSE pricing_public_on_demand_rate END) END AS list_price,
    CASE WHEN has_price THEN {org_dataset}.focus_unit_price(contracted_cost, quantity,
                                        CASE WHEN unused_row OR (cd_kind = 'sp' AND category = 'Purchase') THEN NULL
                                             WHEN t IN ('DiscountedUsage', 'SavingsPlanNegation') THEN pricing_public_on_demand_rate
                                             ELSE COALESCE(line_item_net_unblended_rate, line_item_unblended_rate) END) END AS contracted_price,
    CASE WHEN cd_id IS NULL OR NOT has_price THEN NULL
         WHEN unused_row THEN unused_quantity
         WHEN t = 'SavingsPlanCoveredUsage' THEN CAST(COALESCE(savings_plan_net_savings_plan_effective_cost, savings_plan_savings_plan_effective_cost, 0) AS FLOAT64)
         WHEN t = 'SavingsPlanNegation' THEN 0
         WHEN t = 'SavingsPlanRecurringFee' THEN CAST(COALESCE(savings_plan_total_commitment_to_date, billed) AS FLOAT64)
         WHEN t = 'SavingsPlanUpfrontFee' THEN CAST(billed AS FLOAT64)
         WHEN t = 'DiscountedUsage' THEN COALESCE(CASE WHEN line_item_normalization_factor > 0 THEN line_item_normalized_usage_amount END, line_item_usage_amount, 0)
         ELSE COALESCE(reservation_total_reserved_normalized_units, reservation_total_reserved_units, quantity) END AS cd_quantity,
    CASE WHEN cd_id IS NULL OR NOT has_price THEN NULL
         WHEN cd_kind = 'sp' THEN line_item_currency_code
         WHEN unused_row THEN CASE WHEN reservation_unused_normalized_unit_quantity IS NOT NULL THEN CONCAT('Normalized ', COALESCE(COALESCE(focus_unit, pricing_unit), 'Hours')) ELSE COALESCE(COALESCE(focus_unit, pricing_unit), 'Hours') END
         WHEN (t = 'DiscountedUsage' AND line_item_normalization_factor > 0 AND line_item_normalized_usage_amount IS NOT NULL)
           OR (t <> 'DiscountedUsage' AND reservation_total_reserved_normalized_units IS NOT NULL) THEN CONCAT('Normalized ', COALESCE(COALESCE(focus_unit, pricing_unit), 'Hours'))
         ELSE COALESCE(COALESCE(focus_unit, pricing_unit), 'Hours') END AS cd_unit,
    CASE WHEN unused_row THEN 'Unused' WHEN category = 'Usage' AND cd_id IS NOT NULL THEN 'Used' END AS cd_status,
    CASE WHEN unused_row THEN cd_id ELSE COALESCE(line_item_resource_id, CASE WHEN category = 'Purchase' THEN cd_id END) END AS resource_id
  FROM costs
),
resources AS (
  SELECT *, CASE WHEN STARTS_WITH(resource_id, 'arn:') THEN {org_dataset}.split_part(resource_id, ':', 6) END AS arn_resource,
         -- Pricing currency per billing currency. The CUR states its amounts in the line's currency
         -- and the public rate in the price list's (pricing_currency): where the two differ, their
         -- ratio on the row is the rate; without a public rate the row is priced in the billing currency.
         CASE WHEN COALESCE(pricing_currency, line_item_currency_code) <> line_item_currency_code AND has_price AND list_price > 0 AND pricing_public_on_demand_rate > 0
              THEN pricing_public_on_demand_rate / list_price END AS pricing_fx
    FROM r
),
categories AS (
  SELECT match, key, service_category, service_subcategory FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'aws'
),
converted AS (
SELECT
  CAST(NULL AS STRING) AS AllocatedMethodId,
  CAST(NULL AS JSON) AS AllocatedMethodDetails,
  CAST(NULL AS STRING) AS AllocatedResourceId,
  CAST(NULL AS STRING) AS AllocatedResourceName,
  CAST(NULL AS JSON) AS AllocatedTags,
  line_item_availability_zone AS AvailabilityZone,
  billed_cost AS BilledCost,
  bill_payer_account_id AS BillingAccountId,
  COALESCE(bill_payer_account_name, bill_payer_account_id) AS BillingAccountName,
  'Payer Account' AS BillingAccountType,
  line_item_currency_code AS BillingCurrency,
  bill_billing_period_end_date AS BillingPeriodEnd,
  bill_billing_period_start_date AS BillingPeriodStart,
  CAST(NULL AS STRING) AS CapacityReservationId,
  CAST(NULL AS STRING) AS CapacityReservationStatus,
  category AS ChargeCategory,
  CASE WHEN correction THEN 'Correction' END AS ChargeClass,
  CASE WHEN unused_row THEN CONCAT('Unused ', CASE cd_kind WHEN 'sp' THEN 'Savings Plan' ELSE 'Reserved Instance' END, ' commitment') ELSE COALESCE(line_item_line_item_description, line_item_usage_type, t) END AS ChargeDescription,
  CASE WHEN unused_row THEN 'Usage-Based'
       WHEN t IN ('RIFee', 'SavingsPlanRecurringFee') THEN 'Recurring'
       WHEN t IN ('Fee', 'SavingsPlanUpfrontFee', 'Credit', 'Refund', 'Tax') THEN 'One-Time'
       ELSE 'Usage-Based' END AS ChargeFrequency,
  CASE WHEN line_item_usage_end_date > line_item_usage_start_date THEN line_item_usage_end_date ELSE TIMESTAMP_ADD(line_item_usage_start_date, INTERVAL 1 HOUR) END AS ChargePeriodEnd,
  line_item_usage_start_date AS ChargePeriodStart,
  CASE cd_kind WHEN 'sp' THEN 'Spend' WHEN 'ri' THEN 'Usage' END AS CommitmentDiscountCategory,
  cd_id AS CommitmentDiscountId,
  CASE WHEN cd_id IS NOT NULL THEN {org_dataset}.split_part({org_dataset}.split_part(cd_id, '/', -1), ':', -1) END AS CommitmentDiscountName,
  CAST(cd_quantity AS BIGNUMERIC) AS CommitmentDiscountQuantity,
  cd_status AS CommitmentDiscountStatus,
  CASE cd_kind WHEN 'sp' THEN 'Savings Plan' WHEN 'ri' THEN 'Reserved Instance' END AS CommitmentDiscountType,
  cd_unit AS CommitmentDiscountUnit,
  CASE WHEN category = 'Usage' AND has_price AND NOT unused_row THEN CAST(COALESCE(line_item_usage_amount, 0) AS BIGNUMERIC) END AS ConsumedQuantity,
  CASE WHEN category = 'Usage' AND has_price AND NOT unused_row THEN COALESCE(COALESCE(focus_unit, pricing_unit), 'Units') END AS ConsumedUnit,
  CAST(NULL AS JSON) AS ContractApplied,
  contracted_cost AS ContractedCost,
  CAST(contracted_price AS BIGNUMERIC) AS ContractedUnitPrice,
  effective_cost AS EffectiveCost,
  'AWS' AS HostProviderName,
  bill_invoice_id AS InvoiceId,
  COALESCE(bill_invoicing_entity, 'AWS') AS InvoiceIssuerName,
  list_cost AS ListCost,
  CAST(list_price AS BIGNUMERIC) AS ListUnitPrice,
  CASE WHEN NOT has_price THEN NULL
       WHEN category = 'Usage' AND (cd_id IS NOT NULL OR t IN ('SavingsPlanCoveredUsage', 'DiscountedUsage')) THEN 'Committed'
       WHEN category = 'Usage' AND STRPOS(line_item_usage_type, 'SpotUsage') > 0 THEN 'Dynamic'
       ELSE 'Standard' END AS PricingCategory,
  CASE WHEN pricing_fx IS NULL THEN line_item_currency_code ELSE pricing_currency END AS PricingCurrency,
  CAST(CASE WHEN pricing_fx IS NULL THEN contracted_price ELSE contracted_price * pricing_fx END AS BIGNUMERIC) AS PricingCurrencyContractedUnitPrice,
  CAST(CASE WHEN pricing_fx IS NULL THEN list_price ELSE pricing_public_on_demand_rate END AS BIGNUMERIC) AS PricingCurrencyListUnitPrice,
  CASE WHEN pricing_fx IS NULL THEN effective_cost ELSE CAST(effective_cost * pricing_fx AS NUMERIC) END AS PricingCurrencyEffectiveCost,
  CAST(pq AS BIGNUMERIC) AS PricingQuantity,
  CASE WHEN NOT has_price THEN NULL
       WHEN cd_kind = 'sp' AND (category = 'Purchase' OR unused_row) THEN line_item_currency_code
       WHEN unused_row THEN cd_unit
       ELSE COALESCE(COALESCE(focus_unit, pricing_unit), 'Units') END AS PricingUnit,
  'AWS' AS ProviderName,
  COALESCE(line_item_legal_entity, 'AWS') AS PublisherName,
  COALESCE(product_region_code, product_region) AS RegionId,
  CASE WHEN COALESCE(product_region_code, product_region) IS NOT NULL THEN COALESCE(product_location, product_region_code, product_region) END AS RegionName,
  resource_id AS ResourceId,
  CASE WHEN arn_resource IS NOT NULL THEN {org_dataset}.split_part({org_dataset}.split_part(arn_resource, '/', -1), ':', -1) ELSE resource_id END AS ResourceName,
  {org_dataset}.aws_resource_type(resource_id, arn_resource, line_item_product_code, product_product_family) AS ResourceType,
  COALESCE(c1.service_category, c2.service_category, 'Other') AS ServiceCategory,
  service_name AS ServiceName,
  'AWS' AS ServiceProviderName,
  COALESCE(c1.service_subcategory, c2.service_subcategory, 'Other (Other)') AS ServiceSubcategory,
  CASE WHEN has_price THEN COALESCE(product_sku, CONCAT(line_item_product_code, ':', COALESCE(line_item_usage_type, t))) END AS SkuId,
  CASE WHEN has_price THEN COALESCE(line_item_usage_type, line_item_operation, t) END AS SkuMeter,
  CAST(NULL AS JSON) AS SkuPriceDetails,
  CASE WHEN has_price THEN COALESCE(pricing_rate_code, pricing_rate_id, CONCAT(COALESCE(product_sku, CONCAT(line_item_product_code, ':', COALESCE(line_item_usage_type, t))), '.', COALESCE(pricing_term, t))) END AS SkuPriceId,
  line_item_usage_account_id AS SubAccountId,
  CASE WHEN line_item_usage_account_id IS NOT NULL THEN COALESCE(line_item_usage_account_name, line_item_usage_account_id) END AS SubAccountName,
  CASE WHEN line_item_usage_account_id IS NOT NULL THEN 'Linked Account' END AS SubAccountType,
  PARSE_JSON(resource_tags, wide_number_mode => 'round') AS Tags,
  'aws' AS x_SourceSystem,
  CASE WHEN unused_row THEN CONCAT(identity_line_item_id, ':unused') ELSE identity_line_item_id END AS x_SourceRecordId,
  'provider_reported' AS x_CostSource,
  CAST(NULL AS STRING) AS x_TokenType,
  c1.service_category IS NULL AND c2.service_category IS NULL AS x_UnmappedService
FROM resources r
LEFT JOIN categories c1 ON c1.match = 'product_code' AND c1.key = LOWER(r.line_item_product_code)
LEFT JOIN categories c2 ON c2.match = 'service_name' AND c2.key = LOWER(r.service_name)

UNION ALL CORRESPONDING

-- The native FOCUS export's rows (native_export_rows above) as FOCUS 1.3 rows (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_native_rows(TABLE native_export_rows, 'aws', 'AWS', 'AWS', 'Payer Account', 'Linked Account', 1)
WHERE ChargePeriodStart >= CAST(@start_date AS TIMESTAMP) AND ChargePeriodStart < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
)
-- No text column is an empty string (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_clean_rows(TABLE converted)
