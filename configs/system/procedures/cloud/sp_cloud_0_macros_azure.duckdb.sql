-- Macros of sp_cloud_1_convert_to_focus_azure, created in the org dataset by cloud.billing_export
-- (config `macros`) with the staged views, so the conversion, its reconciliation and the load
-- report read the export the same way.

-- The merge of the toolkit's FOCUS guidance: every amortized row, plus the actual rows that buy
-- or refund a commitment (the amortized dataset spreads those over usage instead). Without an
-- amortized export, every actual row.
-- (Each macro is true or false, never null: an absent PricingModel is not a commitment.)
CREATE OR REPLACE MACRO {org_dataset}.azure_selected(dataset, charge_type, pricing_model, has_amortized) AS
  coalesce(dataset = 'amortized' OR NOT has_amortized
           OR (charge_type IN ('Purchase', 'Refund') AND pricing_model IN ('Reservation', 'SavingsPlan')), false);

-- Usage covered by a commitment, and the commitment left unused, are billed by its purchase.
CREATE OR REPLACE MACRO {org_dataset}.azure_commitment_usage(charge_type, pricing_model) AS
  coalesce(charge_type IN ('UnusedReservation', 'UnusedSavingsPlan')
           OR (coalesce(charge_type, 'Usage') = 'Usage' AND pricing_model IN ('Reservation', 'SavingsPlan')), false);

CREATE OR REPLACE MACRO {org_dataset}.azure_commitment_purchase(charge_type, pricing_model) AS
  coalesce(charge_type IN ('Purchase', 'Refund') AND pricing_model IN ('Reservation', 'SavingsPlan'), false);
