-- sp_cloud_1_convert_to_focus_gcp, BigQuery form of the .duckdb.sql beside it: a Google Cloud
-- billing export (standard or detailed) or a GCP FOCUS export, staged by cloud.billing_export, to
-- FOCUS 1.3 rows of the run's charge days. Mapping and its reasons: docs/cloud-billing.md (GCP).
--
-- Reads (dataset of the org, suffix the run's credential; staged as tables or views with the
-- contract's columns, NUMERIC as BIGNUMERIC and JSON as its text):
--   gcp_billing_export__*        columns of configs/schemas/cloud/gcp_billing_export.json
--   gcp_billing_export_focus__*  columns of configs/schemas/cloud/focus_export.json
--   gcp_billing_export_load__*   the run that staged them
--   cloud_service_categories, cloud_regions
-- Functions: sp_cloud_0_macros_gcp and _focus. Parameters: @run_id, @start_date, @end_date.
-- Dialect: as in the AWS form (WITH for the temporary view, FOCUS types cast); DuckDB's list
-- lambdas are subqueries over UNNEST; the labels' json_merge_patch is gcp_tags; ILIKE is LOWER LIKE.

-- The staged views are this run's; a concurrent run of the same pipeline and credential re-staged them otherwise.
SELECT ERROR(CONCAT('the staged GCP export was replaced by run ', x_load_run_id, ' while this run was converting, run this one again'))
  FROM `{org_dataset}.gcp_billing_export_load__{credential_id}`
 WHERE x_load_run_id <> @run_id;

-- A native GCP FOCUS export (Google's FOCUS view or the linked FOCUS dataset), with FOCUS's
-- case-sensitive values (the Google view writes `usage`, `tax`).
-- focus_native_rows (sp_cloud_0_macros_focus) turns it into FOCUS 1.3 rows in `converted`,
-- which also selects the run's days.
WITH
native_export_rows AS (
SELECT * REPLACE (
    CASE LOWER(COALESCE(ChargeCategory, ChargeType)) WHEN 'usage' THEN 'Usage' WHEN 'purchase' THEN 'Purchase' WHEN 'tax' THEN 'Tax' WHEN 'credit' THEN 'Credit' ELSE 'Adjustment' END AS ChargeCategory,
    CASE WHEN LOWER(ChargeClass) = 'correction' THEN 'Correction' END AS ChargeClass,
    CASE LOWER(ChargeFrequency) WHEN 'usage-based' THEN 'Usage-Based' WHEN 'one-time' THEN 'One-Time' WHEN 'recurring' THEN 'Recurring' END AS ChargeFrequency,
    CASE LOWER(CommitmentDiscountStatus) WHEN 'used' THEN 'Used' WHEN 'unused' THEN 'Unused' END AS CommitmentDiscountStatus,
    CASE LOWER(PricingCategory) WHEN 'standard' THEN 'Standard' WHEN 'on-demand' THEN 'Standard' WHEN 'committed' THEN 'Committed' WHEN 'commitment-based' THEN 'Committed' WHEN 'dynamic' THEN 'Dynamic' WHEN 'other' THEN 'Other' END AS PricingCategory
  ),
  CAST(NULL AS STRING) AS x_SourceRecordId
FROM `{org_dataset}.gcp_billing_export_focus__{credential_id}` f
LEFT JOIN (SELECT key, service_category AS lookup_category, service_subcategory AS lookup_subcategory FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'gcp' AND match = 'service_name') s
  ON s.key = LOWER(f.ServiceName)
),
li AS (
  SELECT
    *,
    {org_dataset}.gcp_credits(credits) AS credit_list,
    {org_dataset}.gcp_billed(cost, credits) AS billed,
    COALESCE(cost_type, 'regular') AS ct,
    adjustment_info_id IS NOT NULL OR adjustment_info_type IS NOT NULL OR adjustment_info_mode IS NOT NULL OR adjustment_info_description IS NOT NULL AS correction,
    COALESCE(cost_type, 'regular') = 'regular' AND LOWER(sku_description) LIKE 'commitment%' AS is_fee
  FROM `{org_dataset}.gcp_billing_export__{credential_id}`
  -- Units in FOCUS UnitFormat (configs/cloud/opendata/units.csv); an unmapped one is kept as written.
  LEFT JOIN (SELECT unit AS gcp_usage_unit_key, focus_unit AS focus_usage_unit FROM `{org_dataset}.cloud_units` WHERE provider = 'gcp') uu ON uu.gcp_usage_unit_key = LOWER(usage_unit)
  LEFT JOIN (SELECT unit AS gcp_pricing_unit_key, focus_unit AS focus_pricing_unit FROM `{org_dataset}.cloud_units` WHERE provider = 'gcp') up ON up.gcp_pricing_unit_key = LOWER(usage_pricing_unit)
  WHERE usage_start_time >= CAST(@start_date AS TIMESTAMP) AND usage_start_time < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
),
lines AS (
  SELECT
    *,
    (SELECT c FROM UNNEST(credit_list) AS c WITH OFFSET AS position WHERE c.type IN ('COMMITTED_USAGE_DISCOUNT', 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE') ORDER BY position LIMIT 1) AS cud,
    COALESCE((SELECT SUM(c.amount) FROM UNNEST(credit_list) AS c WHERE c.type IN ('COMMITTED_USAGE_DISCOUNT', 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE')), 0) AS cud_amount
  FROM li
),
commitments AS (
  SELECT *, CASE WHEN is_fee THEN COALESCE(subscription_instance_id, CONCAT('commitment:', sku_id)) WHEN cud IS NOT NULL THEN COALESCE(subscription_instance_id, cud.id) END AS cd_id FROM lines
),
-- GCP bills a committed-use discount as hourly fee rows, and covered usage carries a negative CUD
-- credit; nothing says how much went unused. Per commitment and hour: used = min(fee, credits
-- consumed), unused = fee - used (the mapping notes' rule). The used fee is spread over the
-- covered rows in proportion to their credit; the unused part becomes its own Unused row.
hours AS (
  SELECT cd_id, usage_start_time,
         SUM(IF(is_fee, billed, NULL)) AS fee,
         -SUM(IF(NOT is_fee, cud_amount, NULL)) AS consumed
    FROM commitments
   WHERE cd_id IS NOT NULL
   GROUP BY cd_id, usage_start_time
),
joined AS (
  SELECT c.*, COALESCE(h.fee, 0) AS hour_fee, COALESCE(h.consumed, 0) AS hour_consumed
    FROM commitments c LEFT JOIN hours h ON c.cd_id = h.cd_id AND c.usage_start_time = h.usage_start_time
),
expanded AS (
  SELECT *
  FROM joined CROSS JOIN UNNEST(CASE WHEN is_fee AND hour_fee > hour_consumed AND hour_fee > 0 THEN [false, true] ELSE [false] END) AS unused_row
),
classified AS (
  SELECT
    *,
    CASE WHEN unused_row THEN 'Usage'
         WHEN ct = 'tax' THEN 'Tax'
         WHEN ct = 'regular' THEN CASE WHEN is_fee THEN 'Purchase' ELSE 'Usage' END
         WHEN ct = 'adjustment' AND billed < 0 AND NOT correction THEN 'Credit'
         ELSE 'Adjustment' END AS category,
    CASE WHEN cd_id IS NULL THEN NULL
         WHEN COALESCE(cud.type, '') = 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE' OR LOWER(sku_description) LIKE '%dollar based%' THEN 'Spend' ELSE 'Usage' END AS cd_category,
    CASE WHEN COALESCE(price_pricing_unit_quantity, 0) > 0 THEN usage_amount_in_pricing_units / price_pricing_unit_quantity ELSE usage_amount_in_pricing_units END AS priced_quantity,
    CAST(LEAST(hour_fee, hour_consumed) AS NUMERIC) AS used_fee,
    CAST(GREATEST(hour_fee - hour_consumed, 0) AS NUMERIC) AS unused_fee
  FROM expanded
),
costs AS (
  SELECT
    *,
    category IN ('Usage', 'Purchase') AND NOT correction AND billed >= 0 AND (unused_row OR cost >= 0) AS has_price,
    CASE WHEN unused_row THEN CAST(0 AS NUMERIC) ELSE billed END AS billed_cost,
    CASE WHEN unused_row THEN unused_fee
         WHEN is_fee THEN CAST(0 AS NUMERIC)
         WHEN cd_id IS NOT NULL AND hour_consumed > 0 THEN billed + CAST(CAST(used_fee * (-cud_amount) AS FLOAT64) / CAST(hour_consumed AS FLOAT64) AS NUMERIC)
         ELSE billed END AS effective_cost,
    CASE WHEN unused_row THEN unused_fee ELSE CAST(COALESCE(cost_at_list, cost) AS NUMERIC) END AS list_cost,
    CASE WHEN unused_row THEN unused_fee ELSE CAST(cost AS NUMERIC) END AS contracted_cost,
    CASE WHEN unused_row AND hour_fee > 0 THEN COALESCE(priced_quantity, 1) * CAST(unused_fee AS FLOAT64) / CAST(hour_fee AS FLOAT64)
         ELSE COALESCE(priced_quantity, CASE WHEN category = 'Purchase' THEN 1 ELSE 0 END) END AS quantity
  FROM classified
),
r AS (
  SELECT
    *,
    CASE WHEN has_price THEN quantity END AS pq,
    CASE WHEN has_price THEN {org_dataset}.focus_unit_price(list_cost, quantity, CASE WHEN NOT unused_row THEN price_list_price END) END AS list_price,
    CASE WHEN has_price THEN {org_dataset}.focus_unit_price(contracted_cost, quantity, CASE WHEN NOT unused_row AND COALESCE(price_pricing_unit_quantity, 1) IN (0, 1) THEN price_effective_price END) END AS contracted_price,
    CASE WHEN cd_id IS NULL OR NOT has_price THEN NULL
         WHEN cd_category = 'Spend' THEN CASE WHEN unused_row THEN CAST(unused_fee AS FLOAT64) WHEN is_fee THEN CAST(billed AS FLOAT64) ELSE CAST(-cud_amount AS FLOAT64) END
         ELSE quantity END AS cd_quantity,
    CASE WHEN cd_id IS NULL OR NOT has_price THEN NULL WHEN cd_category = 'Spend' THEN currency ELSE COALESCE(COALESCE(focus_pricing_unit, usage_pricing_unit), 'Units') END AS cd_unit,
    COALESCE(location_region, location_location) AS gcp_region,
    -- Google prices in US dollars and bills in the account's currency: currency_conversion_rate is
    -- billing currency per USD. Without a rate (or billing in USD) the prices are the billing ones.
    CASE WHEN currency <> 'USD' AND currency_conversion_rate > 0 THEN 1 / currency_conversion_rate END AS pricing_fx,
    CASE WHEN unused_row THEN cd_id ELSE COALESCE(resource_global_name, resource_name) END AS resource_id,
    {org_dataset}.gcp_tags(project_labels, tags, labels) AS tag_object
  FROM costs
),
converted AS (
SELECT
  CAST(NULL AS STRING) AS AllocatedMethodId,
  CAST(NULL AS JSON) AS AllocatedMethodDetails,
  CAST(NULL AS STRING) AS AllocatedResourceId,
  CAST(NULL AS STRING) AS AllocatedResourceName,
  CAST(NULL AS JSON) AS AllocatedTags,
  location_zone AS AvailabilityZone,
  billed_cost AS BilledCost,
  billing_account_id AS BillingAccountId,
  billing_account_id AS BillingAccountName,
  'Billing Account' AS BillingAccountType,
  currency AS BillingCurrency,
  TIMESTAMP(DATE_ADD(PARSE_DATE('%Y%m%d', CONCAT(invoice_month, '01')), INTERVAL 1 MONTH), 'America/Los_Angeles') AS BillingPeriodEnd,
  TIMESTAMP(PARSE_DATE('%Y%m%d', CONCAT(invoice_month, '01')), 'America/Los_Angeles') AS BillingPeriodStart,
  CAST(NULL AS STRING) AS CapacityReservationId,
  CAST(NULL AS STRING) AS CapacityReservationStatus,
  category AS ChargeCategory,
  CASE WHEN correction THEN 'Correction' END AS ChargeClass,
  CASE WHEN unused_row THEN CONCAT('Unused committed use discount: ', sku_description) ELSE sku_description END AS ChargeDescription,
  CASE WHEN unused_row THEN 'Usage-Based' WHEN is_fee THEN 'Recurring' WHEN category IN ('Credit', 'Adjustment') THEN 'One-Time' ELSE 'Usage-Based' END AS ChargeFrequency,
  CASE WHEN usage_end_time > usage_start_time THEN usage_end_time ELSE TIMESTAMP_ADD(usage_start_time, INTERVAL 1 HOUR) END AS ChargePeriodEnd,
  usage_start_time AS ChargePeriodStart,
  cd_category AS CommitmentDiscountCategory,
  cd_id AS CommitmentDiscountId,
  CASE WHEN cd_id IS NOT NULL THEN COALESCE(cud.full_name, cud.name, sku_description) END AS CommitmentDiscountName,
  CAST(cd_quantity AS BIGNUMERIC) AS CommitmentDiscountQuantity,
  CASE WHEN unused_row THEN 'Unused' WHEN cd_id IS NOT NULL AND category = 'Usage' THEN 'Used' END AS CommitmentDiscountStatus,
  CASE WHEN cd_id IS NOT NULL THEN 'Committed Use Discount' END AS CommitmentDiscountType,
  cd_unit AS CommitmentDiscountUnit,
  CASE WHEN category = 'Usage' AND has_price AND NOT unused_row THEN CAST(COALESCE(usage_amount, 0) AS BIGNUMERIC) END AS ConsumedQuantity,
  CASE WHEN category = 'Usage' AND has_price AND NOT unused_row THEN COALESCE(COALESCE(focus_usage_unit, usage_unit), 'Units') END AS ConsumedUnit,
  CAST(NULL AS JSON) AS ContractApplied,
  contracted_cost AS ContractedCost,
  CAST(contracted_price AS BIGNUMERIC) AS ContractedUnitPrice,
  effective_cost AS EffectiveCost,
  CASE WHEN COALESCE(transaction_type, 'GOOGLE') = 'GOOGLE' THEN 'Google Cloud' ELSE COALESCE(seller_name, 'Google Cloud') END AS HostProviderName,
  CAST(NULL AS STRING) AS InvoiceId,
  'Google' AS InvoiceIssuerName,
  list_cost AS ListCost,
  CAST(list_price AS BIGNUMERIC) AS ListUnitPrice,
  CASE WHEN NOT has_price THEN NULL
       WHEN category = 'Usage' AND cd_id IS NOT NULL THEN 'Committed'
       WHEN category = 'Usage' AND (LOWER(sku_description) LIKE '%preemptible%' OR LOWER(sku_description) LIKE '%spot%') THEN 'Dynamic'
       ELSE 'Standard' END AS PricingCategory,
  CASE WHEN pricing_fx IS NULL THEN currency ELSE 'USD' END AS PricingCurrency,
  CAST(CASE WHEN pricing_fx IS NULL THEN contracted_price ELSE contracted_price * pricing_fx END AS BIGNUMERIC) AS PricingCurrencyContractedUnitPrice,
  CAST(CASE WHEN pricing_fx IS NULL THEN list_price ELSE list_price * pricing_fx END AS BIGNUMERIC) AS PricingCurrencyListUnitPrice,
  CASE WHEN pricing_fx IS NULL THEN effective_cost ELSE CAST(effective_cost * pricing_fx AS NUMERIC) END AS PricingCurrencyEffectiveCost,
  CAST(pq AS BIGNUMERIC) AS PricingQuantity,
  CASE WHEN has_price THEN COALESCE(COALESCE(focus_pricing_unit, usage_pricing_unit), 'Units') END AS PricingUnit,
  'Google Cloud' AS ProviderName,
  CASE WHEN COALESCE(transaction_type, 'GOOGLE') = 'GOOGLE' THEN 'Google Cloud' ELSE COALESCE(seller_name, 'Google Cloud') END AS PublisherName,
  gcp_region AS RegionId,
  CASE WHEN gcp_region IS NOT NULL THEN COALESCE(g.region_name, gcp_region) END AS RegionName,
  resource_id AS ResourceId,
  CASE WHEN resource_id IS NOT NULL THEN COALESCE(CASE WHEN NOT unused_row THEN resource_name END, {org_dataset}.split_part(resource_id, '/', -1)) END AS ResourceName,
  -- //compute.googleapis.com/projects/p/zones/z/instances/vm-1 -> instances
  CASE WHEN resource_id IS NOT NULL THEN COALESCE(
    CASE WHEN unused_row THEN 'commitment' END,
    NULLIF(SPLIT(resource_id, '/')[SAFE_ORDINAL(ARRAY_LENGTH(SPLIT(resource_id, '/')) - 1)], ''),
    LOWER(REPLACE(service_description, ' ', '_'))) END AS ResourceType,
  COALESCE(s.service_category, 'Other') AS ServiceCategory,
  service_description AS ServiceName,
  'Google Cloud' AS ServiceProviderName,
  COALESCE(s.service_subcategory, 'Other (Other)') AS ServiceSubcategory,
  CASE WHEN has_price THEN COALESCE(sku_id, CONCAT(service_id, ':', COALESCE(sku_description, ''))) END AS SkuId,
  CASE WHEN has_price THEN sku_description END AS SkuMeter,
  CAST(NULL AS JSON) AS SkuPriceDetails,
  CASE WHEN has_price THEN CONCAT(COALESCE(sku_id, CONCAT(service_id, ':', COALESCE(sku_description, ''))), ':', COALESCE({org_dataset}.float_text(price_tier_start_amount), '0')) END AS SkuPriceId,
  project_id AS SubAccountId,
  CASE WHEN project_id IS NOT NULL THEN COALESCE(project_name, project_id) END AS SubAccountName,
  CASE WHEN project_id IS NOT NULL THEN 'Project' END AS SubAccountType,
  PARSE_JSON(tag_object) AS Tags,
  'gcp' AS x_SourceSystem,
  -- DuckDB's concat_ws skips nulls, as ARRAY_TO_STRING does; the values as DuckDB writes them (float_text, ...).
  CONCAT(TO_HEX(MD5(ARRAY_TO_STRING([billing_account_id, service_id, sku_id, {org_dataset}.timestamp_text(usage_start_time), project_id, resource_global_name, ct,
                                     {org_dataset}.timestamp_text(export_time), {org_dataset}.decimal_text(cost, 12)], '|'))),
         CASE WHEN unused_row THEN ':unused' ELSE '' END) AS x_SourceRecordId,
  'provider_reported' AS x_CostSource,
  CAST(NULL AS STRING) AS x_TokenType,
  s.service_category IS NULL AS x_UnmappedService
FROM r
LEFT JOIN (SELECT * FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'gcp' AND match = 'service_name') s ON s.key = LOWER(r.service_description)
LEFT JOIN (SELECT * FROM `{org_dataset}.cloud_regions` WHERE provider = 'gcp') g ON g.key = LOWER(r.gcp_region)

UNION ALL CORRESPONDING

-- The native FOCUS export's rows (native_export_rows above) as FOCUS 1.3 rows (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_native_rows(TABLE native_export_rows, 'gcp', 'Google Cloud', 'Google', 'Billing Account', 'Project', 1)
WHERE ChargePeriodStart >= CAST(@start_date AS TIMESTAMP) AND ChargePeriodStart < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
)
-- No text column is an empty string (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_clean_rows(TABLE converted)
