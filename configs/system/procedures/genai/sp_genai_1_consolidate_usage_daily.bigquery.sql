-- sp_genai_1_consolidate_usage_daily, BigQuery form of the .duckdb.sql beside it: this
-- pipeline's raw GenAI usage and cost reports of the run's days, as one row per day x provider x
-- billing account x project/workspace x model x token type x pricing tier x context window
-- (genai_payg_usage_daily). The token decomposition and the line-item parsing are explained in
-- docs/genai-costs.md. Dialect: DuckDB's LATERAL VALUES is an UNNEST of a typed array of
-- structs; UNION ALL BY NAME is UNION ALL CORRESPONDING (the branches have the same columns);
-- REGEXP_EXTRACT gives NULL where DuckDB's regexp_extract gives '', so it is coalesced to '';
-- DuckDB's any_value skips nulls and BigQuery's ANY_VALUE may pick one, so the names and the
-- currency of a key (one value per key, or none) are its MAX, which skips nulls.
WITH
partition_filter AS (
  SELECT @org_slug AS org, @pipeline_id AS pipeline, @credential_id AS credential,
         CAST(@start_date AS DATE) AS first_day, CAST(@end_date AS DATE) AS last_day
),
-- OpenAI changed what its token fields count (docs/genai-costs.md, "Two definitions"). A result
-- with any of the fields added in 2026-07 (cache writes, the text/image split, cached audio)
-- counts audio and images inside input_tokens/output_tokens; a result with none of them is of
-- the earlier definition, where input_tokens/output_tokens are text only and the audio fields come
-- on top (a real capture has output_audio_tokens 3,103 against output_tokens 822 on one day).
-- Decided per result, so a page, a bucket or a range mixing both is counted right.
openai_raw AS (
  SELECT r.*,
         coalesce(r.input_cache_write_tokens, r.input_uncached_tokens, r.input_text_tokens, r.input_cached_text_tokens,
                  r.input_cached_audio_tokens, r.input_image_tokens, r.input_cached_image_tokens, r.output_text_tokens,
                  r.output_image_tokens) IS NOT NULL AS totals_include_audio
    FROM `{org_dataset}.genai_openai_usage_raw` r, partition_filter p
   WHERE r.x_org_slug = p.org AND r.x_pipeline_id = p.pipeline AND r.x_credential_id = p.credential
     AND r.usage_date BETWEEN p.first_day AND p.last_day
),
-- Completions split into the priced classes, each token counted in exactly one class:
-- * 2026-07 definition: input_tokens = uncached + cached + cache writes, each of text, audio and
--   image (input_audio_tokens and input_image_tokens are the uncached ones); output_tokens = text +
--   audio + image. The API sends the split; where one of its fields is missing it is what remains.
-- * earlier definition: input_tokens = text input, cached text included (input_cached_tokens);
--   input_audio_tokens = audio input, cached audio included (no split given, so all of it is
--   input_audio); output_tokens = text output; output_audio_tokens on top.
-- The floors at zero are only reached by a result contradicting its own definition.
openai_usage AS (
  SELECT r.usage_date, 'openai' AS provider, r.billing_account_id, r.billing_account_name,
         r.project_id AS sub_account_id, r.project_id AS sub_account_name, r.model,
         CASE WHEN r.batch THEN 'batch'
              WHEN r.service_tier IS NULL OR r.service_tier IN ('default', 'auto', 'standard') THEN 'standard'
              ELSE r.service_tier END AS pricing_tier,
         CAST(NULL AS STRING) AS context_window,
         t.token_type, t.consumed_unit, t.quantity AS usage_quantity
    FROM openai_raw r
   CROSS JOIN UNNEST(ARRAY<STRUCT<token_type STRING, consumed_unit STRING, quantity NUMERIC>>[
     ('input', 'Tokens', CASE
        WHEN r.endpoint IN ('embeddings', 'moderations') THEN r.input_tokens
        WHEN r.endpoint <> 'completions' THEN NULL
        WHEN r.totals_include_audio THEN coalesce(r.input_text_tokens, greatest(0,
          coalesce(r.input_uncached_tokens, coalesce(r.input_tokens, 0) - coalesce(r.input_cached_tokens, 0) - coalesce(r.input_cache_write_tokens, 0))
          - coalesce(r.input_audio_tokens, 0) - coalesce(r.input_image_tokens, 0)))
        ELSE greatest(0, coalesce(r.input_tokens, 0) - coalesce(r.input_cached_tokens, 0)) END),
     ('cached_input', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN
        CASE WHEN r.totals_include_audio
             THEN coalesce(r.input_cached_text_tokens, greatest(0, coalesce(r.input_cached_tokens, 0) - coalesce(r.input_cached_audio_tokens, 0) - coalesce(r.input_cached_image_tokens, 0)))
             ELSE r.input_cached_tokens END END),
     ('cache_write', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN r.input_cache_write_tokens END),
     ('input_audio', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN r.input_audio_tokens END),
     ('cached_input_audio', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN r.input_cached_audio_tokens END),
     ('input_image', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN r.input_image_tokens END),
     ('cached_input_image', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN r.input_cached_image_tokens END),
     ('output', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN
        CASE WHEN r.totals_include_audio
             THEN coalesce(r.output_text_tokens, greatest(0, coalesce(r.output_tokens, 0) - coalesce(r.output_audio_tokens, 0) - coalesce(r.output_image_tokens, 0)))
             ELSE r.output_tokens END END),
     ('output_audio', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN r.output_audio_tokens END),
     ('output_image', 'Tokens', CASE WHEN r.endpoint = 'completions' THEN r.output_image_tokens END),
     ('images', 'Images', CASE WHEN r.endpoint = 'images' THEN r.images END),
     ('characters', 'Characters', CASE WHEN r.endpoint = 'audio_speeches' THEN r.characters END),
     ('audio_seconds', 'Seconds', CASE WHEN r.endpoint = 'audio_transcriptions' THEN r.seconds END),
     -- A day's stored bytes, as GiB-hours (the unit the costs endpoint bills storage in).
     ('vector_storage', 'GiB-Hours', CASE WHEN r.endpoint = 'vector_stores' THEN CAST(r.usage_bytes AS NUMERIC) * 24 / 1073741824 END),
     ('code_interpreter_session', 'Sessions', CASE WHEN r.endpoint = 'code_interpreter_sessions' THEN r.num_sessions END),
     ('file_search', 'Requests', CASE WHEN r.endpoint = 'file_search_calls' THEN r.num_requests END),
     ('web_search', 'Requests', CASE WHEN r.endpoint = 'web_search_calls' THEN r.num_requests END)
   ]) AS t
   WHERE t.quantity IS NOT NULL AND t.quantity <> 0
),
-- OpenAI line items: "<model>, <kind>" for model usage ("gpt-4o-2024-08-06, cached input"),
-- a plain name for tools ("Web search tool calls").
openai_cost_lines AS (
  SELECT r.*,
         CASE WHEN STRPOS(r.line_item, ', ') > 0 THEN COALESCE(REGEXP_EXTRACT(r.line_item, r'^(.*), [^,]*$'), '') END AS line_model,
         LOWER(CASE WHEN STRPOS(r.line_item, ', ') > 0 THEN COALESCE(REGEXP_EXTRACT(r.line_item, r', ([^,]*)$'), '') ELSE COALESCE(r.line_item, '') END) AS kind
    FROM `{org_dataset}.genai_openai_costs_raw` r, partition_filter p
   WHERE r.x_org_slug = p.org AND r.x_pipeline_id = p.pipeline AND r.x_credential_id = p.credential
     AND r.usage_date BETWEEN p.first_day AND p.last_day
),
openai_cost_typed AS (
  SELECT c.*,
         CASE WHEN c.line_model IS NULL THEN
                CASE WHEN c.kind LIKE '%web search%' THEN 'web_search'
                     WHEN c.kind LIKE '%file search%' THEN 'file_search'
                     WHEN c.kind LIKE '%code interpreter%' THEN 'code_interpreter_session'
                     WHEN c.kind LIKE '%vector stor%' THEN 'vector_storage'
                     ELSE 'other' END
              WHEN c.kind LIKE '%cache%writ%' OR c.kind LIKE '%cache creation%' THEN 'cache_write'
              WHEN c.kind LIKE '%cached%' OR c.kind LIKE '%cache read%' THEN
                CASE WHEN c.kind LIKE '%audio%' THEN 'cached_input_audio' WHEN c.kind LIKE '%image%' THEN 'cached_input_image' ELSE 'cached_input' END
              WHEN c.kind LIKE '%input%' THEN
                CASE WHEN c.kind LIKE '%audio%' THEN 'input_audio' WHEN c.kind LIKE '%image%' THEN 'input_image' ELSE 'input' END
              WHEN c.kind LIKE '%output%' THEN
                CASE WHEN c.kind LIKE '%audio%' THEN 'output_audio' WHEN c.kind LIKE '%image%' THEN 'output_image' ELSE 'output' END
              ELSE 'other' END AS token_type,
         CASE WHEN c.kind LIKE '%batch%' THEN 'batch' WHEN c.kind LIKE '%flex%' THEN 'flex' WHEN c.kind LIKE '%priority%' THEN 'priority' ELSE 'standard' END AS pricing_tier,
         CASE c.quantity_unit
              WHEN 'tokens' THEN 'Tokens' WHEN '1000_tokens' THEN 'Tokens'
              WHEN 'duration_seconds' THEN 'Seconds' WHEN 'duration_minutes' THEN 'Seconds' WHEN 'duration_hours' THEN 'Seconds'
              WHEN 'gibibyte_hours' THEN 'GiB-Hours' WHEN 'images' THEN 'Images' WHEN 'characters' THEN 'Characters' END AS quantity_consumed_unit,
         c.quantity * CASE c.quantity_unit WHEN '1000_tokens' THEN 1000 WHEN 'duration_minutes' THEN 60 WHEN 'duration_hours' THEN 3600 ELSE 1 END AS quantity_in_unit
    FROM openai_cost_lines c
),
openai_reported AS (
  SELECT usage_date, 'openai' AS provider, billing_account_id, billing_account_name,
         project_id AS sub_account_id, project_id AS sub_account_name,
         coalesce(line_model, CASE WHEN token_type = 'other' THEN line_item END) AS model,
         pricing_tier, CAST(NULL AS STRING) AS context_window, token_type,
         coalesce(CASE token_type
                    WHEN 'images' THEN 'Images' WHEN 'web_search' THEN 'Requests' WHEN 'file_search' THEN 'Requests'
                    WHEN 'vector_storage' THEN 'GiB-Hours' WHEN 'code_interpreter_session' THEN 'Sessions'
                    WHEN 'other' THEN quantity_consumed_unit ELSE 'Tokens' END, 'Units') AS consumed_unit,
         quantity_consumed_unit, quantity_in_unit, amount_value AS reported_cost, upper(currency) AS reported_currency
    FROM openai_cost_typed
),
anthropic_usage AS (
  SELECT r.usage_date, 'anthropic' AS provider, r.billing_account_id, r.billing_account_name,
         -- A null workspace is the organisation's default workspace.
         coalesce(r.workspace_id, 'default') AS sub_account_id,
         CASE WHEN r.workspace_id IS NULL THEN 'Default workspace' ELSE r.workspace_id END AS sub_account_name,
         r.model, coalesce(r.service_tier, 'standard') AS pricing_tier, r.context_window,
         t.token_type, t.consumed_unit, t.quantity AS usage_quantity
    FROM `{org_dataset}.genai_anthropic_usage_raw` r, partition_filter p
   CROSS JOIN UNNEST(ARRAY<STRUCT<token_type STRING, consumed_unit STRING, quantity NUMERIC>>[
     ('input', 'Tokens', r.uncached_input_tokens),
     ('cached_input', 'Tokens', r.cache_read_input_tokens),
     ('cache_write', 'Tokens', r.cache_creation_5m_input_tokens),
     ('cache_write_1h', 'Tokens', r.cache_creation_1h_input_tokens),
     ('output', 'Tokens', r.output_tokens),
     ('web_search', 'Requests', r.web_search_requests)
   ]) AS t
   WHERE r.x_org_slug = p.org AND r.x_pipeline_id = p.pipeline AND r.x_credential_id = p.credential
     AND r.usage_date BETWEEN p.first_day AND p.last_day
     AND t.quantity IS NOT NULL AND t.quantity <> 0
),
anthropic_reported AS (
  SELECT r.usage_date, 'anthropic' AS provider, r.billing_account_id, r.billing_account_name,
         coalesce(r.workspace_id, 'default') AS sub_account_id,
         CASE WHEN r.workspace_id IS NULL THEN 'Default workspace' ELSE r.workspace_id END AS sub_account_name,
         r.model, coalesce(r.service_tier, 'standard') AS pricing_tier, r.context_window,
         CASE WHEN r.cost_type = 'tokens' THEN
                CASE r.token_type WHEN 'uncached_input_tokens' THEN 'input' WHEN 'output_tokens' THEN 'output'
                                  WHEN 'cache_read_input_tokens' THEN 'cached_input'
                                  WHEN 'cache_creation.ephemeral_5m_input_tokens' THEN 'cache_write'
                                  WHEN 'cache_creation.ephemeral_1h_input_tokens' THEN 'cache_write_1h' ELSE 'other' END
              WHEN r.cost_type = 'web_search' THEN 'web_search'
              ELSE coalesce(r.cost_type, 'other') END AS token_type,
         CASE WHEN r.cost_type = 'tokens' THEN 'Tokens' WHEN r.cost_type = 'web_search' THEN 'Requests' ELSE 'Units' END AS consumed_unit,
         -- The cost report's amount is in cents: exact decimal arithmetic, never a float.
         CAST(r.amount_cents * NUMERIC '0.01' AS NUMERIC) AS reported_cost,
         upper(r.currency) AS reported_currency
    FROM `{org_dataset}.genai_anthropic_costs_raw` r, partition_filter p
   WHERE r.x_org_slug = p.org AND r.x_pipeline_id = p.pipeline AND r.x_credential_id = p.credential
     AND r.usage_date BETWEEN p.first_day AND p.last_day
),
gemini_usage AS (
  SELECT r.usage_date, 'gemini' AS provider, r.billing_account_id, r.billing_account_name,
         r.gcp_project_id AS sub_account_id, r.gcp_project_id AS sub_account_name, r.model,
         'standard' AS pricing_tier, CAST(NULL AS STRING) AS context_window,
         r.direction AS token_type, 'Tokens' AS consumed_unit, CAST(r.token_count AS NUMERIC) AS usage_quantity
    FROM `{org_dataset}.genai_gemini_usage_raw` r, partition_filter p
   WHERE r.x_org_slug = p.org AND r.x_pipeline_id = p.pipeline AND r.x_credential_id = p.credential
     AND r.usage_date BETWEEN p.first_day AND p.last_day AND r.token_count <> 0
),
facts AS (
  SELECT usage_date, provider, billing_account_id, billing_account_name, sub_account_id, sub_account_name, model, token_type,
         pricing_tier, context_window, consumed_unit, usage_quantity,
         CAST(NULL AS NUMERIC) AS reported_quantity, CAST(NULL AS NUMERIC) AS reported_cost,
         CAST(NULL AS STRING) AS reported_currency, true AS from_usage, false AS from_report
    FROM (SELECT * FROM openai_usage UNION ALL CORRESPONDING SELECT * FROM anthropic_usage UNION ALL CORRESPONDING SELECT * FROM gemini_usage)
  UNION ALL CORRESPONDING
  SELECT usage_date, provider, billing_account_id, billing_account_name, sub_account_id, sub_account_name, model, token_type,
         pricing_tier, context_window, consumed_unit, CAST(NULL AS NUMERIC) AS usage_quantity,
         CASE WHEN quantity_consumed_unit = consumed_unit THEN CAST(quantity_in_unit AS NUMERIC) END AS reported_quantity,
         CAST(reported_cost AS NUMERIC) AS reported_cost, reported_currency, false AS from_usage, true AS from_report
    FROM openai_reported
  UNION ALL CORRESPONDING
  SELECT usage_date, provider, billing_account_id, billing_account_name, sub_account_id, sub_account_name, model, token_type,
         pricing_tier, context_window, consumed_unit, CAST(NULL AS NUMERIC) AS usage_quantity,
         CAST(NULL AS NUMERIC) AS reported_quantity, reported_cost, reported_currency, false AS from_usage, true AS from_report
    FROM anthropic_reported
),
keyed AS (
  SELECT usage_date, provider, billing_account_id, MAX(billing_account_name) AS billing_account_name,
         sub_account_id, MAX(sub_account_name) AS sub_account_name, model, token_type, pricing_tier, context_window, consumed_unit,
         sum(usage_quantity) AS usage_quantity, sum(reported_quantity) AS reported_quantity, sum(reported_cost) AS reported_cost,
         MAX(reported_currency) AS reported_currency, LOGICAL_OR(from_usage) AS from_usage, LOGICAL_OR(from_report) AS from_report
    FROM facts
   GROUP BY usage_date, provider, billing_account_id, sub_account_id, model, token_type, pricing_tier, context_window, consumed_unit
)
SELECT usage_date, provider, billing_account_id, billing_account_name, sub_account_id, sub_account_name, model, token_type,
       pricing_tier, context_window, consumed_unit, usage_quantity, reported_quantity, reported_cost, reported_currency,
       -- The provider's cost report is the billed truth of a day it covers at all.
       LOGICAL_OR(from_report) OVER (PARTITION BY provider, billing_account_id, usage_date) AS day_reported,
       CASE WHEN from_usage AND from_report THEN 'usage+cost_report' WHEN from_report THEN 'cost_report' ELSE 'usage' END AS source
  FROM keyed
