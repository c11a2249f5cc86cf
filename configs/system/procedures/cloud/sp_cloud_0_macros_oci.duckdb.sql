-- Macros of sp_cloud_1_convert_to_focus_oci, created in the org dataset by cloud.billing_export
-- (config `macros`) with the staged views, so the conversion, its reconciliation and the load
-- report read the export the same way.


-- The report's BilledCost: myCost (which includes the overage; myCostOverage is only the
-- overage part). The usage report has quantities and no cost.
CREATE OR REPLACE MACRO {org_dataset}.oci_billed(shape, my_cost) AS
  CASE WHEN shape = 'usage_report' THEN CAST(0 AS DECIMAL(38, 9)) ELSE CAST(coalesce(my_cost, 0) AS DECIMAL(38, 9)) END;
