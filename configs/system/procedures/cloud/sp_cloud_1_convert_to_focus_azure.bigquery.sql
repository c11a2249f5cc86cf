-- sp_cloud_1_convert_to_focus_azure, BigQuery form of the .duckdb.sql beside it: Azure cost
-- details exports (amortized and actual; EA and MCA) or an Azure FOCUS export, staged by
-- cloud.billing_export, to FOCUS 1.3 rows of the run's charge days. Mapping and its reasons: docs/cloud-billing.md (Azure).
--
-- Reads (dataset of the org, suffix the run's credential; staged as tables or views with the
-- contract's columns, NUMERIC as BIGNUMERIC and JSON as its text):
--   azure_cost_details__*        columns of configs/schemas/cloud/azure_cost_details.json;
--                                x_source_dataset says amortized or actual
--   azure_cost_details_focus__*  columns of configs/schemas/cloud/focus_export.json
--   azure_cost_details_load__*   the run that staged them
--   cloud_service_categories, cloud_regions, cloud_azure_pricing_units, cloud_azure_resource_types
-- Functions: sp_cloud_0_macros_azure and _focus. Parameters: @run_id, @start_date, @end_date.
-- Dialect: as in the AWS form (WITH for the temporary view, FOCUS types cast); months are added
-- to dates (BigQuery adds no months to a TIMESTAMP); the ARM type's list lambda is an UNNEST.

-- The staged views are this run's; a concurrent run of the same pipeline and credential re-staged them otherwise.
SELECT ERROR(CONCAT('the staged Azure export was replaced by run ', x_load_run_id, ' while this run was converting, run this one again'))
  FROM `{org_dataset}.azure_cost_details_load__{credential_id}`
 WHERE x_load_run_id <> @run_id;

-- A native Azure FOCUS export, with the repairs of the FinOps hubs transform: ids lowercased
-- (case differs between datasets), savings plan purchases at EffectiveCost 0 (toolkit #1092),
-- zero ContractedCost / ListCost on reservation and Marketplace rows replaced (#873, #874),
-- "Unassigned" and "-2" ids read as null. Its rows are daily: a charge period without an end lasts a day.
-- focus_native_rows (sp_cloud_0_macros_focus) turns it into FOCUS 1.3 rows in `converted`,
-- which also selects the run's days.
WITH
native_export_rows AS (
SELECT * REPLACE (
    LOWER(BillingAccountId) AS BillingAccountId, COALESCE(BillingAccountName, BillingAccountId) AS BillingAccountName,
    CASE WHEN ChargeClass = 'Correction' OR ChargeSubcategory = 'Refund' THEN 'Correction' END AS ChargeClass,
    LOWER(NULLIF(NULLIF(CommitmentDiscountId, 'Unassigned'), '-2')) AS CommitmentDiscountId,
    COALESCE(CommitmentDiscountStatus, CASE ChargeSubcategory WHEN 'Used Commitment' THEN 'Used' WHEN 'Unused Commitment' THEN 'Unused' END) AS CommitmentDiscountStatus,
    CASE WHEN COALESCE(ContractedCost, 0) = 0 AND COALESCE(EffectiveCost, 0) <> 0 THEN EffectiveCost ELSE COALESCE(ContractedCost, BilledCost) END AS ContractedCost,
    CASE WHEN ChargeCategory = 'Purchase' AND CommitmentDiscountId IS NOT NULL THEN 0 ELSE EffectiveCost END AS EffectiveCost,
    CASE WHEN COALESCE(ListCost, 0) = 0 THEN COALESCE(CASE WHEN COALESCE(ContractedCost, 0) = 0 THEN EffectiveCost ELSE ContractedCost END, BilledCost) ELSE ListCost END AS ListCost,
    -- A zero list price is no price: the list cost over the quantity (focus_unit_price keeps it).
    CAST(CASE WHEN PricingQuantity IS NOT NULL AND ListUnitPrice IS NOT NULL
         THEN {org_dataset}.focus_unit_price(CASE WHEN COALESCE(ListCost, 0) = 0 THEN COALESCE(CASE WHEN COALESCE(ContractedCost, 0) = 0 THEN EffectiveCost ELSE ContractedCost END, BilledCost) ELSE ListCost END,
                                             PricingQuantity, CASE WHEN COALESCE(ListUnitPrice, 0) = 0 THEN NULL ELSE CAST(ListUnitPrice AS FLOAT64) END) END AS BIGNUMERIC) AS ListUnitPrice,
    CASE PricingCategory WHEN 'On-Demand' THEN 'Standard' WHEN 'Commitment-Based' THEN 'Committed' ELSE NULLIF(PricingCategory, '') END AS PricingCategory,
    NULLIF(NULLIF(ResourceId, 'Unassigned'), '-2') AS ResourceId,
    NULLIF(ServiceCategory, '') AS ServiceCategory,
    NULLIF(NULLIF(SubAccountId, 'Unassigned'), '-2') AS SubAccountId
  ),
  CAST(NULL AS STRING) AS x_SourceRecordId
FROM `{org_dataset}.azure_cost_details_focus__{credential_id}` f
LEFT JOIN (SELECT key, service_category AS lookup_category, service_subcategory AS lookup_subcategory FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'azure' AND match = 'resource_type') s
  ON s.key = CONCAT('|', LOWER(f.x_ResourceType))
),
staged AS (
  SELECT *, EXISTS (SELECT 1 FROM `{org_dataset}.azure_cost_details__{credential_id}` WHERE x_source_dataset = 'amortized') AS has_amortized
  FROM `{org_dataset}.azure_cost_details__{credential_id}`
  WHERE date >= CAST(@start_date AS TIMESTAMP) AND date < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
),
li AS (
  SELECT
    s.*,
    COALESCE(charge_type, 'Usage') AS ct,
    CAST(cost_in_billing_currency AS NUMERIC) AS cost,
    -- MCA bills a billing profile of a billing account; EA files repeat the account as profile.
    billing_profile_id IS NOT NULL AND billing_profile_id <> COALESCE(billing_account_id, '') AS mca,
    COALESCE(u.block_size, 1) AS block_size,
    COALESCE(u.unit, s.unit_of_measure) AS distinct_unit,
    CASE WHEN pricing_model IN ('Reservation', 'SavingsPlan') OR charge_type IN ('UnusedReservation', 'UnusedSavingsPlan') THEN COALESCE(benefit_id, reservation_id) END AS cd_id,
    -- /subscriptions/s/resourceGroups/g/providers/Microsoft.Sql/servers/a/databases/b -> microsoft.sql/servers/databases
    CASE WHEN STRPOS(LOWER(resource_id), '/providers/') > 0 THEN
      (SELECT STRING_AGG(part, '/' ORDER BY position)
         FROM UNNEST(SPLIT({org_dataset}.split_part(LOWER(resource_id), '/providers/', -1), '/')) AS part WITH OFFSET AS position
        WHERE position = 0 OR MOD(position, 2) = 1) END AS arm_type
  FROM staged s
  LEFT JOIN `{org_dataset}.cloud_azure_pricing_units` u ON u.unit_of_measure = LOWER(trim(s.unit_of_measure))
  WHERE {org_dataset}.azure_selected(x_source_dataset, COALESCE(charge_type, 'Usage'), pricing_model, has_amortized)
),
classified AS (
  SELECT
    *,
    CASE WHEN ct IN ('Usage', 'UnusedReservation', 'UnusedSavingsPlan') THEN 'Usage'
         WHEN ct IN ('Purchase', 'Refund') THEN 'Purchase'
         WHEN ct = 'Tax' THEN 'Tax'
         WHEN ct = 'Credit' THEN 'Credit'
         ELSE 'Adjustment' END AS category,
    ct = 'Refund' AS correction,
    CASE WHEN cd_id IS NULL THEN NULL
         WHEN STRPOS(LOWER(cd_id), '/microsoft.billingbenefits/') > 0 OR pricing_model = 'SavingsPlan' OR ct = 'UnusedSavingsPlan' THEN 'Spend'
         ELSE 'Usage' END AS cd_category,
    quantity * block_size AS unit_quantity
  FROM li
),
costs AS (
  SELECT
    *,
    category IN ('Usage', 'Purchase') AND NOT correction AND cost >= 0 AS has_price,
    CASE WHEN {org_dataset}.azure_commitment_usage(ct, pricing_model) THEN CAST(0 AS NUMERIC) ELSE cost END AS billed_cost,
    CASE WHEN {org_dataset}.azure_commitment_purchase(ct, pricing_model) THEN CAST(0 AS NUMERIC) ELSE cost END AS effective_cost,
    CAST(COALESCE(unit_price * quantity, cost) AS NUMERIC) AS contracted_cost,
    CAST(COALESCE(payg_cost_in_billing_currency, pay_g_price * COALESCE(exchange_rate_pricing_to_billing, 1) * quantity, unit_price * quantity, cost) AS NUMERIC) AS list_cost
  FROM classified
),
r AS (
  SELECT
    c.*,
    CASE WHEN has_price THEN COALESCE(unit_quantity, CASE WHEN category = 'Purchase' THEN 1 ELSE 0 END) END AS pq,
    CASE WHEN has_price THEN {org_dataset}.focus_unit_price(list_cost, unit_quantity, pay_g_price * COALESCE(exchange_rate_pricing_to_billing, 1) / block_size) END AS list_price,
    CASE WHEN has_price THEN {org_dataset}.focus_unit_price(contracted_cost, unit_quantity, unit_price / block_size) END AS contracted_price,
    CASE WHEN has_price THEN COALESCE(product_id, part_number, meter_id, CONCAT(LOWER(COALESCE(consumed_service, 'azure')), ':', COALESCE(meter_name, product_name, ct))) END AS sku_id,
    COALESCE(s1.service_name, s2.service_name, meter_category, consumed_service, 'Azure') AS service_name,
    COALESCE(s1.service_category, s2.service_category) AS service_category,
    COALESCE(s1.service_subcategory, s2.service_subcategory) AS service_subcategory,
    COALESCE(g.region_id, LOWER(REPLACE(resource_location, ' ', ''))) AS region_id,
    g.region_name AS region_name,
    -- Pricing currency per billing currency (MCA's ExchangeRatePricingToBilling is billing per
    -- pricing). EA and one-currency MCA rows: the prices are the billing ones.
    CASE WHEN COALESCE(pricing_currency, billing_currency_code) <> billing_currency_code AND exchange_rate_pricing_to_billing > 0 THEN 1 / exchange_rate_pricing_to_billing END AS pricing_fx,
    CASE WHEN SAFE.PARSE_JSON(tags, wide_number_mode => 'round') IS NOT NULL AND STARTS_WITH(TRIM(tags), '{') THEN tags
         WHEN SAFE.PARSE_JSON(CONCAT('{', tags, '}'), wide_number_mode => 'round') IS NOT NULL THEN CONCAT('{', tags, '}') END AS tag_object
  FROM costs c
  LEFT JOIN (SELECT * FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'azure' AND match = 'resource_type') s1
    ON s1.key = CONCAT(LOWER(COALESCE(c.consumed_service, '')), '|', c.arm_type)
  LEFT JOIN (SELECT * FROM `{org_dataset}.cloud_service_categories` WHERE provider = 'azure' AND match = 'consumed_service') s2
    ON s2.key = LOWER(c.consumed_service)
  LEFT JOIN (SELECT * FROM `{org_dataset}.cloud_regions` WHERE provider = 'azure') g ON g.key = LOWER(c.resource_location)
),
converted AS (
SELECT
  CAST(NULL AS STRING) AS AllocatedMethodId,
  CAST(NULL AS JSON) AS AllocatedMethodDetails,
  CAST(NULL AS STRING) AS AllocatedResourceId,
  CAST(NULL AS STRING) AS AllocatedResourceName,
  CAST(NULL AS JSON) AS AllocatedTags,
  availability_zone AS AvailabilityZone,
  billed_cost AS BilledCost,
  CASE WHEN mca THEN billing_profile_id ELSE billing_account_id END AS BillingAccountId,
  CASE WHEN mca THEN COALESCE(billing_profile_name, billing_profile_id) ELSE COALESCE(billing_account_name, billing_account_id) END AS BillingAccountName,
  CASE WHEN mca THEN 'Billing Profile' ELSE 'Billing Account' END AS BillingAccountType,
  billing_currency_code AS BillingCurrency,
  -- The export's end date is the period's last day; FOCUS ends are exclusive.
  CASE WHEN billing_period_start_date IS NULL THEN TIMESTAMP(DATE_ADD(DATE_TRUNC(DATE(date), MONTH), INTERVAL 1 MONTH))
       WHEN EXTRACT(DAY FROM billing_period_end_date) = 1 AND billing_period_end_date > billing_period_start_date THEN billing_period_end_date
       ELSE TIMESTAMP_ADD(billing_period_end_date, INTERVAL 1 DAY) END AS BillingPeriodEnd,
  COALESCE(billing_period_start_date, TIMESTAMP_TRUNC(date, MONTH)) AS BillingPeriodStart,
  CAST(NULL AS STRING) AS CapacityReservationId,
  CAST(NULL AS STRING) AS CapacityReservationStatus,
  category AS ChargeCategory,
  CASE WHEN correction THEN 'Correction' END AS ChargeClass,
  COALESCE(product_name, meter_name) AS ChargeDescription,
  CASE WHEN frequency = 'Recurring' THEN 'Recurring'
       WHEN frequency = 'UsageBased' AND category <> 'Purchase' THEN 'Usage-Based'
       WHEN frequency = 'OneTime' THEN 'One-Time'
       WHEN category = 'Usage' THEN 'Usage-Based'
       ELSE 'One-Time' END AS ChargeFrequency,
  TIMESTAMP_ADD(date, INTERVAL 1 DAY) AS ChargePeriodEnd,
  date AS ChargePeriodStart,
  cd_category AS CommitmentDiscountCategory,
  cd_id AS CommitmentDiscountId,
  CASE WHEN cd_id IS NOT NULL THEN COALESCE(benefit_name, reservation_name, {org_dataset}.split_part(cd_id, '/', -1)) END AS CommitmentDiscountName,
  CAST(CASE WHEN cd_id IS NULL OR NOT has_price THEN NULL
            WHEN cd_category = 'Spend' THEN CAST(CASE WHEN category = 'Purchase' THEN billed_cost ELSE effective_cost END AS FLOAT64)
            ELSE pq END AS BIGNUMERIC) AS CommitmentDiscountQuantity,
  CASE WHEN cd_id IS NOT NULL AND category = 'Usage' THEN CASE WHEN ct IN ('UnusedReservation', 'UnusedSavingsPlan') THEN 'Unused' ELSE 'Used' END END AS CommitmentDiscountStatus,
  CASE WHEN cd_id IS NOT NULL THEN CASE cd_category WHEN 'Spend' THEN 'Savings Plan' ELSE 'Reservation' END END AS CommitmentDiscountType,
  CASE WHEN cd_id IS NULL OR NOT has_price THEN NULL WHEN cd_category = 'Spend' THEN billing_currency_code ELSE COALESCE(distinct_unit, 'Units') END AS CommitmentDiscountUnit,
  CASE WHEN category = 'Usage' AND has_price AND ct NOT IN ('UnusedReservation', 'UnusedSavingsPlan') THEN CAST(pq AS BIGNUMERIC) END AS ConsumedQuantity,
  CASE WHEN category = 'Usage' AND has_price AND ct NOT IN ('UnusedReservation', 'UnusedSavingsPlan') THEN COALESCE(distinct_unit, 'Units') END AS ConsumedUnit,
  CAST(NULL AS JSON) AS ContractApplied,
  CASE WHEN has_price THEN contracted_cost ELSE cost END AS ContractedCost,
  CAST(contracted_price AS BIGNUMERIC) AS ContractedUnitPrice,
  effective_cost AS EffectiveCost,
  'Microsoft' AS HostProviderName,
  invoice_id AS InvoiceId,
  COALESCE(partner_name, reseller_name, 'Microsoft') AS InvoiceIssuerName,
  CASE WHEN has_price THEN list_cost ELSE cost END AS ListCost,
  CAST(list_price AS BIGNUMERIC) AS ListUnitPrice,
  CASE WHEN NOT has_price THEN NULL
       WHEN category = 'Purchase' THEN 'Standard'
       WHEN pricing_model IN ('Reservation', 'SavingsPlan') OR ct IN ('UnusedReservation', 'UnusedSavingsPlan') THEN 'Committed'
       WHEN pricing_model = 'Spot' THEN 'Dynamic'
       ELSE 'Standard' END AS PricingCategory,
  CASE WHEN pricing_fx IS NULL THEN billing_currency_code ELSE pricing_currency END AS PricingCurrency,
  CAST(CASE WHEN pricing_fx IS NULL THEN contracted_price ELSE contracted_price * pricing_fx END AS BIGNUMERIC) AS PricingCurrencyContractedUnitPrice,
  CAST(CASE WHEN pricing_fx IS NULL THEN list_price ELSE list_price * pricing_fx END AS BIGNUMERIC) AS PricingCurrencyListUnitPrice,
  CASE WHEN pricing_fx IS NULL THEN effective_cost ELSE CAST(effective_cost * pricing_fx AS NUMERIC) END AS PricingCurrencyEffectiveCost,
  CAST(pq AS BIGNUMERIC) AS PricingQuantity,
  CASE WHEN has_price THEN COALESCE(distinct_unit, 'Units') END AS PricingUnit,
  'Microsoft' AS ProviderName,
  COALESCE(publisher_name, 'Microsoft') AS PublisherName,
  region_id AS RegionId,
  CASE WHEN region_id IS NOT NULL THEN COALESCE(region_name, resource_location, region_id) END AS RegionName,
  resource_id AS ResourceId,
  CASE WHEN resource_id IS NOT NULL THEN COALESCE(resource_name, {org_dataset}.split_part(resource_id, '/', -1)) END AS ResourceName,
  CASE WHEN resource_id IS NOT NULL THEN COALESCE(t.display_name, arm_type, 'Resource') END AS ResourceType,
  COALESCE(service_category, 'Other') AS ServiceCategory,
  service_name AS ServiceName,
  'Microsoft' AS ServiceProviderName,
  COALESCE(service_subcategory, 'Other (Other)') AS ServiceSubcategory,
  sku_id AS SkuId,
  CASE WHEN has_price THEN meter_name END AS SkuMeter,
  CAST(NULL AS JSON) AS SkuPriceDetails,
  CASE WHEN has_price THEN CONCAT(sku_id, ':', COALESCE(meter_id, ''), ':', COALESCE(term, pricing_model, '')) END AS SkuPriceId,
  subscription_id AS SubAccountId,
  CASE WHEN subscription_id IS NOT NULL THEN COALESCE(subscription_name, subscription_id) END AS SubAccountName,
  CASE WHEN subscription_id IS NOT NULL THEN 'Subscription' END AS SubAccountType,
  PARSE_JSON(tag_object, wide_number_mode => 'round') AS Tags,
  'azure' AS x_SourceSystem,
  -- DuckDB's concat_ws skips nulls, as ARRAY_TO_STRING does; the values as DuckDB writes them (float_text, ...).
  TO_HEX(MD5(ARRAY_TO_STRING([x_source_dataset, billing_account_id, subscription_id, {org_dataset}.timestamp_text(date), meter_id, resource_id, ct, pricing_model, cd_id,
                              {org_dataset}.float_text(quantity), {org_dataset}.decimal_text(cost, 9), additional_info], '|'))) AS x_SourceRecordId,
  'provider_reported' AS x_CostSource,
  CAST(NULL AS STRING) AS x_TokenType,
  service_category IS NULL AS x_UnmappedService
FROM r
LEFT JOIN `{org_dataset}.cloud_azure_resource_types` t ON t.resource_type = r.arm_type

UNION ALL CORRESPONDING

-- The native FOCUS export's rows (native_export_rows above) as FOCUS 1.3 rows (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_native_rows(TABLE native_export_rows, 'azure', 'Microsoft', 'Microsoft', 'Billing Account', 'Subscription', 24)
WHERE ChargePeriodStart >= CAST(@start_date AS TIMESTAMP) AND ChargePeriodStart < TIMESTAMP_ADD(CAST(@end_date AS TIMESTAMP), INTERVAL 1 DAY)
)
-- No text column is an empty string (sp_cloud_0_macros_focus).
SELECT * FROM {org_dataset}.focus_clean_rows(TABLE converted)
