-- Macros of sp_cloud_1_convert_to_focus_oci, created in the org dataset by cloud.billing_export
-- (config `macros`) with the staged views, so the conversion, its reconciliation and the load
-- report read the export the same way.

-- The export's unit price when it agrees with cost / quantity (within the tolerance of the FOCUS
-- check), else cost / quantity: ListCost = ListUnitPrice x PricingQuantity must hold even where
-- an export's rate columns disagree with its costs.
CREATE OR REPLACE MACRO {org_dataset}.oci_unit_price(cost, quantity, rate) AS
  CASE WHEN quantity = 0 OR quantity IS NULL THEN abs(coalesce(rate, 0))
       WHEN rate IS NOT NULL AND rate >= 0 AND abs(rate * quantity - CAST(cost AS DOUBLE)) <= greatest(0.000001, 0.0001 * abs(CAST(cost AS DOUBLE))) THEN rate
       ELSE CAST(cost AS DOUBLE) / quantity END;


-- The report's BilledCost: myCost (which includes the overage; myCostOverage is only the
-- overage part). The usage report has quantities and no cost.
CREATE OR REPLACE MACRO {org_dataset}.oci_billed(shape, my_cost) AS
  CASE WHEN shape = 'usage_report' THEN CAST(0 AS DECIMAL(38, 9)) ELSE CAST(coalesce(my_cost, 0) AS DECIMAL(38, 9)) END;

-- OCI unit descriptions in FOCUS UnitFormat: `GB Months` -> GB-Months, `1M API Calls` ->
-- 1000000 API-Calls, `Million Datapoints` -> 1000000 Datapoints, `GB_MS` -> GB-MS.
CREATE OR REPLACE MACRO {org_dataset}.oci_unit(u) AS
  CASE WHEN u IS NULL THEN NULL ELSE (
    SELECT coalesce(nullif(regexp_extract(n, '^([0-9]+ )', 1), ''), '') || replace(replace(regexp_replace(n, '^[0-9]+ ', ''), ' ', '-'), '_', '-')
      FROM (SELECT regexp_replace(regexp_replace(regexp_replace(trim(u), '^Million ', '1000000 '), '^([0-9]+)M ', '\1000000 '), '^([0-9]+)K ', '\1000 ') AS n)) END;
