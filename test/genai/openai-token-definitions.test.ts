import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { genaiApp, type GenaiApp } from './support/genai-app.ts';
import { openaiRoutes } from './support/provider-apis.ts';
import { replayServer, type ReplayServer } from './support/replay-server.ts';

/**
 * OpenAI's completions usage under its two definitions of the token fields (docs/genai-costs.md,
 * "Two definitions of the token fields"): every token of a response must be in exactly one FOCUS
 * row, whichever definition the response uses.
 */

const ADMIN_KEY = 'sk-admin-TOKEN-DEFINITIONS-0123456789';

type Result = Record<string, number | string | boolean | null>;
const dims = (project: string, model: string, key: string): Result => ({ project_id: project, user_id: null, api_key_id: key, model, batch: false });

/**
 * Earlier responses: no cache writes, no text/image split, no service_tier; input_tokens and
 * output_tokens count text only and the audio fields come on top. 2025-03-10 is like the real
 * capture's day: more audio output (3,103) than output_tokens (822).
 */
const OLD: Record<string, Result[]> = {
  '2025-03-10': [
    { ...dims('proj_voice', 'gpt-4o-realtime-preview-2024-12-17', 'key_a'), input_tokens: 9_412, input_cached_tokens: 1_280, input_audio_tokens: 5_260, output_tokens: 822, output_audio_tokens: 3_103, num_model_requests: 31 },
  ],
  '2025-03-11': [
    { ...dims('proj_voice', 'gpt-4o-realtime-preview-2024-12-17', 'key_a'), input_tokens: 40_000, input_cached_tokens: 10_000, input_audio_tokens: 1_500, output_tokens: 2_000, output_audio_tokens: 300, num_model_requests: 12 },
    { ...dims('proj_text', 'gpt-4o-2024-08-06', 'key_b'), input_tokens: 100_000, input_cached_tokens: 0, input_audio_tokens: 0, output_tokens: 5_000, output_audio_tokens: 0, num_model_requests: 40 },
  ],
};

/**
 * Responses since 2026-07: input_tokens = uncached + cached + cache writes over every modality,
 * output_tokens = text + audio + image, and the split is sent (the spec's example, x 10). The
 * second result's audio output is most of its output, as the earlier day's was, but inside it.
 */
const NEW: Record<string, Result[]> = {
  '2026-08-04': [
    {
      ...dims('proj_voice', 'gpt-realtime', 'key_a'), service_tier: 'default', num_model_requests: 50,
      input_tokens: 10_000, input_cached_tokens: 4_000, input_cache_write_tokens: 1_000, input_uncached_tokens: 5_000,
      input_text_tokens: 4_000, input_cached_text_tokens: 3_000, input_audio_tokens: 500, input_cached_audio_tokens: 500, input_image_tokens: 500, input_cached_image_tokens: 500,
      output_tokens: 5_000, output_text_tokens: 4_000, output_audio_tokens: 500, output_image_tokens: 500,
    },
    {
      ...dims('proj_voice', 'gpt-realtime', 'key_b'), service_tier: 'default', num_model_requests: 9,
      input_tokens: 7_000, input_cached_tokens: 0, input_cache_write_tokens: 0, input_uncached_tokens: 7_000,
      input_text_tokens: 1_000, input_cached_text_tokens: 0, input_audio_tokens: 6_000, input_cached_audio_tokens: 0, input_image_tokens: 0, input_cached_image_tokens: 0,
      output_tokens: 4_000, output_text_tokens: 900, output_audio_tokens: 3_100, output_image_tokens: 0,
    },
  ],
};

const num = (result: Result, field: string) => Number(result[field] ?? 0);
/** The tokens a result reports, under the definition it was written in. */
const reportedTokens = (result: Result) =>
  'input_cache_write_tokens' in result
    ? num(result, 'input_tokens') + num(result, 'output_tokens')
    : num(result, 'input_tokens') + num(result, 'input_audio_tokens') + num(result, 'output_tokens') + num(result, 'output_audio_tokens');
const dayTotal = (results: Result[]) => results.reduce((sum, result) => sum + reportedTokens(result), 0);

describe('OpenAI token classes under both definitions of the usage fields', () => {
  let server: ReplayServer;
  let genai: GenaiApp;
  const runs: Awaited<ReturnType<GenaiApp['run']>>[] = [];

  before(async () => {
    const data = { ...OLD, ...NEW };
    // One result a page: a day's bucket continues on the next page, as a large bucket does.
    server = await replayServer(openaiRoutes({ adminKey: ADMIN_KEY, usage: (endpoint, day) => (endpoint === 'completions' ? (data[day] ?? []) : []), pageResults: 1 }));
    genai = await genaiApp({ org: 'oai_defs' });
    await genai.app.credentials.set(genai.org, { provider: 'openai', secret: ADMIN_KEY, metadata: { base_url: `${server.url}/v1`, organization_id: 'org-defs', requests_per_second: 200 } });
    server.inject('/v1/organization/usage/completions', { kind: 'status', status: 429, retryAfterMs: '20' }, { kind: 'status', status: 503 });
    runs.push(await genai.run('genai/payg/openai', { start_date: '2025-03-10', end_date: '2025-03-11' }));
    runs.push(await genai.run('genai/payg/openai', { start_date: '2026-08-04', end_date: '2026-08-04' }));
  });
  after(async () => {
    await genai?.close();
    await server?.close();
  });

  const focusTokens = (day: string) =>
    genai.query<{ token_type: string; tokens: string }>(
      `SELECT x_TokenType AS token_type, CAST(sum(ConsumedQuantity) AS BIGINT)::VARCHAR AS tokens FROM oai_defs_dev.cost_data_standard_1_3
        WHERE CAST(ChargePeriodStart AS DATE) = DATE '${day}' GROUP BY 1 ORDER BY 1`,
    );

  test('both runs complete through the 429, the 503 and a page per result, with every FOCUS rule passing', async () => {
    for (const { run, runId } of runs) {
      assert.equal(run.status, 'completed', run.error_message ?? '');
      const failed = (await genai.app.runs.quality(genai.org, runId)).filter((q) => q.status === 'fail');
      assert.deepEqual(failed.map((q) => q.rule_id), []);
    }
    const completions = server.requests.filter((request) => request.path === '/v1/organization/usage/completions');
    assert.ok(completions.some((request) => request.query.get('page')), 'later pages were asked for with next_page');
    const [raw] = await genai.query<{ n: number }>(`SELECT count(*)::INT AS n FROM oai_defs_dev.genai_openai_usage_raw`);
    assert.equal(raw?.n, 5, 'every result of every page');
  });

  test('earlier definition, audio output above output_tokens: text and audio each counted once, on top of each other', async () => {
    assert.deepEqual(await focusTokens('2025-03-10'), [
      { token_type: 'cached_input', tokens: '1280' },
      { token_type: 'input', tokens: '8132' },
      { token_type: 'input_audio', tokens: '5260' },
      { token_type: 'output', tokens: '822' },
      { token_type: 'output_audio', tokens: '3103' },
    ]);
  });

  test('earlier definition with little audio: nothing subtracted from the text classes', async () => {
    assert.deepEqual(await focusTokens('2025-03-11'), [
      { token_type: 'cached_input', tokens: '10000' },
      { token_type: 'input', tokens: '130000' },
      { token_type: 'input_audio', tokens: '1500' },
      { token_type: 'output', tokens: '7000' },
      { token_type: 'output_audio', tokens: '300' },
    ]);
  });

  test('2026-07 definition: audio and images are inside input_tokens and output_tokens, each class from the split', async () => {
    assert.deepEqual(await focusTokens('2026-08-04'), [
      { token_type: 'cache_write', tokens: '1000' },
      { token_type: 'cached_input', tokens: '3000' },
      { token_type: 'cached_input_audio', tokens: '500' },
      { token_type: 'cached_input_image', tokens: '500' },
      { token_type: 'input', tokens: '5000' },
      { token_type: 'input_audio', tokens: '6500' },
      { token_type: 'input_image', tokens: '500' },
      { token_type: 'output', tokens: '4900' },
      { token_type: 'output_audio', tokens: '3600' },
      { token_type: 'output_image', tokens: '500' },
    ]);
  });

  test('FOCUS ConsumedQuantity adds up to the tokens of the responses, per day and in total', async () => {
    const perDay = await genai.query<{ d: string; tokens: string }>(
      `SELECT CAST(CAST(ChargePeriodStart AS DATE) AS VARCHAR) AS d, CAST(sum(ConsumedQuantity) AS BIGINT)::VARCHAR AS tokens
         FROM oai_defs_dev.cost_data_standard_1_3 WHERE ConsumedUnit = 'Tokens' GROUP BY 1 ORDER BY 1`,
    );
    const data = { ...OLD, ...NEW };
    assert.deepEqual(perDay, Object.keys(data).sort().map((d) => ({ d, tokens: String(dayTotal(data[d]!)) })));
    // 18,597 + 148,800 + 26,000 tokens.
    assert.equal(perDay.reduce((sum, row) => sum + Number(row.tokens), 0), 193_397);
  });
});
