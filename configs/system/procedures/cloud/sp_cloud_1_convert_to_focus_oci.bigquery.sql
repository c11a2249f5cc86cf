-- sp_cloud_1_convert_to_focus_oci, BigQuery form of the .duckdb.sql beside it: an OCI cost report
-- (or the deprecated usage report) or an OCI FOCUS report, staged by cloud.billing_export, to FOCUS 1.3 rows of the run's charge days.
-- Mapping and its reasons: docs/cloud-billing.md (OCI).
--
-- Reads (dataset of the org, suffix the run's credential; staged as tables or views with the
-- contract's columns, NUMERIC as BIGNUMERIC and JSON as its text):
--   oci_cost_report__*        columns of configs/schemas/cloud/oci_cost_report.json; x_load_shape
--                             is cost_report or usage_report
--   oci_cost_report_focus__*  columns of configs/schemas/cloud/focus_export.json
--   oci_cost_report_load__*   the run that staged them
--   cloud_service_categories
-- Functions: sp_cloud_0_macros_oci and _focus. Parameters: @run_id, @start_date, @end_date, @currency (for rows that carry none).
-- Dialect: as in the AWS form (WITH for the temporary view, FOCUS types cast); months are added
-- to dates (BigQuery adds no months to a TIMESTAMP).

-- The staged views are this run's; a concurrent run of the same pipeline and credential re-staged them otherwise.
SELECT ERROR(CONCAT('the staged OCI report was replaced by run ', x_load_run_id, ' while this run was converting, run this one again'))
  FROM `{org_dataset}.oci_cost_report_load__{credential_id}`
 WHERE x_load_run_id <> @run_id;

-- A native OCI FOCUS report, with 1.0-preview names read as their successors and the values
-- FOCUS spells differently (`Usage-based`, an empty PricingCategory); its reference number
-- identifies the row.
-- focus_native_rows (sp_cloud_0_macros_focus) turns it into FOCUS 1.3 rows in `converted`,
-- which also selects the run's days.
WITH
native_export_rows AS (
SELECT * REPLACE (
    CASE WHEN ChargeClass = 'Correction' OR ChargeSubcategory = 'Refund' THEN 'Correction' END AS ChargeClass,
    CASE LOWER(ChargeFrequency) WHEN 'usage-based' THEN 'Usage-Based' WHEN 'one-time' THEN 'One-Time' WHEN 'recurring' THEN 'Recurring' END AS ChargeFrequency,
    COALESCE(CommitmentDiscountStatus, CASE ChargeSubcategory WHEN 'Used Commitment' THEN 'Used' WHEN 'Unused Commitment' THEN 'Unused' END) AS CommitmentDiscountStatus,
    CASE PricingCategory WHEN 'On-Demand' THEN 'Standard' WHEN 'Commitment-Based' THEN 'Committed' ELSE NULLIF(PricingCategory, '') END AS PricingCategory,
    COALESCE(RegionId, RegionName) AS RegionId
  ),
  oci_ReferenceNumber AS x_SourceRecordId
FROM `{org_dataset}.oci_cost_report_focus__{credential_id}` f
LEFT JOIN (SELECT key, service_category AS lookup_category, service_subcategory AS lookup_subcategory FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'oci' AND match = 'service_code') s
  ON s.key = LOWER(f.ServiceName)
),
li AS (
  SELECT
    *,
    {org_dataset}.oci_billed(x_load_shape, cost_my_cost) AS billed,
    x_load_shape = 'usage_report' AS usage_report,
    CASE WHEN x_load_shape = 'usage_report' THEN usage_consumed_quantity ELSE usage_billed_quantity END AS quantity,
    -- A row without a currency (rows priced 0 in the sample) takes its subscription's.
    COALESCE(cost_currency_code, MAX(cost_currency_code) OVER (PARTITION BY cost_subscription_id), @currency) AS currency,
    COALESCE(line_item_is_correction, false) AS correction,
    CASE WHEN x_load_shape = 'usage_report' THEN product_resource ELSE COALESCE(cost_product_sku, product_resource) END AS sku
  FROM `{org_dataset}.oci_cost_report__{credential_id}`
  -- The unit in FOCUS UnitFormat (configs/cloud/opendata/units.csv); an unmapped one is kept as written.
  LEFT JOIN (SELECT unit AS oci_unit_key, focus_unit FROM `{org_dataset}.cloud_units` WHERE provider = 'oci') un
    ON un.oci_unit_key = LOWER(CASE WHEN x_load_shape = 'usage_report' THEN usage_consumed_quantity_units ELSE cost_sku_unit_description END)
  WHERE line_item_interval_usage_start >= CAST(@start_date AS TIMESTAMP) AND line_item_interval_usage_start < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
),
r AS (
  SELECT
    *,
    NOT correction AND billed >= 0 AS has_price,
    COALESCE(focus_unit, CASE WHEN usage_report THEN usage_consumed_quantity_units ELSE cost_sku_unit_description END) AS unit,
    {org_dataset}.focus_unit_price(billed, quantity, CASE WHEN usage_report THEN 0 ELSE cost_unit_price END) AS price
  FROM li
),
converted AS (
SELECT
  CAST(NULL AS STRING) AS AllocatedMethodId,
  CAST(NULL AS JSON) AS AllocatedMethodDetails,
  CAST(NULL AS STRING) AS AllocatedResourceId,
  CAST(NULL AS STRING) AS AllocatedResourceName,
  CAST(NULL AS JSON) AS AllocatedTags,
  product_availability_domain AS AvailabilityZone,
  billed AS BilledCost,
  COALESCE(cost_subscription_id, line_item_tenant_id) AS BillingAccountId,
  COALESCE(cost_subscription_id, line_item_tenant_id) AS BillingAccountName,
  CASE WHEN cost_subscription_id IS NOT NULL THEN 'Subscription' ELSE 'Tenancy' END AS BillingAccountType,
  currency AS BillingCurrency,
  TIMESTAMP(DATE_ADD(DATE_TRUNC(DATE(line_item_interval_usage_start), MONTH), INTERVAL 1 MONTH)) AS BillingPeriodEnd,
  TIMESTAMP_TRUNC(line_item_interval_usage_start, MONTH) AS BillingPeriodStart,
  CAST(NULL AS STRING) AS CapacityReservationId,
  CAST(NULL AS STRING) AS CapacityReservationStatus,
  'Usage' AS ChargeCategory,
  CASE WHEN correction THEN 'Correction' END AS ChargeClass,
  COALESCE(product_description, product_resource) AS ChargeDescription,
  'Usage-Based' AS ChargeFrequency,
  CASE WHEN line_item_interval_usage_end > line_item_interval_usage_start THEN line_item_interval_usage_end ELSE TIMESTAMP_ADD(line_item_interval_usage_start, INTERVAL 1 HOUR) END AS ChargePeriodEnd,
  line_item_interval_usage_start AS ChargePeriodStart,
  CAST(NULL AS STRING) AS CommitmentDiscountCategory,
  CAST(NULL AS STRING) AS CommitmentDiscountId,
  CAST(NULL AS STRING) AS CommitmentDiscountName,
  CAST(NULL AS BIGNUMERIC) AS CommitmentDiscountQuantity,
  CAST(NULL AS STRING) AS CommitmentDiscountStatus,
  CAST(NULL AS STRING) AS CommitmentDiscountType,
  CAST(NULL AS STRING) AS CommitmentDiscountUnit,
  CASE WHEN has_price THEN CAST(COALESCE(quantity, 0) AS BIGNUMERIC) END AS ConsumedQuantity,
  CASE WHEN has_price THEN COALESCE(unit, 'Units') END AS ConsumedUnit,
  CAST(NULL AS JSON) AS ContractApplied,
  billed AS ContractedCost,
  CASE WHEN has_price THEN CAST(price AS BIGNUMERIC) END AS ContractedUnitPrice,
  billed AS EffectiveCost,
  'Oracle' AS HostProviderName,
  CAST(NULL AS STRING) AS InvoiceId,
  'Oracle' AS InvoiceIssuerName,
  -- The cost report has no list prices; the customer's unit price stands in (equal for pay as you go).
  billed AS ListCost,
  CASE WHEN has_price THEN CAST(price AS BIGNUMERIC) END AS ListUnitPrice,
  CASE WHEN has_price THEN 'Standard' END AS PricingCategory,
  -- OCI prices a subscription in its billing currency.
  currency AS PricingCurrency,
  CASE WHEN has_price THEN CAST(price AS BIGNUMERIC) END AS PricingCurrencyContractedUnitPrice,
  CASE WHEN has_price THEN CAST(price AS BIGNUMERIC) END AS PricingCurrencyListUnitPrice,
  billed AS PricingCurrencyEffectiveCost,
  CASE WHEN has_price THEN CAST(COALESCE(quantity, 0) AS BIGNUMERIC) END AS PricingQuantity,
  CASE WHEN has_price THEN COALESCE(unit, 'Units') END AS PricingUnit,
  'Oracle' AS ProviderName,
  'Oracle' AS PublisherName,
  product_region AS RegionId,
  product_region AS RegionName,
  product_resource_id AS ResourceId,
  product_resource_id AS ResourceName,
  -- ocid1.<type>.oc1... -> type
  CASE WHEN product_resource_id IS NOT NULL THEN COALESCE(
    CASE WHEN STARTS_WITH(product_resource_id, 'ocid1.') THEN NULLIF({org_dataset}.split_part(product_resource_id, '.', 2), '') END,
    LOWER(product_service)) END AS ResourceType,
  COALESCE(s.service_category, 'Other') AS ServiceCategory,
  product_service AS ServiceName,
  'Oracle' AS ServiceProviderName,
  COALESCE(s.service_subcategory, 'Other (Other)') AS ServiceSubcategory,
  CASE WHEN has_price THEN COALESCE(sku, product_service) END AS SkuId,
  CASE WHEN has_price THEN COALESCE(product_description, product_resource) END AS SkuMeter,
  CAST(NULL AS JSON) AS SkuPriceDetails,
  CASE WHEN has_price THEN CONCAT(COALESCE(sku, product_service), ':', COALESCE({org_dataset}.float_text(cost_unit_price), '')) END AS SkuPriceId,
  line_item_tenant_id AS SubAccountId,
  line_item_tenant_id AS SubAccountName,
  'Tenancy' AS SubAccountType,
  PARSE_JSON(oci_tags, wide_number_mode => 'round') AS Tags,
  'oci' AS x_SourceSystem,
  -- DuckDB's concat_ws skips nulls, as ARRAY_TO_STRING does; the start as DuckDB writes it (timestamp_text).
  COALESCE(line_item_reference_no, TO_HEX(MD5(ARRAY_TO_STRING([line_item_tenant_id, product_resource_id, sku, {org_dataset}.timestamp_text(line_item_interval_usage_start)], '|')))) AS x_SourceRecordId,
  'provider_reported' AS x_CostSource,
  CAST(NULL AS STRING) AS x_TokenType,
  s.service_category IS NULL AS x_UnmappedService
FROM r
LEFT JOIN (SELECT * FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'oci' AND match = 'service_code') s ON s.key = LOWER(r.product_service)

UNION ALL CORRESPONDING

-- The native FOCUS export's rows (native_export_rows above) as FOCUS 1.3 rows (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_native_rows(TABLE native_export_rows, 'oci', 'Oracle', 'Oracle', 'Subscription', 'Tenancy', 1)
WHERE ChargePeriodStart >= CAST(@start_date AS TIMESTAMP) AND ChargePeriodStart < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
)
-- No text column is an empty string (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_clean_rows(TABLE converted)
