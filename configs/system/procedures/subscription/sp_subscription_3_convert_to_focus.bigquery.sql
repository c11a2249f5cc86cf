-- sp_subscription_3_convert_to_focus, BigQuery form of the .duckdb.sql beside it (same mapping,
-- same rows; docs/subscription-costs.md). Columns are bound by name: the FOCUS columns a SaaS
-- plan does not fill are absent, hence NULL.
--
-- BilledCost and EffectiveCost are the two views of one prepaid cycle: BilledCost is the
-- charge on the day it is invoiced (the segment's first day) and 0 on the other days;
-- EffectiveCost is the amortised share of every day. Over a whole cycle both sum to the charge.
-- Dialect: BigQuery writes NUMERIC as text without trailing zeros ('12.5', '10'), which DuckDB's
-- DECIMAL text ('12.500000000') needs rtrim for; CONCAT takes text only, so numbers and dates are cast.
SELECT
    billed_cost AS BilledCost,
    -- The org's account at the vendor; the org itself when the finance team did not record one.
    COALESCE(billing_account_id, x_org_slug) AS BillingAccountId,
    billing_account_name AS BillingAccountName,
    currency AS BillingCurrency,
    -- The billing period of a subscription is its billing cycle: what each invoice pays for.
    TIMESTAMP(DATE_ADD(cycle_end, INTERVAL 1 DAY), 'UTC') AS BillingPeriodEnd,
    TIMESTAMP(cycle_start, 'UTC') AS BillingPeriodStart,
    'Purchase' AS ChargeCategory,
    CONCAT(product, ' ', plan_name, ', ',
      CASE WHEN pricing_model = 'per_seat' THEN CONCAT(CAST(quantity AS STRING), CASE WHEN quantity = 1 THEN ' seat' ELSE ' seats' END) ELSE 'flat fee' END,
      ', ', billing_cycle, ' cycle ', CAST(cycle_start AS STRING), ' to ', CAST(cycle_end AS STRING),
      CASE WHEN segment_days < cycle_days THEN CONCAT(', prorated ', CAST(segment_start AS STRING), ' to ', CAST(segment_end AS STRING)) ELSE '' END,
      CASE WHEN discount_percent > 0 THEN CONCAT(', ', CAST(discount_percent AS STRING), '% discount') ELSE '' END) AS ChargeDescription,
    'Recurring' AS ChargeFrequency,
    TIMESTAMP(DATE_ADD(cost_date, INTERVAL 1 DAY), 'UTC') AS ChargePeriodEnd,
    TIMESTAMP(cost_date, 'UTC') AS ChargePeriodStart,
    -- FOCUS 1.3: ContractedCost and ListCost MUST equal unit price x PricingQuantity, so each is
    -- that product rounded to 9 decimals (both factors have 9: the product is exact). The day's
    -- share of the cycle charge (daily_cost, whose days sum to the cycle exactly) stays the
    -- EffectiveCost; the two differ by at most a few 1e-9 (40 seats / 31 days x 15: 6e-9).
    CAST(CAST(contracted_unit_price AS BIGNUMERIC) * pricing_quantity AS NUMERIC) AS ContractedCost,
    contracted_unit_price AS ContractedUnitPrice,
    daily_cost AS EffectiveCost,
    -- A SaaS product runs on its vendor's infrastructure; FOCUS names the vendor when the host is not exposed.
    vendor AS HostProviderName,
    COALESCE(invoice_issuer, vendor) AS InvoiceIssuerName,
    CAST(CAST(unit_price AS BIGNUMERIC) * pricing_quantity AS NUMERIC) AS ListCost,
    unit_price AS ListUnitPrice,
    -- The day's share of one cycle's units: 10 seats on a 31-day monthly cycle are 10/31 Seat-Months.
    pricing_quantity AS PricingQuantity,
    CONCAT(CASE WHEN pricing_model = 'per_seat' THEN 'Seat-' ELSE '' END,
           CASE billing_cycle WHEN 'monthly' THEN 'Months' WHEN 'quarterly' THEN 'Quarters' ELSE 'Years' END) AS PricingUnit,
    vendor AS ProviderName,
    vendor AS PublisherName,
    COALESCE(service_category, 'Business Applications') AS ServiceCategory,
    product AS ServiceName,
    vendor AS ServiceProviderName,
    COALESCE(service_subcategory, CONCAT('Other (', COALESCE(service_category, 'Business Applications'), ')')) AS ServiceSubcategory,
    sku_id AS SkuId,
    CASE WHEN pricing_model = 'per_seat' THEN 'Seats' ELSE 'Subscription' END AS SkuMeter,
    -- One price point of the SKU: it changes whenever the list price, currency or cycle does.
    CONCAT(sku_id, '/', billing_cycle, '/', currency, '/', CAST(unit_price AS STRING)) AS SkuPriceId,
    -- The finance team's grouping is the sub account: SaaS vendors rarely have one of their own.
    COALESCE(cost_center, team) AS SubAccountId,
    COALESCE(team, cost_center) AS SubAccountName,
    -- The org's own attributes of the plan as user-defined tags, the null ones dropped.
    JSON_STRIP_NULLS(JSON_OBJECT('cost_center', cost_center, 'team', team, 'owner', owner, 'contract_id', contract_id, 'subscription_id', subscription_id)) AS Tags,
    'subscription' AS x_SourceSystem,
    CONCAT(subscription_id, '/', CAST(cost_date AS STRING)) AS x_SourceRecordId,
    'subscription_plan' AS x_CostSource,
    service_category IS NULL AS x_UnmappedService
  FROM `{org_dataset}.saas_subscription_costs_daily`
 WHERE x_org_slug = @org_slug AND x_pipeline_id = @pipeline_id AND x_credential_id = @credential_id
   AND cost_date BETWEEN CAST(@start_date AS DATE) AND CAST(@end_date AS DATE)
