-- The DuckDB warehouse's 001 in BigQuery's terms: unit prices and quantities from NUMERIC
-- (9 decimals) to BIGNUMERIC, as the schema files now type them. A dataset created by this
-- service starts at the latest version and never runs this; it widens the tables of a dataset
-- made before, at version 0 (such as the seeds' own tables, which typed these NUMERIC).
-- NUMERIC -> BIGNUMERIC is one of the coercions BigQuery's ALTER COLUMN SET DATA TYPE allows:
-- stored values are kept exactly, and the table is altered in place, never recreated.

ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN CommitmentDiscountQuantity SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN ConsumedQuantity SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN ContractedUnitPrice SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN ListUnitPrice SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN PricingCurrencyContractedUnitPrice SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN PricingCurrencyListUnitPrice SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.cost_data_standard_1_3 ALTER COLUMN PricingQuantity SET DATA TYPE BIGNUMERIC;

ALTER TABLE IF EXISTS {dataset}.contract_commitment_1_3 ALTER COLUMN ContractCommitmentQuantity SET DATA TYPE BIGNUMERIC;

ALTER TABLE IF EXISTS {dataset}.genai_payg_cost_daily ALTER COLUMN consumed_quantity SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.genai_payg_cost_daily ALTER COLUMN pricing_quantity SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.genai_payg_cost_daily ALTER COLUMN list_unit_price SET DATA TYPE BIGNUMERIC;
ALTER TABLE IF EXISTS {dataset}.genai_payg_cost_daily ALTER COLUMN contracted_unit_price SET DATA TYPE BIGNUMERIC;
