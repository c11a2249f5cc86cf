-- Functions every cloud conversion shares, BigQuery form of sp_cloud_0_macros_focus.duckdb.sql:
-- persistent SQL UDFs and table functions of the org dataset, created by cloud.billing_export
-- before the provider's own (sp_cloud_0_macros_aws, _gcp, ...), under the names the DuckDB
-- macros have, so the conversions, their reconciliation and the load report call them alike.
-- DuckDB macros are untyped: the scalar ones are templated UDFs (ANY TYPE). A table macro reads
-- any relation by name (query_table); a table function takes a TABLE parameter of declared
-- columns instead (more may be passed; the function sees the declared ones).

-- DuckDB's split_part: 1-based, negative from the end, '' past the last part, null for a null input
-- (BigQuery's SPLIT(...)[SAFE_ORDINAL(n)] is null past the end).
CREATE OR REPLACE FUNCTION {org_dataset}.split_part(text ANY TYPE, delimiter ANY TYPE, part ANY TYPE) AS (
  CASE WHEN text IS NULL OR delimiter IS NULL OR part IS NULL THEN NULL
       WHEN part > 0 THEN COALESCE(SPLIT(text, delimiter)[SAFE_ORDINAL(part)], '')
       WHEN part < 0 THEN COALESCE(SPLIT(text, delimiter)[SAFE_ORDINAL(ARRAY_LENGTH(SPLIT(text, delimiter)) + 1 + part)], '')
       ELSE '' END
);

-- DuckDB's text of a value, for the keys a conversion builds from them (SkuPriceId, the hashed
-- x_SourceRecordId), so a row has the same key in both warehouses: a DOUBLE's integral values end
-- in .0, a DECIMAL shows its scale's decimals, a TIMESTAMPTZ (UTC) its fraction without trailing zeros.
CREATE OR REPLACE FUNCTION {org_dataset}.float_text(x ANY TYPE) AS (
  IF(REGEXP_CONTAINS(CAST(x AS STRING), r'^-?[0-9]+$'), CONCAT(CAST(x AS STRING), '.0'), CAST(x AS STRING))
);

CREATE OR REPLACE FUNCTION {org_dataset}.decimal_text(x ANY TYPE, scale ANY TYPE) AS (
  CONCAT(SPLIT(CAST(x AS STRING), '.')[OFFSET(0)], '.', RPAD(COALESCE(SPLIT(CAST(x AS STRING), '.')[SAFE_OFFSET(1)], ''), scale, '0'))
);

CREATE OR REPLACE FUNCTION {org_dataset}.timestamp_text(ts ANY TYPE) AS (
  CONCAT(FORMAT_TIMESTAMP('%F %T', ts, 'UTC'),
         IF(MOD(UNIX_MICROS(ts), 1000000) = 0, '', CONCAT('.', RTRIM(FORMAT('%06d', MOD(UNIX_MICROS(ts), 1000000)), '0'))), '+00')
);

-- The export's unit price when it agrees with cost / quantity, else cost / quantity: ListCost =
-- ListUnitPrice x PricingQuantity must hold even where an export's rate columns disagree with its
-- costs. "Agrees" is within 4e-10, inside the FOCUS check's allowance for a cost rounded to 9
-- decimals (5e-10, product_equals in src/focus/check-functions.ts). Taken in FLOAT64 as DuckDB
-- takes it in DOUBLE: cost / quantity in binary64 is within 2.2e-16 of the cost, relatively.
CREATE OR REPLACE FUNCTION {org_dataset}.focus_unit_price(cost ANY TYPE, quantity ANY TYPE, rate ANY TYPE) AS (
  CASE WHEN quantity = 0 OR quantity IS NULL THEN ABS(COALESCE(CAST(rate AS FLOAT64), 0))
       WHEN rate IS NOT NULL AND rate >= 0 AND ABS(CAST(rate AS FLOAT64) * CAST(quantity AS FLOAT64) - CAST(cost AS FLOAT64)) <= 4e-10 THEN CAST(rate AS FLOAT64)
       ELSE CAST(cost AS FLOAT64) / CAST(quantity AS FLOAT64) END
);

-- A provider's native FOCUS export as FOCUS 1.3 rows, typed as cost_data_standard_1_3 types
-- them. `relation` is the staged export (columns of configs/schemas/cloud/focus_export.json:
-- NUMERIC staged as BIGNUMERIC, JSON as its text) with the provider's own repairs already applied
-- (case of values, ids, costs) and three more columns: lookup_category and lookup_subcategory
-- (the open-data service category of the row) and x_SourceRecordId. The other parameters are the
-- provider's names and the defaults its export may leave out; period_floor_hours is the length of
-- a charge period that has no end.
CREATE OR REPLACE TABLE FUNCTION {org_dataset}.focus_native_rows(
  relation TABLE<
  AllocatedMethodId STRING, AllocatedMethodDetails STRING, AllocatedResourceId STRING, AllocatedResourceName STRING,
  AllocatedTags STRING, AvailabilityZone STRING, BilledCost BIGNUMERIC, BillingAccountId STRING, BillingAccountName STRING,
  BillingAccountType STRING, BillingCurrency STRING, BillingPeriodEnd TIMESTAMP, BillingPeriodStart TIMESTAMP,
  CapacityReservationId STRING, CapacityReservationStatus STRING, ChargeCategory STRING, ChargeClass STRING,
  ChargeDescription STRING, ChargeFrequency STRING, ChargePeriodEnd TIMESTAMP, ChargePeriodStart TIMESTAMP,
  CommitmentDiscountCategory STRING, CommitmentDiscountId STRING, CommitmentDiscountName STRING,
  CommitmentDiscountQuantity BIGNUMERIC, CommitmentDiscountStatus STRING, CommitmentDiscountType STRING,
  CommitmentDiscountUnit STRING, ConsumedQuantity BIGNUMERIC, ConsumedUnit STRING, ContractApplied STRING,
  ContractedCost BIGNUMERIC, ContractedUnitPrice BIGNUMERIC, EffectiveCost BIGNUMERIC, HostProviderName STRING,
  InvoiceId STRING, InvoiceIssuerName STRING, ListCost BIGNUMERIC, ListUnitPrice BIGNUMERIC, PricingCategory STRING,
  PricingCurrency STRING, PricingCurrencyContractedUnitPrice BIGNUMERIC, PricingCurrencyListUnitPrice BIGNUMERIC,
  PricingCurrencyEffectiveCost BIGNUMERIC, PricingQuantity BIGNUMERIC, PricingUnit STRING, ProviderName STRING,
  PublisherName STRING, RegionId STRING, RegionName STRING, ResourceId STRING, ResourceName STRING, ResourceType STRING,
  ServiceCategory STRING, ServiceName STRING, ServiceProviderName STRING, ServiceSubcategory STRING, SkuId STRING,
  SkuMeter STRING, SkuPriceDetails STRING, SkuPriceId STRING, SubAccountId STRING, SubAccountName STRING,
  SubAccountType STRING, Tags STRING, ChargeType STRING, lookup_category STRING, lookup_subcategory STRING,
  x_SourceRecordId STRING>,
  source_system STRING, provider_name STRING, invoice_issuer STRING, billing_account_type STRING, sub_account_type STRING, period_floor_hours INT64)
AS (
SELECT * REPLACE (
  -- FOCUS 1.3 ties the price columns to SkuPriceId and ConsumedQuantity to usage (1.0 and 1.2
  -- exports fill them on credits and tax): kept only where 1.3 allows them.
  CASE WHEN SkuPriceId IS NOT NULL THEN PricingQuantity END AS PricingQuantity,
  CASE WHEN SkuPriceId IS NOT NULL AND PricingQuantity IS NOT NULL THEN PricingUnit END AS PricingUnit,
  CASE WHEN SkuPriceId IS NOT NULL THEN ListUnitPrice END AS ListUnitPrice,
  CASE WHEN SkuPriceId IS NOT NULL THEN ContractedUnitPrice END AS ContractedUnitPrice,
  -- Prices in the pricing currency: the export's, else (one currency, see PricingCurrency below) the billing ones.
  CASE WHEN SkuPriceId IS NOT NULL THEN COALESCE(PricingCurrencyListUnitPrice, CASE WHEN PricingCurrency = BillingCurrency THEN ListUnitPrice END) END AS PricingCurrencyListUnitPrice,
  CASE WHEN SkuPriceId IS NOT NULL THEN COALESCE(PricingCurrencyContractedUnitPrice, CASE WHEN PricingCurrency = BillingCurrency THEN ContractedUnitPrice END) END AS PricingCurrencyContractedUnitPrice,
  CAST(COALESCE(PricingCurrencyEffectiveCost, CASE WHEN PricingCurrency = BillingCurrency THEN EffectiveCost END) AS NUMERIC) AS PricingCurrencyEffectiveCost,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory <> 'Tax' THEN PricingCategory END AS PricingCategory,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory IN ('Usage', 'Purchase') AND CommitmentDiscountId IS NOT NULL AND ChargeClass IS NULL THEN CommitmentDiscountQuantity END AS CommitmentDiscountQuantity,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory IN ('Usage', 'Purchase') AND CommitmentDiscountId IS NOT NULL AND ChargeClass IS NULL AND CommitmentDiscountQuantity IS NOT NULL THEN CommitmentDiscountUnit END AS CommitmentDiscountUnit,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory = 'Usage' AND CommitmentDiscountStatus IS DISTINCT FROM 'Unused' THEN ConsumedQuantity END AS ConsumedQuantity,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory = 'Usage' AND CommitmentDiscountStatus IS DISTINCT FROM 'Unused' AND ConsumedQuantity IS NOT NULL THEN ConsumedUnit END AS ConsumedUnit,
  CASE WHEN CommitmentDiscountId IS NOT NULL THEN CommitmentDiscountStatus END AS CommitmentDiscountStatus,
  CASE WHEN RegionId IS NOT NULL THEN RegionName END AS RegionName,
  CASE WHEN ResourceId IS NOT NULL THEN ResourceType END AS ResourceType,
  CASE WHEN ResourceId IS NOT NULL THEN ResourceName END AS ResourceName
) FROM (
  -- The FOCUS columns, with the 1.3 columns a 1.0 or 1.2 export lacks and the values it may
  -- leave out: costs from one another, unit prices that agree with them (focus_unit_price),
  -- names, and the service category from the lookup.
  SELECT
    AllocatedMethodId, PARSE_JSON(AllocatedMethodDetails, wide_number_mode => 'round') AS AllocatedMethodDetails, AllocatedResourceId, AllocatedResourceName,
    PARSE_JSON(AllocatedTags, wide_number_mode => 'round') AS AllocatedTags,
    AvailabilityZone, CAST(BilledCost AS NUMERIC) AS BilledCost, BillingAccountId, COALESCE(BillingAccountName, BillingAccountId) AS BillingAccountName,
    COALESCE(BillingAccountType, billing_account_type) AS BillingAccountType,
    BillingCurrency, BillingPeriodEnd, BillingPeriodStart, CapacityReservationId, CapacityReservationStatus,
    COALESCE(ChargeCategory, ChargeType) AS ChargeCategory, ChargeClass, ChargeDescription, ChargeFrequency,
    CASE WHEN ChargePeriodEnd > ChargePeriodStart THEN ChargePeriodEnd ELSE TIMESTAMP_ADD(ChargePeriodStart, INTERVAL period_floor_hours HOUR) END AS ChargePeriodEnd, ChargePeriodStart,
    CommitmentDiscountCategory, CommitmentDiscountId, CommitmentDiscountName, CommitmentDiscountQuantity, CommitmentDiscountStatus, CommitmentDiscountType, CommitmentDiscountUnit,
    ConsumedQuantity, COALESCE(cu.x_focus_consumed_unit, ConsumedUnit) AS ConsumedUnit, PARSE_JSON(ContractApplied, wide_number_mode => 'round') AS ContractApplied,
    CAST(COALESCE(ContractedCost, EffectiveCost, BilledCost) AS NUMERIC) AS ContractedCost,
    CAST(CASE WHEN PricingQuantity IS NOT NULL AND ContractedUnitPrice IS NOT NULL
              THEN {org_dataset}.focus_unit_price(COALESCE(ContractedCost, EffectiveCost, BilledCost), PricingQuantity, ContractedUnitPrice) END AS BIGNUMERIC) AS ContractedUnitPrice,
    CAST(COALESCE(EffectiveCost, BilledCost) AS NUMERIC) AS EffectiveCost, COALESCE(HostProviderName, provider_name) AS HostProviderName, InvoiceId,
    COALESCE(InvoiceIssuerName, invoice_issuer) AS InvoiceIssuerName,
    CAST(COALESCE(ListCost, ContractedCost, BilledCost) AS NUMERIC) AS ListCost,
    CAST(CASE WHEN PricingQuantity IS NOT NULL AND ListUnitPrice IS NOT NULL
              THEN {org_dataset}.focus_unit_price(COALESCE(ListCost, ContractedCost, BilledCost), PricingQuantity, ListUnitPrice) END AS BIGNUMERIC) AS ListUnitPrice,
    -- An export without pricing-currency amounts (FOCUS 1.0, AWS's) states its prices in the
    -- billing currency: PricingCurrency says so, and the amounts above are the billing ones.
    PricingCategory, CASE WHEN PricingCurrencyEffectiveCost IS NULL THEN BillingCurrency ELSE COALESCE(PricingCurrency, BillingCurrency) END AS PricingCurrency,
    PricingCurrencyContractedUnitPrice, PricingCurrencyListUnitPrice, PricingCurrencyEffectiveCost, PricingQuantity,
    -- Units in FOCUS UnitFormat from the provider's rows of configs/cloud/opendata/units.csv; others as written.
    COALESCE(pu.x_focus_pricing_unit, PricingUnit) AS PricingUnit,
    COALESCE(ProviderName, provider_name) AS ProviderName, COALESCE(PublisherName, provider_name) AS PublisherName, RegionId, COALESCE(RegionName, RegionId) AS RegionName,
    ResourceId, ResourceName, ResourceType,
    COALESCE(ServiceCategory, lookup_category, 'Other') AS ServiceCategory, ServiceName, COALESCE(ServiceProviderName, provider_name) AS ServiceProviderName,
    -- A subcategory the export lacks: the lookup's when it agrees with the export's category.
    COALESCE(ServiceSubcategory, CASE WHEN lookup_category = COALESCE(ServiceCategory, lookup_category) THEN lookup_subcategory END,
             CONCAT('Other (', COALESCE(ServiceCategory, 'Other'), ')')) AS ServiceSubcategory,
    SkuId, SkuMeter, PARSE_JSON(SkuPriceDetails, wide_number_mode => 'round') AS SkuPriceDetails, SkuPriceId,
    SubAccountId, CASE WHEN SubAccountId IS NOT NULL THEN COALESCE(SubAccountName, SubAccountId) END AS SubAccountName,
    CASE WHEN SubAccountId IS NOT NULL THEN COALESCE(SubAccountType, sub_account_type) END AS SubAccountType,
    PARSE_JSON(Tags, wide_number_mode => 'round') AS Tags,
    source_system AS x_SourceSystem, x_SourceRecordId, 'provider_reported' AS x_CostSource, CAST(NULL AS STRING) AS x_TokenType,
    ServiceCategory IS NULL AND lookup_category IS NULL AS x_UnmappedService
  FROM relation
  LEFT JOIN (SELECT unit AS x_pricing_unit_key, focus_unit AS x_focus_pricing_unit FROM `{org_dataset}.cloud_units` WHERE provider = source_system) pu ON pu.x_pricing_unit_key = LOWER(PricingUnit)
  LEFT JOIN (SELECT unit AS x_consumed_unit_key, focus_unit AS x_focus_consumed_unit FROM `{org_dataset}.cloud_units` WHERE provider = source_system) cu ON cu.x_consumed_unit_key = LOWER(ConsumedUnit)
)
);

-- The last step of every conversion: no FOCUS text column is an empty or blank string. The
-- staged tables already read "" as null; this catches what SQL makes of values (a split_part of
-- an ARN ending in '/', a concatenation of nothing). `relation` has the columns of
-- cost_data_standard_1_3 (lineage aside) with its types: this is where a conversion's rows take
-- the FOCUS table's types, which BigQuery's INSERT does not coerce to (FLOAT64 to NUMERIC).
CREATE OR REPLACE TABLE FUNCTION {org_dataset}.focus_clean_rows(
  relation TABLE<
  AllocatedMethodId STRING, AllocatedMethodDetails JSON, AllocatedResourceId STRING, AllocatedResourceName STRING,
  AllocatedTags JSON, AvailabilityZone STRING, BilledCost NUMERIC, BillingAccountId STRING, BillingAccountName STRING,
  BillingAccountType STRING, BillingCurrency STRING, BillingPeriodEnd TIMESTAMP, BillingPeriodStart TIMESTAMP,
  CapacityReservationId STRING, CapacityReservationStatus STRING, ChargeCategory STRING, ChargeClass STRING,
  ChargeDescription STRING, ChargeFrequency STRING, ChargePeriodEnd TIMESTAMP, ChargePeriodStart TIMESTAMP,
  CommitmentDiscountCategory STRING, CommitmentDiscountId STRING, CommitmentDiscountName STRING,
  CommitmentDiscountQuantity BIGNUMERIC, CommitmentDiscountStatus STRING, CommitmentDiscountType STRING,
  CommitmentDiscountUnit STRING, ConsumedQuantity BIGNUMERIC, ConsumedUnit STRING, ContractApplied JSON,
  ContractedCost NUMERIC, ContractedUnitPrice BIGNUMERIC, EffectiveCost NUMERIC, HostProviderName STRING, InvoiceId STRING,
  InvoiceIssuerName STRING, ListCost NUMERIC, ListUnitPrice BIGNUMERIC, PricingCategory STRING, PricingCurrency STRING,
  PricingCurrencyContractedUnitPrice BIGNUMERIC, PricingCurrencyListUnitPrice BIGNUMERIC,
  PricingCurrencyEffectiveCost NUMERIC, PricingQuantity BIGNUMERIC, PricingUnit STRING, ProviderName STRING,
  PublisherName STRING, RegionId STRING, RegionName STRING, ResourceId STRING, ResourceName STRING, ResourceType STRING,
  ServiceCategory STRING, ServiceName STRING, ServiceProviderName STRING, ServiceSubcategory STRING, SkuId STRING,
  SkuMeter STRING, SkuPriceDetails JSON, SkuPriceId STRING, SubAccountId STRING, SubAccountName STRING,
  SubAccountType STRING, Tags JSON, x_SourceSystem STRING, x_SourceRecordId STRING, x_CostSource STRING,
  x_TokenType STRING, x_UnmappedService BOOL>)
AS (
SELECT * REPLACE (
  NULLIF(TRIM(AllocatedMethodId), '') AS AllocatedMethodId, NULLIF(TRIM(AllocatedResourceId), '') AS AllocatedResourceId, NULLIF(TRIM(AllocatedResourceName), '') AS AllocatedResourceName,
  NULLIF(TRIM(AvailabilityZone), '') AS AvailabilityZone, NULLIF(TRIM(BillingAccountId), '') AS BillingAccountId, NULLIF(TRIM(BillingAccountName), '') AS BillingAccountName,
  NULLIF(TRIM(BillingAccountType), '') AS BillingAccountType, NULLIF(TRIM(BillingCurrency), '') AS BillingCurrency, NULLIF(TRIM(CapacityReservationId), '') AS CapacityReservationId,
  NULLIF(TRIM(CapacityReservationStatus), '') AS CapacityReservationStatus, NULLIF(TRIM(ChargeCategory), '') AS ChargeCategory, NULLIF(TRIM(ChargeClass), '') AS ChargeClass,
  NULLIF(TRIM(ChargeDescription), '') AS ChargeDescription, NULLIF(TRIM(ChargeFrequency), '') AS ChargeFrequency, NULLIF(TRIM(CommitmentDiscountCategory), '') AS CommitmentDiscountCategory,
  NULLIF(TRIM(CommitmentDiscountId), '') AS CommitmentDiscountId, NULLIF(TRIM(CommitmentDiscountName), '') AS CommitmentDiscountName, NULLIF(TRIM(CommitmentDiscountStatus), '') AS CommitmentDiscountStatus,
  NULLIF(TRIM(CommitmentDiscountType), '') AS CommitmentDiscountType, NULLIF(TRIM(CommitmentDiscountUnit), '') AS CommitmentDiscountUnit, NULLIF(TRIM(ConsumedUnit), '') AS ConsumedUnit,
  NULLIF(TRIM(HostProviderName), '') AS HostProviderName, NULLIF(TRIM(InvoiceId), '') AS InvoiceId, NULLIF(TRIM(InvoiceIssuerName), '') AS InvoiceIssuerName,
  NULLIF(TRIM(PricingCategory), '') AS PricingCategory, NULLIF(TRIM(PricingCurrency), '') AS PricingCurrency, NULLIF(TRIM(PricingUnit), '') AS PricingUnit,
  NULLIF(TRIM(ProviderName), '') AS ProviderName, NULLIF(TRIM(PublisherName), '') AS PublisherName, NULLIF(TRIM(RegionId), '') AS RegionId, NULLIF(TRIM(RegionName), '') AS RegionName,
  NULLIF(TRIM(ResourceId), '') AS ResourceId, NULLIF(TRIM(ResourceName), '') AS ResourceName, NULLIF(TRIM(ResourceType), '') AS ResourceType,
  NULLIF(TRIM(ServiceCategory), '') AS ServiceCategory, NULLIF(TRIM(ServiceName), '') AS ServiceName, NULLIF(TRIM(ServiceProviderName), '') AS ServiceProviderName,
  NULLIF(TRIM(ServiceSubcategory), '') AS ServiceSubcategory, NULLIF(TRIM(SkuId), '') AS SkuId, NULLIF(TRIM(SkuMeter), '') AS SkuMeter, NULLIF(TRIM(SkuPriceId), '') AS SkuPriceId,
  NULLIF(TRIM(SubAccountId), '') AS SubAccountId, NULLIF(TRIM(SubAccountName), '') AS SubAccountName, NULLIF(TRIM(SubAccountType), '') AS SubAccountType,
  NULLIF(TRIM(x_SourceSystem), '') AS x_SourceSystem, NULLIF(TRIM(x_SourceRecordId), '') AS x_SourceRecordId
) FROM relation
);
