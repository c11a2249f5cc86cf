-- Macros every cloud conversion shares, created in the org dataset by cloud.billing_export before
-- the provider's own (sp_cloud_0_macros_aws, _gcp, ...).

-- The export's unit price when it agrees with cost / quantity (within the tolerance of the FOCUS
-- check), else cost / quantity: ListCost = ListUnitPrice x PricingQuantity must hold even where
-- an export's rate columns disagree with its costs.
CREATE OR REPLACE MACRO {org_dataset}.focus_unit_price(cost, quantity, rate) AS
  CASE WHEN quantity = 0 OR quantity IS NULL THEN abs(coalesce(rate, 0))
       WHEN rate IS NOT NULL AND rate >= 0 AND abs(rate * quantity - CAST(cost AS DOUBLE)) <= greatest(0.000001, 0.0001 * abs(CAST(cost AS DOUBLE))) THEN rate
       ELSE CAST(cost AS DOUBLE) / quantity END;

-- A provider's native FOCUS rows (a view, by name) with the values FOCUS 1.3 ties to other
-- columns nulled where 1.3 does not allow them.
CREATE OR REPLACE MACRO {org_dataset}.focus_1_3_tidy(relation) AS TABLE
SELECT * REPLACE (
  -- FOCUS 1.3 ties the price columns to SkuPriceId and ConsumedQuantity to usage (1.0 and 1.2
  -- exports fill them on credits and tax): kept only where 1.3 allows them.
  CASE WHEN SkuPriceId IS NOT NULL THEN PricingQuantity END AS PricingQuantity,
  CASE WHEN SkuPriceId IS NOT NULL AND PricingQuantity IS NOT NULL THEN PricingUnit END AS PricingUnit,
  CASE WHEN SkuPriceId IS NOT NULL THEN ListUnitPrice END AS ListUnitPrice,
  CASE WHEN SkuPriceId IS NOT NULL THEN ContractedUnitPrice END AS ContractedUnitPrice,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory <> 'Tax' THEN PricingCategory END AS PricingCategory,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory IN ('Usage', 'Purchase') AND CommitmentDiscountId IS NOT NULL AND ChargeClass IS NULL THEN CommitmentDiscountQuantity END AS CommitmentDiscountQuantity,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory IN ('Usage', 'Purchase') AND CommitmentDiscountId IS NOT NULL AND ChargeClass IS NULL AND CommitmentDiscountQuantity IS NOT NULL THEN CommitmentDiscountUnit END AS CommitmentDiscountUnit,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory = 'Usage' AND CommitmentDiscountStatus IS DISTINCT FROM 'Unused' THEN ConsumedQuantity END AS ConsumedQuantity,
  CASE WHEN SkuPriceId IS NOT NULL AND ChargeCategory = 'Usage' AND CommitmentDiscountStatus IS DISTINCT FROM 'Unused' AND ConsumedQuantity IS NOT NULL THEN ConsumedUnit END AS ConsumedUnit,
  CASE WHEN CommitmentDiscountId IS NOT NULL THEN CommitmentDiscountStatus END AS CommitmentDiscountStatus,
  CASE WHEN RegionId IS NOT NULL THEN RegionName END AS RegionName,
  CASE WHEN ResourceId IS NOT NULL THEN ResourceType END AS ResourceType,
  CASE WHEN ResourceId IS NOT NULL THEN ResourceName END AS ResourceName
) FROM query_table(relation);
