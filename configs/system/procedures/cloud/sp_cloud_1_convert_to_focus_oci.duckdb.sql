-- sp_cloud_1_convert_to_focus_oci: an OCI cost report (or the deprecated usage report) or an OCI
-- FOCUS report, staged by cloud.billing_export, to FOCUS 1.3 rows of the run's charge days.
-- Mapping and its reasons: docs/cloud-billing.md (OCI).
--
-- Reads (dataset of the org, suffix the run's credential):
--   oci_cost_report__*        columns of configs/schemas/cloud/oci_cost_report.json; x_load_shape
--                             is cost_report or usage_report
--   oci_cost_report_focus__*  columns of configs/schemas/cloud/focus_export.json
--   oci_cost_report_load__*   the run that staged them
--   cloud_service_categories
-- Macros: sp_cloud_0_macros_oci. Parameters: $run_id, $start_date, $end_date, $currency (for rows that carry none).

-- The staged views are this run's; a concurrent run of the same pipeline and credential re-staged them otherwise.
SELECT error('the staged OCI report was replaced by run ' || x_load_run_id || ' while this run was converting, run this one again')
  FROM {org_dataset}."oci_cost_report_load__{credential_id}"
 WHERE x_load_run_id <> $run_id;

-- The FOCUS rows have no order: letting DuckDB write them in any order halves the cost of the
-- insert (measured: 3M converted CUR rows, 18.5 s -> 9.4 s on 2 cores with a 1 GB memory limit).
-- Session scope: the setting ends with this write's connection.
SET SESSION preserve_insertion_order = false;

-- A native OCI FOCUS report, with 1.0-preview names read as their successors and the values
-- FOCUS spells differently (`Usage-based`, an empty PricingCategory); its reference number
-- identifies the row.
-- focus_native_rows (sp_cloud_0_macros_focus) turns it into FOCUS 1.3 rows in the final SELECT,
-- which also selects the run's days (a view takes no parameters).
CREATE OR REPLACE TEMP VIEW native_export_rows AS
SELECT * REPLACE (
    CASE WHEN ChargeClass = 'Correction' OR ChargeSubcategory = 'Refund' THEN 'Correction' END AS ChargeClass,
    CASE lower(ChargeFrequency) WHEN 'usage-based' THEN 'Usage-Based' WHEN 'one-time' THEN 'One-Time' WHEN 'recurring' THEN 'Recurring' END AS ChargeFrequency,
    coalesce(CommitmentDiscountStatus, CASE ChargeSubcategory WHEN 'Used Commitment' THEN 'Used' WHEN 'Unused Commitment' THEN 'Unused' END) AS CommitmentDiscountStatus,
    CASE PricingCategory WHEN 'On-Demand' THEN 'Standard' WHEN 'Commitment-Based' THEN 'Committed' ELSE nullif(PricingCategory, '') END AS PricingCategory,
    coalesce(RegionId, RegionName) AS RegionId
  ),
  oci_ReferenceNumber AS x_SourceRecordId
FROM {org_dataset}."oci_cost_report_focus__{credential_id}" f
LEFT JOIN (SELECT key, service_category AS lookup_category, service_subcategory AS lookup_subcategory FROM {org_dataset}.cloud_service_categories WHERE provider = 'oci' AND match = 'service_code') s
  ON s.key = lower(f.ServiceName);

WITH
li AS (
  SELECT
    *,
    {org_dataset}.oci_billed(x_load_shape, cost_my_cost) AS billed,
    x_load_shape = 'usage_report' AS usage_report,
    CASE WHEN x_load_shape = 'usage_report' THEN usage_consumed_quantity ELSE usage_billed_quantity END AS quantity,
    -- A row without a currency (rows priced 0 in the sample) takes its subscription's.
    coalesce(cost_currency_code, max(cost_currency_code) OVER (PARTITION BY cost_subscription_id), $currency) AS currency,
    coalesce(line_item_is_correction, false) AS correction,
    CASE WHEN x_load_shape = 'usage_report' THEN product_resource ELSE coalesce(cost_product_sku, product_resource) END AS sku
  FROM {org_dataset}."oci_cost_report__{credential_id}"
  -- The unit in FOCUS UnitFormat (configs/cloud/opendata/units.csv); an unmapped one is kept as written.
  LEFT JOIN (SELECT unit AS oci_unit_key, focus_unit FROM {org_dataset}.cloud_units WHERE provider = 'oci') un
    ON un.oci_unit_key = lower(CASE WHEN x_load_shape = 'usage_report' THEN usage_consumed_quantity_units ELSE cost_sku_unit_description END)
  WHERE line_item_interval_usage_start >= CAST($start_date AS TIMESTAMPTZ) AND line_item_interval_usage_start < CAST($end_date AS TIMESTAMPTZ) + INTERVAL 1 DAY
),
r AS (
  SELECT
    *,
    NOT correction AND billed >= 0 AS has_price,
    coalesce(focus_unit, CASE WHEN usage_report THEN usage_consumed_quantity_units ELSE cost_sku_unit_description END) AS unit,
    {org_dataset}.focus_unit_price(billed, quantity, CASE WHEN usage_report THEN 0 ELSE cost_unit_price END) AS price
  FROM li
),
converted AS (
SELECT
  CAST(NULL AS VARCHAR) AS AllocatedMethodId,
  CAST(NULL AS JSON) AS AllocatedMethodDetails,
  CAST(NULL AS VARCHAR) AS AllocatedResourceId,
  CAST(NULL AS VARCHAR) AS AllocatedResourceName,
  CAST(NULL AS JSON) AS AllocatedTags,
  product_availability_domain AS AvailabilityZone,
  billed AS BilledCost,
  coalesce(cost_subscription_id, line_item_tenant_id) AS BillingAccountId,
  coalesce(cost_subscription_id, line_item_tenant_id) AS BillingAccountName,
  CASE WHEN cost_subscription_id IS NOT NULL THEN 'Subscription' ELSE 'Tenancy' END AS BillingAccountType,
  currency AS BillingCurrency,
  date_trunc('month', line_item_interval_usage_start) + INTERVAL 1 MONTH AS BillingPeriodEnd,
  date_trunc('month', line_item_interval_usage_start) AS BillingPeriodStart,
  CAST(NULL AS VARCHAR) AS CapacityReservationId,
  CAST(NULL AS VARCHAR) AS CapacityReservationStatus,
  'Usage' AS ChargeCategory,
  CASE WHEN correction THEN 'Correction' END AS ChargeClass,
  coalesce(product_description, product_resource) AS ChargeDescription,
  'Usage-Based' AS ChargeFrequency,
  CASE WHEN line_item_interval_usage_end > line_item_interval_usage_start THEN line_item_interval_usage_end ELSE line_item_interval_usage_start + INTERVAL 1 HOUR END AS ChargePeriodEnd,
  line_item_interval_usage_start AS ChargePeriodStart,
  CAST(NULL AS VARCHAR) AS CommitmentDiscountCategory,
  CAST(NULL AS VARCHAR) AS CommitmentDiscountId,
  CAST(NULL AS VARCHAR) AS CommitmentDiscountName,
  CAST(NULL AS DOUBLE) AS CommitmentDiscountQuantity,
  CAST(NULL AS VARCHAR) AS CommitmentDiscountStatus,
  CAST(NULL AS VARCHAR) AS CommitmentDiscountType,
  CAST(NULL AS VARCHAR) AS CommitmentDiscountUnit,
  CASE WHEN has_price THEN coalesce(quantity, 0) END AS ConsumedQuantity,
  CASE WHEN has_price THEN coalesce(unit, 'Units') END AS ConsumedUnit,
  CAST(NULL AS JSON) AS ContractApplied,
  billed AS ContractedCost,
  CASE WHEN has_price THEN price END AS ContractedUnitPrice,
  billed AS EffectiveCost,
  'Oracle' AS HostProviderName,
  CAST(NULL AS VARCHAR) AS InvoiceId,
  'Oracle' AS InvoiceIssuerName,
  -- The cost report has no list prices; the customer's unit price stands in (equal for pay as you go).
  billed AS ListCost,
  CASE WHEN has_price THEN price END AS ListUnitPrice,
  CASE WHEN has_price THEN 'Standard' END AS PricingCategory,
  -- OCI prices a subscription in its billing currency.
  currency AS PricingCurrency,
  CASE WHEN has_price THEN price END AS PricingCurrencyContractedUnitPrice,
  CASE WHEN has_price THEN price END AS PricingCurrencyListUnitPrice,
  billed AS PricingCurrencyEffectiveCost,
  CASE WHEN has_price THEN coalesce(quantity, 0) END AS PricingQuantity,
  CASE WHEN has_price THEN coalesce(unit, 'Units') END AS PricingUnit,
  'Oracle' AS ProviderName,
  'Oracle' AS PublisherName,
  product_region AS RegionId,
  product_region AS RegionName,
  product_resource_id AS ResourceId,
  product_resource_id AS ResourceName,
  -- ocid1.<type>.oc1... -> type
  CASE WHEN product_resource_id IS NOT NULL THEN coalesce(
    CASE WHEN starts_with(product_resource_id, 'ocid1.') THEN nullif(split_part(product_resource_id, '.', 2), '') END,
    lower(product_service)) END AS ResourceType,
  coalesce(s.service_category, 'Other') AS ServiceCategory,
  product_service AS ServiceName,
  'Oracle' AS ServiceProviderName,
  coalesce(s.service_subcategory, 'Other (Other)') AS ServiceSubcategory,
  CASE WHEN has_price THEN coalesce(sku, product_service) END AS SkuId,
  CASE WHEN has_price THEN coalesce(product_description, product_resource) END AS SkuMeter,
  CAST(NULL AS JSON) AS SkuPriceDetails,
  CASE WHEN has_price THEN coalesce(sku, product_service) || ':' || coalesce(CAST(cost_unit_price AS VARCHAR), '') END AS SkuPriceId,
  line_item_tenant_id AS SubAccountId,
  line_item_tenant_id AS SubAccountName,
  'Tenancy' AS SubAccountType,
  CAST(oci_tags AS JSON) AS Tags,
  'oci' AS x_SourceSystem,
  coalesce(line_item_reference_no, md5(concat_ws('|', line_item_tenant_id, product_resource_id, sku, CAST(line_item_interval_usage_start AS VARCHAR)))) AS x_SourceRecordId,
  'provider_reported' AS x_CostSource,
  CAST(NULL AS VARCHAR) AS x_TokenType,
  s.service_category IS NULL AS x_UnmappedService
FROM r
LEFT JOIN (SELECT * FROM {org_dataset}.cloud_service_categories WHERE provider = 'oci' AND match = 'service_code') s ON s.key = lower(r.product_service)

UNION ALL BY NAME

-- The native FOCUS export's rows (native_export_rows above) as FOCUS 1.3 rows (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_native_rows('native_export_rows', 'oci', 'Oracle', 'Oracle', 'Subscription', 'Tenancy', INTERVAL 1 HOUR)
WHERE ChargePeriodStart >= CAST($start_date AS TIMESTAMPTZ) AND ChargePeriodStart < CAST($end_date AS TIMESTAMPTZ) + INTERVAL 1 DAY
)
-- No text column is an empty string (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_clean_rows('converted')
