-- Functions of sp_cloud_1_convert_to_focus_oci, BigQuery form of sp_cloud_0_macros_oci.duckdb.sql:
-- persistent UDFs of the org dataset, created by cloud.billing_export (config `macros`) with the
-- staged tables, so the conversion, its reconciliation and the load report read the export alike.

-- The report's BilledCost: myCost (which includes the overage; myCostOverage is only the
-- overage part). The usage report has quantities and no cost.
CREATE OR REPLACE FUNCTION {org_dataset}.oci_billed(shape ANY TYPE, my_cost ANY TYPE) AS (
  CASE WHEN shape = 'usage_report' THEN CAST(0 AS NUMERIC) ELSE CAST(COALESCE(my_cost, 0) AS NUMERIC) END
);
