-- Macros of sp_cloud_1_convert_to_focus_oci, created in the org dataset by cloud.billing_export
-- (config `macros`) with the staged views, so the conversion, its reconciliation and the load
-- report read the export the same way.


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
