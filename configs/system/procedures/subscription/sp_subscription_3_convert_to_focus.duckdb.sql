-- sp_subscription_3_convert_to_focus: FOCUS 1.3 Cost and Usage rows (cost_data_standard_1_3)
-- from the daily subscription costs this pipeline wrote for the run range: one row per
-- subscription and day. Columns are bound by name (the warehouse's INSERT BY NAME): the FOCUS
-- columns a SaaS plan does not fill are simply absent, hence NULL. The mapping and its reasons
-- are in docs/subscription-costs.md.
--
-- BilledCost and EffectiveCost are the two views of one prepaid cycle: BilledCost is the
-- charge on the day it is invoiced (the segment's first day) and 0 on the other days;
-- EffectiveCost is the amortised share of every day. Over a whole cycle both sum to the charge.
SELECT
    billed_cost AS BilledCost,
    -- The org's account at the vendor; the org itself when the finance team did not record one.
    coalesce(billing_account_id, x_org_slug) AS BillingAccountId,
    billing_account_name AS BillingAccountName,
    currency AS BillingCurrency,
    -- The billing period of a subscription is its billing cycle: what each invoice pays for.
    timezone('UTC', CAST(cycle_end + 1 AS TIMESTAMP)) AS BillingPeriodEnd,
    timezone('UTC', CAST(cycle_start AS TIMESTAMP)) AS BillingPeriodStart,
    'Purchase' AS ChargeCategory,
    product || ' ' || plan_name || ', '
      || CASE WHEN pricing_model = 'per_seat' THEN quantity || CASE WHEN quantity = 1 THEN ' seat' ELSE ' seats' END ELSE 'flat fee' END
      || ', ' || billing_cycle || ' cycle ' || cycle_start || ' to ' || cycle_end
      || CASE WHEN segment_days < cycle_days THEN ', prorated ' || segment_start || ' to ' || segment_end ELSE '' END
      || CASE WHEN discount_percent > 0 THEN ', ' || rtrim(rtrim(CAST(discount_percent AS VARCHAR), '0'), '.') || '% discount' ELSE '' END AS ChargeDescription,
    'Recurring' AS ChargeFrequency,
    timezone('UTC', CAST(cost_date + 1 AS TIMESTAMP)) AS ChargePeriodEnd,
    timezone('UTC', CAST(cost_date AS TIMESTAMP)) AS ChargePeriodStart,
    -- FOCUS 1.3: ContractedCost and ListCost MUST equal unit price x PricingQuantity, so each is
    -- that product rounded to 9 decimals (both factors have 9: the product is exact). The day's
    -- share of the cycle charge (daily_cost, whose days sum to the cycle exactly) stays the
    -- EffectiveCost; the two differ by at most a few 1e-9 (40 seats / 31 days x 15: 6e-9).
    CAST(contracted_unit_price * pricing_quantity AS DECIMAL(38, 9)) AS ContractedCost,
    contracted_unit_price AS ContractedUnitPrice,
    daily_cost AS EffectiveCost,
    -- A SaaS product runs on its vendor's infrastructure; FOCUS names the vendor when the host is not exposed.
    vendor AS HostProviderName,
    coalesce(invoice_issuer, vendor) AS InvoiceIssuerName,
    CAST(unit_price * pricing_quantity AS DECIMAL(38, 9)) AS ListCost,
    unit_price AS ListUnitPrice,
    -- The day's share of one cycle's units: 10 seats on a 31-day monthly cycle are 10/31 Seat-Months.
    pricing_quantity AS PricingQuantity,
    CASE WHEN pricing_model = 'per_seat' THEN 'Seat-' ELSE '' END
      || CASE billing_cycle WHEN 'monthly' THEN 'Months' WHEN 'quarterly' THEN 'Quarters' ELSE 'Years' END AS PricingUnit,
    vendor AS ProviderName,
    vendor AS PublisherName,
    coalesce(service_category, 'Business Applications') AS ServiceCategory,
    product AS ServiceName,
    vendor AS ServiceProviderName,
    coalesce(service_subcategory, 'Other (' || coalesce(service_category, 'Business Applications') || ')') AS ServiceSubcategory,
    sku_id AS SkuId,
    CASE WHEN pricing_model = 'per_seat' THEN 'Seats' ELSE 'Subscription' END AS SkuMeter,
    -- One price point of the SKU: it changes whenever the list price, currency or cycle does.
    sku_id || '/' || billing_cycle || '/' || currency || '/' || rtrim(rtrim(CAST(unit_price AS VARCHAR), '0'), '.') AS SkuPriceId,
    -- The finance team's grouping is the sub account: SaaS vendors rarely have one of their own.
    coalesce(cost_center, team) AS SubAccountId,
    coalesce(team, cost_center) AS SubAccountName,
    -- The org's own attributes of the plan as user-defined tags; merging into an empty object drops the null ones.
    CAST(json_merge_patch('{}', json_object('cost_center', cost_center, 'team', team, 'owner', owner, 'contract_id', contract_id, 'subscription_id', subscription_id)) AS JSON) AS Tags,
    'subscription' AS x_SourceSystem,
    subscription_id || '/' || cost_date AS x_SourceRecordId,
    'subscription_plan' AS x_CostSource,
    service_category IS NULL AS x_UnmappedService
  FROM {org_dataset}.saas_subscription_costs_daily
 WHERE x_org_slug = $org_slug AND x_pipeline_id = $pipeline_id AND x_credential_id = $credential_id
   AND cost_date BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)
