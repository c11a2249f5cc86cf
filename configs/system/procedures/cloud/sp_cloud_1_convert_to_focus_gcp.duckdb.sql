-- sp_cloud_1_convert_to_focus_gcp: a Google Cloud billing export (standard or detailed; BigQuery
-- CSV extracts, JSON or Parquet) or a GCP FOCUS export, staged by cloud.billing_export, to FOCUS
-- 1.3 rows of the run's charge days. Mapping and its reasons: docs/cloud-billing.md (GCP).
--
-- Reads (dataset of the org, suffix the run's credential):
--   gcp_billing_export__*        columns of configs/schemas/cloud/gcp_billing_export.json
--   gcp_billing_export_focus__*  columns of configs/schemas/cloud/focus_export.json
--   gcp_billing_export_load__*   the run that staged them
--   cloud_service_categories, cloud_regions
-- Macros: sp_cloud_0_macros_gcp. Parameters: $run_id, $start_date, $end_date.

-- The staged views are this run's; a concurrent run of the same pipeline and credential re-staged them otherwise.
SELECT error('the staged GCP export was replaced by run ' || x_load_run_id || ' while this run was converting, run this one again')
  FROM {org_dataset}."gcp_billing_export_load__{credential_id}"
 WHERE x_load_run_id <> $run_id;

-- The FOCUS rows have no order: letting DuckDB write them in any order halves the cost of the
-- insert (measured: 3M converted CUR rows, 18.5 s -> 9.4 s on 2 cores with a 1 GB memory limit).
-- Session scope: the setting ends with this write's connection.
SET SESSION preserve_insertion_order = false;

-- A native GCP FOCUS export (Google's FOCUS view or the linked FOCUS dataset), with FOCUS's
-- case-sensitive values (the Google view writes `usage`, `tax`).
-- focus_native_rows (sp_cloud_0_macros_focus) turns it into FOCUS 1.3 rows in the final SELECT,
-- which also selects the run's days (a view takes no parameters).
CREATE OR REPLACE TEMP VIEW native_export_rows AS
SELECT * REPLACE (
    CASE lower(coalesce(ChargeCategory, ChargeType)) WHEN 'usage' THEN 'Usage' WHEN 'purchase' THEN 'Purchase' WHEN 'tax' THEN 'Tax' WHEN 'credit' THEN 'Credit' ELSE 'Adjustment' END AS ChargeCategory,
    CASE WHEN lower(ChargeClass) = 'correction' THEN 'Correction' END AS ChargeClass,
    CASE lower(ChargeFrequency) WHEN 'usage-based' THEN 'Usage-Based' WHEN 'one-time' THEN 'One-Time' WHEN 'recurring' THEN 'Recurring' END AS ChargeFrequency,
    CASE lower(CommitmentDiscountStatus) WHEN 'used' THEN 'Used' WHEN 'unused' THEN 'Unused' END AS CommitmentDiscountStatus,
    CASE lower(PricingCategory) WHEN 'standard' THEN 'Standard' WHEN 'on-demand' THEN 'Standard' WHEN 'committed' THEN 'Committed' WHEN 'commitment-based' THEN 'Committed' WHEN 'dynamic' THEN 'Dynamic' WHEN 'other' THEN 'Other' END AS PricingCategory
  ),
  CAST(NULL AS VARCHAR) AS x_SourceRecordId
FROM {org_dataset}."gcp_billing_export_focus__{credential_id}" f
LEFT JOIN (SELECT key, service_category AS lookup_category, service_subcategory AS lookup_subcategory FROM {org_dataset}.cloud_service_categories WHERE provider = 'gcp' AND match = 'service_name') s
  ON s.key = lower(f.ServiceName);

WITH
li AS (
  SELECT
    *,
    {org_dataset}.gcp_credits(credits) AS credit_list,
    {org_dataset}.gcp_billed(cost, credits) AS billed,
    coalesce(cost_type, 'regular') AS ct,
    adjustment_info_id IS NOT NULL OR adjustment_info_type IS NOT NULL OR adjustment_info_mode IS NOT NULL OR adjustment_info_description IS NOT NULL AS correction,
    coalesce(cost_type, 'regular') = 'regular' AND sku_description ILIKE 'commitment%' AS is_fee
  FROM {org_dataset}."gcp_billing_export__{credential_id}"
  -- Units in FOCUS UnitFormat (configs/cloud/opendata/units.csv); an unmapped one is kept as written.
  LEFT JOIN (SELECT unit AS gcp_usage_unit_key, focus_unit AS focus_usage_unit FROM {org_dataset}.cloud_units WHERE provider = 'gcp') uu ON uu.gcp_usage_unit_key = lower(usage_unit)
  LEFT JOIN (SELECT unit AS gcp_pricing_unit_key, focus_unit AS focus_pricing_unit FROM {org_dataset}.cloud_units WHERE provider = 'gcp') up ON up.gcp_pricing_unit_key = lower(usage_pricing_unit)
  WHERE usage_start_time >= CAST($start_date AS TIMESTAMPTZ) AND usage_start_time < CAST($end_date AS TIMESTAMPTZ) + INTERVAL 1 DAY
),
lines AS (
  SELECT
    *,
    list_filter(credit_list, c -> c.type IN ('COMMITTED_USAGE_DISCOUNT', 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE'))[1] AS cud,
    coalesce(list_sum(list_transform(list_filter(credit_list, c -> c.type IN ('COMMITTED_USAGE_DISCOUNT', 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE')), c -> c.amount)), 0) AS cud_amount
  FROM li
),
commitments AS (
  SELECT *, CASE WHEN is_fee THEN coalesce(subscription_instance_id, 'commitment:' || sku_id) WHEN cud IS NOT NULL THEN coalesce(subscription_instance_id, cud.id) END AS cd_id FROM lines
),
-- GCP bills a committed-use discount as hourly fee rows, and covered usage carries a negative CUD
-- credit; nothing says how much went unused. Per commitment and hour: used = min(fee, credits
-- consumed), unused = fee - used (the mapping notes' rule). The used fee is spread over the
-- covered rows in proportion to their credit; the unused part becomes its own Unused row.
hours AS (
  SELECT cd_id, usage_start_time,
         sum(billed) FILTER (WHERE is_fee) AS fee,
         -sum(cud_amount) FILTER (WHERE NOT is_fee) AS consumed
    FROM commitments
   WHERE cd_id IS NOT NULL
   GROUP BY ALL
),
joined AS (
  SELECT c.*, coalesce(h.fee, 0) AS hour_fee, coalesce(h.consumed, 0) AS hour_consumed
    FROM commitments c LEFT JOIN hours h ON c.cd_id = h.cd_id AND c.usage_start_time = h.usage_start_time
),
expanded AS (
  SELECT *, unnest(CASE WHEN is_fee AND hour_fee > hour_consumed AND hour_fee > 0 THEN [false, true] ELSE [false] END) AS unused_row
  FROM joined
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
         WHEN coalesce(cud.type, '') = 'COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE' OR sku_description ILIKE '%dollar based%' THEN 'Spend' ELSE 'Usage' END AS cd_category,
    CASE WHEN coalesce(price_pricing_unit_quantity, 0) > 0 THEN usage_amount_in_pricing_units / price_pricing_unit_quantity ELSE usage_amount_in_pricing_units END AS priced_quantity,
    CAST(least(hour_fee, hour_consumed) AS DECIMAL(38, 9)) AS used_fee,
    CAST(greatest(hour_fee - hour_consumed, 0) AS DECIMAL(38, 9)) AS unused_fee
  FROM expanded
),
costs AS (
  SELECT
    *,
    category IN ('Usage', 'Purchase') AND NOT correction AND billed >= 0 AND (unused_row OR cost >= 0) AS has_price,
    CASE WHEN unused_row THEN CAST(0 AS DECIMAL(38, 9)) ELSE billed END AS billed_cost,
    CASE WHEN unused_row THEN unused_fee
         WHEN is_fee THEN CAST(0 AS DECIMAL(38, 9))
         WHEN cd_id IS NOT NULL AND hour_consumed > 0 THEN billed + CAST(used_fee * (-cud_amount) / hour_consumed AS DECIMAL(38, 9))
         ELSE billed END AS effective_cost,
    CASE WHEN unused_row THEN unused_fee ELSE CAST(coalesce(cost_at_list, cost) AS DECIMAL(38, 9)) END AS list_cost,
    CASE WHEN unused_row THEN unused_fee ELSE CAST(cost AS DECIMAL(38, 9)) END AS contracted_cost,
    CASE WHEN unused_row AND hour_fee > 0 THEN coalesce(priced_quantity, 1) * CAST(unused_fee AS DOUBLE) / CAST(hour_fee AS DOUBLE)
         ELSE coalesce(priced_quantity, CASE WHEN category = 'Purchase' THEN 1 ELSE 0 END) END AS quantity
  FROM classified
),
r AS (
  SELECT
    *,
    CASE WHEN has_price THEN quantity END AS pq,
    CASE WHEN has_price THEN {org_dataset}.focus_unit_price(list_cost, quantity, CASE WHEN NOT unused_row THEN price_list_price END) END AS list_price,
    CASE WHEN has_price THEN {org_dataset}.focus_unit_price(contracted_cost, quantity, CASE WHEN NOT unused_row AND coalesce(price_pricing_unit_quantity, 1) IN (0, 1) THEN price_effective_price END) END AS contracted_price,
    CASE WHEN cd_id IS NULL OR NOT has_price THEN NULL
         WHEN cd_category = 'Spend' THEN CASE WHEN unused_row THEN CAST(unused_fee AS DOUBLE) WHEN is_fee THEN CAST(billed AS DOUBLE) ELSE CAST(-cud_amount AS DOUBLE) END
         ELSE quantity END AS cd_quantity,
    CASE WHEN cd_id IS NULL OR NOT has_price THEN NULL WHEN cd_category = 'Spend' THEN currency ELSE coalesce(coalesce(focus_pricing_unit, usage_pricing_unit), 'Units') END AS cd_unit,
    coalesce(location_region, location_location) AS gcp_region,
    -- Google prices in US dollars and bills in the account's currency: currency_conversion_rate is
    -- billing currency per USD. Without a rate (or billing in USD) the prices are the billing ones.
    CASE WHEN currency <> 'USD' AND currency_conversion_rate > 0 THEN 1 / currency_conversion_rate END AS pricing_fx,
    CASE WHEN unused_row THEN cd_id ELSE coalesce(resource_global_name, resource_name) END AS resource_id,
    nullif(CAST(json_merge_patch(coalesce({org_dataset}.gcp_labels(project_labels), '{}'), coalesce({org_dataset}.gcp_labels(tags), '{}'), coalesce({org_dataset}.gcp_labels(labels), '{}')) AS VARCHAR), '{}') AS tag_object
  FROM costs
),
converted AS (
SELECT
  CAST(NULL AS VARCHAR) AS AllocatedMethodId,
  CAST(NULL AS JSON) AS AllocatedMethodDetails,
  CAST(NULL AS VARCHAR) AS AllocatedResourceId,
  CAST(NULL AS VARCHAR) AS AllocatedResourceName,
  CAST(NULL AS JSON) AS AllocatedTags,
  location_zone AS AvailabilityZone,
  billed_cost AS BilledCost,
  billing_account_id AS BillingAccountId,
  billing_account_id AS BillingAccountName,
  'Billing Account' AS BillingAccountType,
  currency AS BillingCurrency,
  timezone('America/Los_Angeles', strptime(invoice_month || '01', '%Y%m%d') + INTERVAL 1 MONTH) AS BillingPeriodEnd,
  timezone('America/Los_Angeles', strptime(invoice_month || '01', '%Y%m%d')) AS BillingPeriodStart,
  CAST(NULL AS VARCHAR) AS CapacityReservationId,
  CAST(NULL AS VARCHAR) AS CapacityReservationStatus,
  category AS ChargeCategory,
  CASE WHEN correction THEN 'Correction' END AS ChargeClass,
  CASE WHEN unused_row THEN 'Unused committed use discount: ' || sku_description ELSE sku_description END AS ChargeDescription,
  CASE WHEN unused_row THEN 'Usage-Based' WHEN is_fee THEN 'Recurring' WHEN category IN ('Credit', 'Adjustment') THEN 'One-Time' ELSE 'Usage-Based' END AS ChargeFrequency,
  CASE WHEN usage_end_time > usage_start_time THEN usage_end_time ELSE usage_start_time + INTERVAL 1 HOUR END AS ChargePeriodEnd,
  usage_start_time AS ChargePeriodStart,
  cd_category AS CommitmentDiscountCategory,
  cd_id AS CommitmentDiscountId,
  CASE WHEN cd_id IS NOT NULL THEN coalesce(cud.full_name, cud.name, sku_description) END AS CommitmentDiscountName,
  cd_quantity AS CommitmentDiscountQuantity,
  CASE WHEN unused_row THEN 'Unused' WHEN cd_id IS NOT NULL AND category = 'Usage' THEN 'Used' END AS CommitmentDiscountStatus,
  CASE WHEN cd_id IS NOT NULL THEN 'Committed Use Discount' END AS CommitmentDiscountType,
  cd_unit AS CommitmentDiscountUnit,
  CASE WHEN category = 'Usage' AND has_price AND NOT unused_row THEN coalesce(usage_amount, 0) END AS ConsumedQuantity,
  CASE WHEN category = 'Usage' AND has_price AND NOT unused_row THEN coalesce(coalesce(focus_usage_unit, usage_unit), 'Units') END AS ConsumedUnit,
  CAST(NULL AS JSON) AS ContractApplied,
  contracted_cost AS ContractedCost,
  contracted_price AS ContractedUnitPrice,
  effective_cost AS EffectiveCost,
  CASE WHEN coalesce(transaction_type, 'GOOGLE') = 'GOOGLE' THEN 'Google Cloud' ELSE coalesce(seller_name, 'Google Cloud') END AS HostProviderName,
  CAST(NULL AS VARCHAR) AS InvoiceId,
  'Google' AS InvoiceIssuerName,
  list_cost AS ListCost,
  list_price AS ListUnitPrice,
  CASE WHEN NOT has_price THEN NULL
       WHEN category = 'Usage' AND cd_id IS NOT NULL THEN 'Committed'
       WHEN category = 'Usage' AND (sku_description ILIKE '%preemptible%' OR sku_description ILIKE '%spot%') THEN 'Dynamic'
       ELSE 'Standard' END AS PricingCategory,
  CASE WHEN pricing_fx IS NULL THEN currency ELSE 'USD' END AS PricingCurrency,
  CASE WHEN pricing_fx IS NULL THEN contracted_price ELSE contracted_price * pricing_fx END AS PricingCurrencyContractedUnitPrice,
  CASE WHEN pricing_fx IS NULL THEN list_price ELSE list_price * pricing_fx END AS PricingCurrencyListUnitPrice,
  CASE WHEN pricing_fx IS NULL THEN effective_cost ELSE CAST(effective_cost * pricing_fx AS DECIMAL(38, 9)) END AS PricingCurrencyEffectiveCost,
  pq AS PricingQuantity,
  CASE WHEN has_price THEN coalesce(coalesce(focus_pricing_unit, usage_pricing_unit), 'Units') END AS PricingUnit,
  'Google Cloud' AS ProviderName,
  CASE WHEN coalesce(transaction_type, 'GOOGLE') = 'GOOGLE' THEN 'Google Cloud' ELSE coalesce(seller_name, 'Google Cloud') END AS PublisherName,
  gcp_region AS RegionId,
  CASE WHEN gcp_region IS NOT NULL THEN coalesce(g.region_name, gcp_region) END AS RegionName,
  resource_id AS ResourceId,
  CASE WHEN resource_id IS NOT NULL THEN coalesce(CASE WHEN NOT unused_row THEN resource_name END, split_part(resource_id, '/', -1)) END AS ResourceName,
  -- //compute.googleapis.com/projects/p/zones/z/instances/vm-1 -> instances
  CASE WHEN resource_id IS NOT NULL THEN coalesce(
    CASE WHEN unused_row THEN 'commitment' END,
    nullif(list_extract(string_split(resource_id, '/'), -2), ''),
    lower(replace(service_description, ' ', '_'))) END AS ResourceType,
  coalesce(s.service_category, 'Other') AS ServiceCategory,
  service_description AS ServiceName,
  'Google Cloud' AS ServiceProviderName,
  coalesce(s.service_subcategory, 'Other (Other)') AS ServiceSubcategory,
  CASE WHEN has_price THEN coalesce(sku_id, service_id || ':' || coalesce(sku_description, '')) END AS SkuId,
  CASE WHEN has_price THEN sku_description END AS SkuMeter,
  CAST(NULL AS JSON) AS SkuPriceDetails,
  CASE WHEN has_price THEN coalesce(sku_id, service_id || ':' || coalesce(sku_description, '')) || ':' || coalesce(CAST(price_tier_start_amount AS VARCHAR), '0') END AS SkuPriceId,
  project_id AS SubAccountId,
  CASE WHEN project_id IS NOT NULL THEN coalesce(project_name, project_id) END AS SubAccountName,
  CASE WHEN project_id IS NOT NULL THEN 'Project' END AS SubAccountType,
  CAST(tag_object AS JSON) AS Tags,
  'gcp' AS x_SourceSystem,
  md5(concat_ws('|', billing_account_id, service_id, sku_id, CAST(usage_start_time AS VARCHAR), project_id, resource_global_name, ct, CAST(export_time AS VARCHAR), CAST(cost AS VARCHAR)))
    || CASE WHEN unused_row THEN ':unused' ELSE '' END AS x_SourceRecordId,
  'provider_reported' AS x_CostSource,
  CAST(NULL AS VARCHAR) AS x_TokenType,
  s.service_category IS NULL AS x_UnmappedService
FROM r
LEFT JOIN (SELECT * FROM {org_dataset}.cloud_service_categories WHERE provider = 'gcp' AND match = 'service_name') s ON s.key = lower(r.service_description)
LEFT JOIN (SELECT * FROM {org_dataset}.cloud_regions WHERE provider = 'gcp') g ON g.key = lower(r.gcp_region)

UNION ALL BY NAME

-- The native FOCUS export's rows (native_export_rows above) as FOCUS 1.3 rows (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_native_rows('native_export_rows', 'gcp', 'Google Cloud', 'Google', 'Billing Account', 'Project', INTERVAL 1 HOUR)
WHERE ChargePeriodStart >= CAST($start_date AS TIMESTAMPTZ) AND ChargePeriodStart < CAST($end_date AS TIMESTAMPTZ) + INTERVAL 1 DAY
)
-- No text column is an empty string (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_clean_rows('converted')
