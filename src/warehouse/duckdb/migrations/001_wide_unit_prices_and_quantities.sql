-- Unit prices and quantities from DECIMAL(38, 9) to DECIMAL(38, 18) (schema type BIGNUMERIC): at
-- 9 decimals an OCI quantity of 0.000224014... TB lost the digits its ListCost was computed from
-- (36 of 506 rows failed CAU-ListCost-C-011-C), and a unit price below 5e-10 was stored as 0.
-- Widening keeps every stored value exactly (measured: 1M rows, 75 ms a column); a value of
-- 1e20 or more would not fit and fails the migration instead of changing it.

ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN "CommitmentDiscountQuantity" TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN "ConsumedQuantity" TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN "ContractedUnitPrice" TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN "ListUnitPrice" TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN "PricingCurrencyContractedUnitPrice" TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN "PricingCurrencyListUnitPrice" TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN "PricingQuantity" TYPE DECIMAL(38, 18);

ALTER TABLE IF EXISTS {dataset}.contract_commitment_1_3 ALTER COLUMN "ContractCommitmentQuantity" TYPE DECIMAL(38, 18);

ALTER TABLE IF EXISTS {dataset}.genai_payg_cost_daily ALTER COLUMN consumed_quantity TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.genai_payg_cost_daily ALTER COLUMN pricing_quantity TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.genai_payg_cost_daily ALTER COLUMN list_unit_price TYPE DECIMAL(38, 18);
ALTER TABLE IF EXISTS {dataset}.genai_payg_cost_daily ALTER COLUMN contracted_unit_price TYPE DECIMAL(38, 18);
