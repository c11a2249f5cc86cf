-- Functions of sp_cloud_1_convert_to_focus_azure, BigQuery form of sp_cloud_0_macros_azure.duckdb.sql:
-- persistent UDFs of the org dataset, created by cloud.billing_export (config `macros`) with the
-- staged tables, so the conversion, its reconciliation and the load report read the export alike.

-- The merge of the toolkit's FOCUS guidance: every amortized row, plus the actual rows that buy
-- or refund a commitment (the amortized dataset spreads those over usage instead). Without an
-- amortized export, every actual row.
-- (Each function is true or false, never null: an absent PricingModel is not a commitment.)
CREATE OR REPLACE FUNCTION {org_dataset}.azure_selected(dataset ANY TYPE, charge_type ANY TYPE, pricing_model ANY TYPE, has_amortized ANY TYPE) AS (
  COALESCE(dataset = 'amortized' OR NOT has_amortized
           OR (charge_type IN ('Purchase', 'Refund') AND pricing_model IN ('Reservation', 'SavingsPlan')), false)
);

-- Usage covered by a commitment, and the commitment left unused, are billed by its purchase.
CREATE OR REPLACE FUNCTION {org_dataset}.azure_commitment_usage(charge_type ANY TYPE, pricing_model ANY TYPE) AS (
  COALESCE(charge_type IN ('UnusedReservation', 'UnusedSavingsPlan')
           OR (COALESCE(charge_type, 'Usage') = 'Usage' AND pricing_model IN ('Reservation', 'SavingsPlan')), false)
);

CREATE OR REPLACE FUNCTION {org_dataset}.azure_commitment_purchase(charge_type ANY TYPE, pricing_model ANY TYPE) AS (
  COALESCE(charge_type IN ('Purchase', 'Refund') AND pricing_model IN ('Reservation', 'SavingsPlan'), false)
);
