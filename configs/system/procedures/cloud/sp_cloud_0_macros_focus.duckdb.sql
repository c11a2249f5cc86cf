-- Macros every cloud conversion shares, created in the org dataset by cloud.billing_export before
-- the provider's own (sp_cloud_0_macros_aws, _gcp, ...).

-- The export's unit price when it agrees with cost / quantity, else cost / quantity: ListCost =
-- ListUnitPrice x PricingQuantity must hold even where an export's rate columns disagree with its
-- costs. "Agrees" is within 4e-10, inside the FOCUS check's allowance for a cost rounded to 9
-- decimals (5e-10, product_equals in src/focus/check-functions.ts). The product is taken in
-- DOUBLE: prices and quantities are DECIMAL(38, 18), whose product DuckDB types DECIMAL(38, 36)
-- and overflows from 100 on; cost / quantity in DOUBLE is within 2.2e-16 of the cost, relatively.
CREATE OR REPLACE MACRO {org_dataset}.focus_unit_price(cost, quantity, rate) AS
  CASE WHEN quantity = 0 OR quantity IS NULL THEN abs(coalesce(rate, 0))
       WHEN rate IS NOT NULL AND rate >= 0 AND abs(CAST(rate AS DOUBLE) * CAST(quantity AS DOUBLE) - CAST(cost AS DOUBLE)) <= 4e-10 THEN rate
       ELSE CAST(cost AS DOUBLE) / CAST(quantity AS DOUBLE) END;

-- A provider's native FOCUS export as FOCUS 1.3 rows. `relation` names a view of the staged
-- export with the provider's own repairs already applied (case of values, ids, costs) and three
-- more columns: lookup_category and lookup_subcategory (the open-data service category of the
-- row) and x_SourceRecordId. The parameters are the provider's names and the defaults its
-- export may leave out; period_floor is the length of a charge period that has no end.
CREATE OR REPLACE MACRO {org_dataset}.focus_native_rows(relation, source_system, provider_name, invoice_issuer, billing_account_type, sub_account_type, period_floor) AS TABLE
SELECT * REPLACE (
  -- FOCUS 1.3 ties the price columns to SkuPriceId and ConsumedQuantity to usage (1.0 and 1.2
  -- exports fill them on credits and tax): kept only where 1.3 allows them.
  CASE WHEN SkuPriceId IS NOT NULL THEN PricingQuantity END AS PricingQuantity,
  CASE WHEN SkuPriceId IS NOT NULL AND PricingQuantity IS NOT NULL THEN PricingUnit END AS PricingUnit,
  CASE WHEN SkuPriceId IS NOT NULL THEN ListUnitPrice END AS ListUnitPrice,
  CASE WHEN SkuPriceId IS NOT NULL THEN ContractedUnitPrice END AS ContractedUnitPrice,
  -- Prices in the pricing currency: the export's, else (one currency, see PricingCurrency below) the billing ones.
  CASE WHEN SkuPriceId IS NOT NULL THEN coalesce(PricingCurrencyListUnitPrice, CASE WHEN PricingCurrency = BillingCurrency THEN ListUnitPrice END) END AS PricingCurrencyListUnitPrice,
  CASE WHEN SkuPriceId IS NOT NULL THEN coalesce(PricingCurrencyContractedUnitPrice, CASE WHEN PricingCurrency = BillingCurrency THEN ContractedUnitPrice END) END AS PricingCurrencyContractedUnitPrice,
  coalesce(PricingCurrencyEffectiveCost, CASE WHEN PricingCurrency = BillingCurrency THEN EffectiveCost END) AS PricingCurrencyEffectiveCost,
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
    AllocatedMethodId, CAST(AllocatedMethodDetails AS JSON) AS AllocatedMethodDetails, AllocatedResourceId, AllocatedResourceName, CAST(AllocatedTags AS JSON) AS AllocatedTags,
    AvailabilityZone, BilledCost, BillingAccountId, coalesce(BillingAccountName, BillingAccountId) AS BillingAccountName, coalesce(BillingAccountType, billing_account_type) AS BillingAccountType,
    BillingCurrency, BillingPeriodEnd, BillingPeriodStart, CapacityReservationId, CapacityReservationStatus,
    coalesce(ChargeCategory, ChargeType) AS ChargeCategory, ChargeClass, ChargeDescription, ChargeFrequency,
    CASE WHEN ChargePeriodEnd > ChargePeriodStart THEN ChargePeriodEnd ELSE ChargePeriodStart + period_floor END AS ChargePeriodEnd, ChargePeriodStart,
    CommitmentDiscountCategory, CommitmentDiscountId, CommitmentDiscountName, CommitmentDiscountQuantity, CommitmentDiscountStatus, CommitmentDiscountType, CommitmentDiscountUnit,
    ConsumedQuantity, coalesce(cu.x_focus_consumed_unit, ConsumedUnit) AS ConsumedUnit, CAST(ContractApplied AS JSON) AS ContractApplied, coalesce(ContractedCost, EffectiveCost, BilledCost) AS ContractedCost,
    CASE WHEN PricingQuantity IS NOT NULL AND ContractedUnitPrice IS NOT NULL
         THEN {org_dataset}.focus_unit_price(coalesce(ContractedCost, EffectiveCost, BilledCost), PricingQuantity, CAST(ContractedUnitPrice AS DOUBLE)) END AS ContractedUnitPrice,
    coalesce(EffectiveCost, BilledCost) AS EffectiveCost, coalesce(HostProviderName, provider_name) AS HostProviderName, InvoiceId, coalesce(InvoiceIssuerName, invoice_issuer) AS InvoiceIssuerName,
    coalesce(ListCost, ContractedCost, BilledCost) AS ListCost,
    CASE WHEN PricingQuantity IS NOT NULL AND ListUnitPrice IS NOT NULL
         THEN {org_dataset}.focus_unit_price(coalesce(ListCost, ContractedCost, BilledCost), PricingQuantity, CAST(ListUnitPrice AS DOUBLE)) END AS ListUnitPrice,
    -- An export without pricing-currency amounts (FOCUS 1.0, AWS's) states its prices in the
    -- billing currency: PricingCurrency says so, and the amounts above are the billing ones.
    PricingCategory, CASE WHEN PricingCurrencyEffectiveCost IS NULL THEN BillingCurrency ELSE coalesce(PricingCurrency, BillingCurrency) END AS PricingCurrency,
    PricingCurrencyContractedUnitPrice, PricingCurrencyListUnitPrice, PricingCurrencyEffectiveCost, PricingQuantity,
    -- Units in FOCUS UnitFormat from the provider's rows of configs/cloud/opendata/units.csv; others as written.
    coalesce(pu.x_focus_pricing_unit, PricingUnit) AS PricingUnit,
    coalesce(ProviderName, provider_name) AS ProviderName, coalesce(PublisherName, provider_name) AS PublisherName, RegionId, coalesce(RegionName, RegionId) AS RegionName,
    ResourceId, ResourceName, ResourceType,
    coalesce(ServiceCategory, lookup_category, 'Other') AS ServiceCategory, ServiceName, coalesce(ServiceProviderName, provider_name) AS ServiceProviderName,
    -- A subcategory the export lacks: the lookup's when it agrees with the export's category.
    coalesce(ServiceSubcategory, CASE WHEN lookup_category = coalesce(ServiceCategory, lookup_category) THEN lookup_subcategory END,
             'Other (' || coalesce(ServiceCategory, 'Other') || ')') AS ServiceSubcategory,
    SkuId, SkuMeter, CAST(SkuPriceDetails AS JSON) AS SkuPriceDetails, SkuPriceId,
    SubAccountId, CASE WHEN SubAccountId IS NOT NULL THEN coalesce(SubAccountName, SubAccountId) END AS SubAccountName,
    CASE WHEN SubAccountId IS NOT NULL THEN coalesce(SubAccountType, sub_account_type) END AS SubAccountType,
    CAST(Tags AS JSON) AS Tags,
    source_system AS x_SourceSystem, x_SourceRecordId, 'provider_reported' AS x_CostSource, CAST(NULL AS VARCHAR) AS x_TokenType,
    ServiceCategory IS NULL AND lookup_category IS NULL AS x_UnmappedService
  FROM query_table(relation)
  LEFT JOIN (SELECT unit AS x_pricing_unit_key, focus_unit AS x_focus_pricing_unit FROM {org_dataset}.cloud_units WHERE provider = source_system) pu ON pu.x_pricing_unit_key = lower(PricingUnit)
  LEFT JOIN (SELECT unit AS x_consumed_unit_key, focus_unit AS x_focus_consumed_unit FROM {org_dataset}.cloud_units WHERE provider = source_system) cu ON cu.x_consumed_unit_key = lower(ConsumedUnit)
);

-- The last step of every conversion: no FOCUS text column is an empty or blank string. The
-- staged views already read "" as null (export-view.ts); this catches what SQL makes of values
-- (a split_part of an ARN ending in '/', a concatenation of nothing).
CREATE OR REPLACE MACRO {org_dataset}.focus_clean_rows(relation) AS TABLE
SELECT * REPLACE (
  nullif(trim(AllocatedMethodId), '') AS AllocatedMethodId, nullif(trim(AllocatedResourceId), '') AS AllocatedResourceId, nullif(trim(AllocatedResourceName), '') AS AllocatedResourceName,
  nullif(trim(AvailabilityZone), '') AS AvailabilityZone, nullif(trim(BillingAccountId), '') AS BillingAccountId, nullif(trim(BillingAccountName), '') AS BillingAccountName,
  nullif(trim(BillingAccountType), '') AS BillingAccountType, nullif(trim(BillingCurrency), '') AS BillingCurrency, nullif(trim(CapacityReservationId), '') AS CapacityReservationId,
  nullif(trim(CapacityReservationStatus), '') AS CapacityReservationStatus, nullif(trim(ChargeCategory), '') AS ChargeCategory, nullif(trim(ChargeClass), '') AS ChargeClass,
  nullif(trim(ChargeDescription), '') AS ChargeDescription, nullif(trim(ChargeFrequency), '') AS ChargeFrequency, nullif(trim(CommitmentDiscountCategory), '') AS CommitmentDiscountCategory,
  nullif(trim(CommitmentDiscountId), '') AS CommitmentDiscountId, nullif(trim(CommitmentDiscountName), '') AS CommitmentDiscountName, nullif(trim(CommitmentDiscountStatus), '') AS CommitmentDiscountStatus,
  nullif(trim(CommitmentDiscountType), '') AS CommitmentDiscountType, nullif(trim(CommitmentDiscountUnit), '') AS CommitmentDiscountUnit, nullif(trim(ConsumedUnit), '') AS ConsumedUnit,
  nullif(trim(HostProviderName), '') AS HostProviderName, nullif(trim(InvoiceId), '') AS InvoiceId, nullif(trim(InvoiceIssuerName), '') AS InvoiceIssuerName,
  nullif(trim(PricingCategory), '') AS PricingCategory, nullif(trim(PricingCurrency), '') AS PricingCurrency, nullif(trim(PricingUnit), '') AS PricingUnit,
  nullif(trim(ProviderName), '') AS ProviderName, nullif(trim(PublisherName), '') AS PublisherName, nullif(trim(RegionId), '') AS RegionId, nullif(trim(RegionName), '') AS RegionName,
  nullif(trim(ResourceId), '') AS ResourceId, nullif(trim(ResourceName), '') AS ResourceName, nullif(trim(ResourceType), '') AS ResourceType,
  nullif(trim(ServiceCategory), '') AS ServiceCategory, nullif(trim(ServiceName), '') AS ServiceName, nullif(trim(ServiceProviderName), '') AS ServiceProviderName,
  nullif(trim(ServiceSubcategory), '') AS ServiceSubcategory, nullif(trim(SkuId), '') AS SkuId, nullif(trim(SkuMeter), '') AS SkuMeter, nullif(trim(SkuPriceId), '') AS SkuPriceId,
  nullif(trim(SubAccountId), '') AS SubAccountId, nullif(trim(SubAccountName), '') AS SubAccountName, nullif(trim(SubAccountType), '') AS SubAccountType,
  nullif(trim(x_SourceSystem), '') AS x_SourceSystem, nullif(trim(x_SourceRecordId), '') AS x_SourceRecordId
) FROM query_table(relation);
