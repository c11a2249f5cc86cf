import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildServer } from '../../src/api/server.ts';
import { ROOT_KEY } from '../support/test-app.ts';
import { genaiApp, type GenaiApp } from './support/genai-app.ts';
import { openaiRoutes } from './support/provider-apis.ts';
import { replayServer, type ReplayServer } from './support/replay-server.ts';

const ADMIN_KEY = 'sk-admin-OPENAI-TEST-KEY-never-logged-0123456789';
const DAYS = ['2026-01-10', '2026-01-11', '2026-01-12'];

/** Day 10 and 12 have usage, day 11 none (empty buckets); OpenAI reported costs for day 10 only. */
function usage(endpoint: string, day: string): object[] {
  if (day === '2026-01-11') return [];
  const completion = (project: string, model: string, key: string, batch: boolean, input: number, cached: number, output: number) => ({
    input_tokens: input, output_tokens: output, input_cached_tokens: cached, input_audio_tokens: 0, output_audio_tokens: 0, num_model_requests: 10,
    project_id: project, user_id: null, api_key_id: key, model, batch,
  });
  switch (endpoint) {
    case 'completions':
      return [
        completion('proj_alpha', 'gpt-4o-2024-08-06', 'key_a', false, 1_000_000, 200_000, 100_000),
        completion('proj_alpha', 'gpt-4o-2024-08-06', 'key_b', false, 500_000, 0, 50_000),
        completion('proj_beta', 'gpt-4o-mini-2024-07-18', 'key_c', true, 2_000_000, 0, 400_000),
        ...(day === '2026-01-12' ? [completion('proj_beta', 'gpt-9-preview', 'key_c', false, 10_000, 0, 1_000)] : []),
      ];
    case 'embeddings':
      return [{ input_tokens: 3_000_000, num_model_requests: 10, project_id: 'proj_alpha', user_id: null, api_key_id: 'key_a', model: 'text-embedding-3-small' }];
    case 'web_search_calls':
      return [{ num_requests: 40, num_model_requests: 40, project_id: 'proj_alpha', user_id: null, api_key_id: 'key_a', model: 'gpt-4o', context_level: 'medium' }];
    case 'vector_stores':
      return [{ usage_bytes: 2 * 1024 ** 3, project_id: 'proj_alpha' }];
    default:
      return [];
  }
}

function costs(day: string): object[] {
  if (day !== '2026-01-10') return [];
  const line = (value: number | string, lineItem: string, project: string | null, quantity: number | null = null, unit: string | null = null) => ({
    amount: { value, currency: 'usd' }, line_item: lineItem, project_id: project, api_key_id: null, quantity, quantity_unit: unit,
  });
  return [
    line(3.25, 'gpt-4o-2024-08-06, input', 'proj_alpha', 1_300_000, 'tokens'),
    line('0.25', 'gpt-4o-2024-08-06, cached input', 'proj_alpha'),
    line(1.5, 'gpt-4o-2024-08-06, output', 'proj_alpha', 150, '1000_tokens'),
    line('0.15', 'gpt-4o-mini-2024-07-18, input (batch)', 'proj_beta'),
    line(0.12, 'gpt-4o-mini-2024-07-18, output (batch)', 'proj_beta'),
    line(0.06, 'text-embedding-3-small, input', 'proj_alpha'),
    line('0.40', 'Web search tool calls', null),
    line(0.1, 'Vector store storage', 'proj_alpha', 48, 'gibibyte_hours'),
  ];
}

describe('OpenAI: admin API to FOCUS through the real engine', () => {
  let server: ReplayServer;
  let genai: GenaiApp;
  let first: Awaited<ReturnType<GenaiApp['run']>>;
  const route = 'genai/payg/openai';
  const body = { start_date: DAYS[0], end_date: DAYS[2] };

  before(async () => {
    // One bucket per page: three pages per endpoint for three days.
    server = await replayServer(openaiRoutes({ adminKey: ADMIN_KEY, usage, costs, pageBuckets: 1 }));
    genai = await genaiApp({ org: 'oai_org' });
    await genai.app.credentials.set(genai.org, { provider: 'openai', secret: ADMIN_KEY, metadata: { base_url: `${server.url}/v1`, organization_id: 'org-acme', organization_name: 'Acme AI', requests_per_second: 200 } });
    // A 429 with Retry-After, a 500 and a body cut off mid-way, all on the first listing.
    server.inject('/v1/organization/usage/completions', { kind: 'status', status: 429, retryAfter: '1' }, { kind: 'status', status: 500 }, { kind: 'truncate' });
    first = await genai.run(route, body);
  });
  after(async () => {
    await genai?.close();
    await server?.close();
  });

  test('the run completes after retrying the 429 (after its Retry-After), the 500 and the truncated body', () => {
    assert.equal(first.run.status, 'completed', first.run.error_message ?? '');
    const completions = server.requests.filter((request) => request.path === '/v1/organization/usage/completions');
    // 3 failed attempts + 3 pages.
    assert.equal(completions.length, 6);
    assert.ok(completions[1]!.at - completions[0]!.at >= 1000, `waited ${completions[1]!.at - completions[0]!.at} ms after Retry-After: 1`);
    const firstRequest = completions[0]!;
    assert.equal(firstRequest.headers.authorization, `Bearer ${ADMIN_KEY}`);
    assert.deepEqual(firstRequest.query.getAll('group_by'), ['project_id', 'model', 'api_key_id', 'batch', 'service_tier']);
    assert.equal(firstRequest.query.get('start_time'), String(Date.parse('2026-01-10T00:00:00Z') / 1000));
    assert.equal(firstRequest.query.get('end_time'), String(Date.parse('2026-01-13T00:00:00Z') / 1000));
    assert.equal(completions.at(-1)!.query.get('page')?.startsWith('page_'), true, 'later pages follow next_page');
    const endpoints = new Set(server.requests.map((request) => request.path.split('/').pop()));
    for (const endpoint of ['completions', 'embeddings', 'moderations', 'images', 'audio_speeches', 'audio_transcriptions', 'vector_stores', 'code_interpreter_sessions', 'file_search_calls', 'web_search_calls', 'costs']) assert.ok(endpoints.has(endpoint), endpoint);
  });

  test('raw rows keep every result of every page; empty buckets add none; string amounts stay exact', async () => {
    const raw = await genai.query<{ endpoint: string; n: number }>(`SELECT endpoint, count(*)::INT AS n FROM oai_org_dev.genai_openai_usage_raw GROUP BY ALL ORDER BY endpoint`);
    assert.deepEqual(raw, [{ endpoint: 'completions', n: 7 }, { endpoint: 'embeddings', n: 2 }, { endpoint: 'vector_stores', n: 2 }, { endpoint: 'web_search_calls', n: 2 }]);
    const [amounts] = await genai.query<{ total: string; lines: number }>(`SELECT CAST(sum(amount_value) AS VARCHAR) AS total, count(*)::INT AS lines FROM oai_org_dev.genai_openai_costs_raw`);
    assert.deepEqual(amounts, { total: '5.830000000', lines: 8 });
    const days = await genai.query<{ d: string }>(`SELECT DISTINCT CAST(x_pipeline_run_date AS VARCHAR) AS d FROM oai_org_dev.genai_openai_usage_raw ORDER BY 1`);
    assert.deepEqual(days.map((row) => row.d), ['2026-01-10', '2026-01-12']);
    const [account] = await genai.query(`SELECT DISTINCT billing_account_id, billing_account_name FROM oai_org_dev.genai_openai_usage_raw`);
    assert.deepEqual(account, { billing_account_id: 'org-acme', billing_account_name: 'Acme AI' });
  });

  test('FOCUS rows: one per day x project x model x token type, billed from OpenAI’s costs where it reported', async () => {
    const row = await genai.query(
      `SELECT CAST(BilledCost AS VARCHAR) AS billed, CAST(ListCost AS VARCHAR) AS list, CAST(ListUnitPrice AS VARCHAR) AS price, CAST(PricingQuantity AS VARCHAR) AS pq,
              CAST(ConsumedQuantity AS VARCHAR) AS qty, ConsumedUnit, PricingUnit, SkuId, SkuMeter, SubAccountId, BillingAccountId, ServiceCategory, ServiceSubcategory,
              ServiceName, x_CostSource, x_TokenType, x_SourceSystem, CAST(x_pipeline_run_date AS VARCHAR) AS run_date
         FROM oai_org_dev.cost_data_standard_1_3 WHERE SkuId = 'openai:gpt-4o-2024-08-06:input' ORDER BY ChargePeriodStart`,
    );
    assert.deepEqual(row[0], {
      billed: '3.250000000', list: '3.250000000', price: '2.500000000000000000', pq: '1.300000000000000000', qty: '1300000.000000000000000000', ConsumedUnit: 'Tokens', PricingUnit: '1000000 Tokens',
      SkuId: 'openai:gpt-4o-2024-08-06:input', SkuMeter: 'Input Tokens', SubAccountId: 'proj_alpha', BillingAccountId: 'org-acme', ServiceCategory: 'AI and Machine Learning',
      ServiceSubcategory: 'Generative AI', ServiceName: 'OpenAI API', x_CostSource: 'provider_reported', x_TokenType: 'input', x_SourceSystem: 'openai', run_date: '2026-01-10',
    });
    assert.equal(row[1]?.x_CostSource, 'calculated', 'day 12 has no OpenAI cost: usage x price');
    assert.equal(row[1]?.billed, '3.250000000');

    const perDay = await genai.query<{ d: string; billed: string; rows: number; sources: string }>(
      `SELECT CAST(CAST(ChargePeriodStart AS DATE) AS VARCHAR) AS d, CAST(sum(BilledCost) AS VARCHAR) AS billed, count(*)::INT AS rows, string_agg(DISTINCT x_CostSource, ',') AS sources
         FROM oai_org_dev.cost_data_standard_1_3 GROUP BY 1 ORDER BY 1`,
    );
    // Day 10: OpenAI's 5.83 without the 0.40 of web search calls it gave no quantity for.
    // Day 12: 3.25 + 0.25 + 1.5 (gpt-4o) + 0.15 + 0.12 (gpt-4o-mini at batch price) + 0.06 + 0.40 (web search).
    assert.deepEqual(perDay, [
      { d: '2026-01-10', billed: '5.430000000', rows: 8, sources: 'provider_reported' },
      { d: '2026-01-12', billed: '5.730000000', rows: 7, sources: 'calculated' },
    ]);
    const [batch] = await genai.query(`SELECT CAST(ListUnitPrice AS VARCHAR) AS price, SkuPriceId FROM oai_org_dev.cost_data_standard_1_3 WHERE SkuId = 'openai:gpt-4o-mini-2024-07-18:input' AND x_CostSource = 'calculated'`);
    assert.deepEqual(batch, { price: '0.075000000000000000', SkuPriceId: 'openai:gpt-4o-mini-2024-07-18:input:batch' });
    const [search] = await genai.query(`SELECT CAST(BilledCost AS VARCHAR) AS billed, CAST(ListCost AS VARCHAR) AS list FROM oai_org_dev.cost_data_standard_1_3 WHERE x_TokenType = 'web_search' AND x_CostSource = 'provider_reported'`);
    assert.deepEqual(search, { billed: '0.000000000', list: '0.400000000' }, 'usage OpenAI’s bill has no line for is billed 0 that day, at its list cost');
  });

  test('the unknown model keeps its rows, priced null, and is flagged; no zero cost is invented', async () => {
    const unknown = await genai.query(`SELECT token_type, CAST(consumed_quantity AS VARCHAR) AS qty, list_unit_price, billed_cost, price_status, focus_eligible FROM oai_org_dev.genai_payg_cost_daily WHERE model = 'gpt-9-preview' ORDER BY token_type`);
    assert.deepEqual(unknown, [
      { token_type: 'input', qty: '10000.000000000000000000', list_unit_price: null, billed_cost: null, price_status: 'unknown_model', focus_eligible: false },
      { token_type: 'output', qty: '1000.000000000000000000', list_unit_price: null, billed_cost: null, price_status: 'unknown_model', focus_eligible: false },
    ]);
    const [inFocus] = await genai.query<{ n: number }>(`SELECT count(*)::INT AS n FROM oai_org_dev.cost_data_standard_1_3 WHERE SkuId LIKE '%gpt-9%'`);
    assert.equal(inFocus?.n, 0);
    const flagged = await genai.app.runs.quality(genai.org, first.runId);
    const missing = flagged.filter((q) => q.rule_id === 'GENAI-PRICE-MISSING');
    assert.deepEqual(missing.map((q) => [q.details?.model, q.details?.token_type, q.status]).sort(), [['(no model)', 'vector_storage', 'warn'], ['gpt-9-preview', 'input', 'warn'], ['gpt-9-preview', 'output', 'warn']]);
  });

  test('quality: conformance and reconciliation pass; estimate vs billed per model; billed cost FOCUS cannot hold', async () => {
    const quality = await genai.app.runs.quality(genai.org, first.runId);
    assert.deepEqual(quality.filter((q) => q.status === 'fail').map((q) => q.rule_id), []);
    assert.ok(quality.filter((q) => q.check_kind === 'focus_rule' && q.status === 'pass').length > 150);
    assert.deepEqual(quality.filter((q) => q.check_kind === 'reconciliation').map((q) => [q.rule_id, q.status, q.details?.focus_total]), [['RECONCILE-BilledCost', 'pass', '11.160000000'], ['RECONCILE-EffectiveCost', 'pass', '11.160000000']]);
    const byModel = Object.fromEntries(quality.filter((q) => q.rule_id === 'GENAI-ESTIMATE-VS-BILLED').map((q) => [q.details?.model, [q.status, q.details?.estimated_cost, q.details?.billed_cost]]));
    assert.deepEqual(byModel, {
      '(no model)': ['warn', null, '0.500000000'],
      'gpt-4o': ['warn', '0.400000000', '0.000000000'],
      'gpt-4o-2024-08-06': ['pass', '5.000000000', '5.000000000'],
      'gpt-4o-mini-2024-07-18': ['pass', '0.270000000', '0.270000000'],
      'text-embedding-3-small': ['pass', '0.060000000', '0.060000000'],
    });
    const lost = quality.find((q) => q.rule_id === 'GENAI-BILLED-NOT-IN-FOCUS');
    assert.equal(lost?.details?.amount, '0.400000000');
  });

  test('genai/unified/consolidate summarises the provider pipelines per day and model', async () => {
    const unified = await genai.run('genai/unified/consolidate', body);
    assert.equal(unified.run.status, 'completed', unified.run.error_message ?? '');
    const rows = await genai.query(
      `SELECT CAST(usage_date AS VARCHAR) AS d, CAST(input_tokens AS BIGINT) AS input, CAST(cached_input_tokens AS BIGINT) AS cached, CAST(output_tokens AS BIGINT) AS output,
              CAST(calculated_cost AS VARCHAR) AS calculated, CAST(billed_cost AS VARCHAR) AS billed, cost_sources, source_pipeline_id
         FROM oai_org_dev.genai_usage_cost_daily WHERE model = 'gpt-4o-2024-08-06' ORDER BY 1`,
    );
    const common = { input: '1300000', cached: '200000', output: '150000', calculated: '5.000000000', billed: '5.000000000', source_pipeline_id: 'genai_openai_payg' };
    assert.deepEqual(rows, [{ d: '2026-01-10', ...common, cost_sources: 'provider_reported' }, { d: '2026-01-12', ...common, cost_sources: 'calculated' }]);
    const [unpriced] = await genai.query(`SELECT CAST(unpriced_tokens AS BIGINT) AS n, calculated_cost FROM oai_org_dev.genai_usage_cost_daily WHERE model = 'gpt-9-preview'`);
    assert.deepEqual(unpriced, { n: '11000', calculated_cost: null }, 'unpriced usage makes the calculated cost unknown, not smaller');
  });

  test('a re-run of the same days gives the same rows, never duplicates', async () => {
    const snapshot = async () =>
      genai.query(`SELECT (SELECT count(*) FROM oai_org_dev.genai_openai_usage_raw)::INT AS raw, (SELECT count(*) FROM oai_org_dev.genai_payg_usage_daily)::INT AS daily,
                          (SELECT count(*) FROM oai_org_dev.genai_payg_cost_daily)::INT AS costs, (SELECT count(*) FROM oai_org_dev.cost_data_standard_1_3)::INT AS focus,
                          (SELECT CAST(sum(BilledCost) AS VARCHAR) FROM oai_org_dev.cost_data_standard_1_3) AS billed`);
    const before = await snapshot();
    const again = await genai.run(route, body);
    assert.equal(again.run.status, 'completed', again.run.error_message ?? '');
    assert.deepEqual(await snapshot(), before);
    const [runs] = await genai.query<{ n: number }>(`SELECT count(DISTINCT x_run_id)::INT AS n FROM oai_org_dev.cost_data_standard_1_3`);
    assert.equal(runs?.n, 1, 'every row is from the latest run');
  });

  test('the admin key appears in no log line, step, trace, quality result or response', async () => {
    const api = await buildServer(genai.app);
    const { api_key } = await genai.app.orgs.createKey(genai.org);
    const headers = { 'x-api-key': api_key };
    const texts: string[] = [];
    for (const path of ['', '/steps', '/transitions', '/quality', '/download']) texts.push((await api.inject({ url: `/api/v1/pipelines/logs/${genai.org}/${first.runId}${path}`, headers })).payload);
    texts.push((await api.inject({ url: `/api/v1/pipelines/status/${genai.org}/${first.runId}`, headers })).payload);
    texts.push((await api.inject({ url: `/api/v1/admin/orgs/${genai.org}/credentials`, headers: { 'x-ca-root-key': ROOT_KEY } })).payload);
    const logs = await genai.app.runs.logs(genai.org, first.runId);
    assert.ok(logs.some((line) => line.message === 'http request failed, retrying'), 'the retries were logged');
    texts.push(JSON.stringify(logs), JSON.stringify(await genai.app.runs.steps(genai.org, first.runId)), JSON.stringify(await genai.app.runs.quality(genai.org, first.runId)));
    for (const text of texts) assert.ok(!text.includes(ADMIN_KEY) && !text.includes('OPENAI-TEST-KEY'), text.slice(0, 200));
    await api.close();
  });
});
