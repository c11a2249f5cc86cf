-- sp_genai_3_convert_to_focus, BigQuery form of the .duckdb.sql beside it: FOCUS 1.3 Cost and
-- Usage rows (cost_data_standard_1_3) from this pipeline's genai_payg_cost_daily for the run's
-- days, one row per day x provider x project or workspace x model x token type (x service tier x
-- context window). Columns are bound by name: the FOCUS columns a GenAI charge lacks are absent,
-- hence NULL. Where each number comes from: docs/genai-costs.md, "The FOCUS mapping".
-- Dialect: CONCAT for ||'s text (BigQuery's || takes text only; both are null when a part is),
-- JSON_STRIP_NULLS(JSON_OBJECT(...)) for DuckDB's json_merge_patch('{}', json_object(...)).
WITH
costs AS (
  SELECT c.*,
         CASE c.provider WHEN 'openai' THEN 'OpenAI' WHEN 'anthropic' THEN 'Anthropic' WHEN 'gemini' THEN 'Google' ELSE c.provider END AS provider_name,
         CASE c.provider WHEN 'openai' THEN 'OpenAI API' WHEN 'anthropic' THEN 'Claude API' WHEN 'gemini' THEN 'Gemini API' ELSE c.provider END AS service_name,
         CASE c.token_type
              WHEN 'input' THEN 'Input Tokens' WHEN 'cached_input' THEN 'Cached Input Tokens'
              WHEN 'cache_write' THEN 'Cache Write Tokens' WHEN 'cache_write_1h' THEN 'Cache Write Tokens (1h)'
              WHEN 'output' THEN 'Output Tokens'
              WHEN 'input_audio' THEN 'Input Audio Tokens' WHEN 'cached_input_audio' THEN 'Cached Input Audio Tokens' WHEN 'output_audio' THEN 'Output Audio Tokens'
              WHEN 'input_image' THEN 'Input Image Tokens' WHEN 'cached_input_image' THEN 'Cached Input Image Tokens' WHEN 'output_image' THEN 'Output Image Tokens'
              WHEN 'web_search' THEN 'Web Search Requests' WHEN 'file_search' THEN 'File Search Requests'
              WHEN 'images' THEN 'Images' WHEN 'characters' THEN 'Speech Characters' WHEN 'audio_seconds' THEN 'Transcription Seconds'
              WHEN 'vector_storage' THEN 'Vector Storage' WHEN 'code_interpreter_session' THEN 'Code Interpreter Sessions'
              ELSE CONCAT('Other: ', c.token_type) END AS meter,
         CONCAT(c.provider, ':', CASE WHEN c.model IS NULL THEN '' ELSE CONCAT(c.model, ':') END, c.token_type) AS sku_id
    FROM `{org_dataset}.genai_payg_cost_daily` c
   WHERE c.x_org_slug = @org_slug AND c.x_pipeline_id = @pipeline_id AND c.x_credential_id = @credential_id
     AND c.usage_date BETWEEN CAST(@start_date AS DATE) AND CAST(@end_date AS DATE)
     AND c.focus_eligible
)
SELECT
    -- The provider's amount on a day its cost report covers, else usage x contracted price.
    billed_cost AS BilledCost,
    billing_account_id AS BillingAccountId,
    billing_account_name AS BillingAccountName,
    billing_currency AS BillingCurrency,
    -- The providers invoice pay-as-you-go usage per calendar month.
    TIMESTAMP(DATE_ADD(DATE_TRUNC(usage_date, MONTH), INTERVAL 1 MONTH), 'UTC') AS BillingPeriodEnd,
    TIMESTAMP(DATE_TRUNC(usage_date, MONTH), 'UTC') AS BillingPeriodStart,
    'Usage' AS ChargeCategory,
    CONCAT(COALESCE(CONCAT(model, ' '), ''), LOWER(meter),
           CASE WHEN pricing_tier <> 'standard' THEN CONCAT(', ', pricing_tier, ' tier') ELSE '' END,
           CASE WHEN context_window IS NOT NULL THEN CONCAT(', context ', context_window) ELSE '' END) AS ChargeDescription,
    'Usage-Based' AS ChargeFrequency,
    TIMESTAMP(DATE_ADD(usage_date, INTERVAL 1 DAY), 'UTC') AS ChargePeriodEnd,
    TIMESTAMP(usage_date, 'UTC') AS ChargePeriodStart,
    -- Raw counts (tokens, requests, ...); the scale goes in PricingUnit (FOCUS PR #2605).
    consumed_quantity AS ConsumedQuantity,
    consumed_unit AS ConsumedUnit,
    contracted_cost AS ContractedCost,
    contracted_unit_price AS ContractedUnitPrice,
    -- Pay-as-you-go: no commitments to amortise, so the effective cost is the billed cost.
    billed_cost AS EffectiveCost,
    provider_name AS HostProviderName,
    provider_name AS InvoiceIssuerName,
    list_cost AS ListCost,
    list_unit_price AS ListUnitPrice,
    pricing_quantity AS PricingQuantity,
    pricing_unit AS PricingUnit,
    provider_name AS ProviderName,
    provider_name AS PublisherName,
    'AI and Machine Learning' AS ServiceCategory,
    service_name AS ServiceName,
    provider_name AS ServiceProviderName,
    'Generative AI' AS ServiceSubcategory,
    sku_id AS SkuId,
    meter AS SkuMeter,
    -- FOCUS-defined ModelId/ModelDeveloper (FOCUS PR #2442), the rest as x_ keys; nulls dropped.
    JSON_STRIP_NULLS(JSON_OBJECT(
      'ModelId', model, 'ModelDeveloper', CASE WHEN model IS NOT NULL THEN provider_name END,
      'x_ServiceTier', pricing_tier, 'x_ContextWindow', context_window,
      'x_PriceSource', list_price_source, 'x_PriceModelId', price_model_id,
      'x_PriceEffectiveFrom', CAST(price_effective_from AS STRING))) AS SkuPriceDetails,
    -- One price point of the SKU: the tier, context window and the price's effective date.
    CONCAT(sku_id, ':', pricing_tier, COALESCE(CONCAT(':', context_window), ''), COALESCE(CONCAT('@', CAST(price_effective_from AS STRING)), '')) AS SkuPriceId,
    sub_account_id AS SubAccountId,
    CASE WHEN sub_account_id IS NOT NULL THEN coalesce(sub_account_name, sub_account_id) END AS SubAccountName,
    provider AS x_SourceSystem,
    CONCAT(CAST(usage_date AS STRING), '/', provider, '/', billing_account_id, '/', COALESCE(sub_account_id, '-'), '/', COALESCE(model, '-'),
           '/', token_type, '/', pricing_tier, COALESCE(CONCAT('/', context_window), '')) AS x_SourceRecordId,
    cost_source AS x_CostSource,
    token_type AS x_TokenType,
    false AS x_UnmappedService
  FROM costs
