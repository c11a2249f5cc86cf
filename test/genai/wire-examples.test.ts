import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { anthropicCosts, anthropicUsage } from '../../src/processors/genai/anthropic-source.ts';
import { resolveBaseUrl } from '../../src/processors/genai/base-url.ts';
import { deepseekBalance } from '../../src/processors/genai/deepseek-source.ts';
import { geminiUsage } from '../../src/processors/genai/gemini-source.ts';
import { openaiCosts, openaiUsage } from '../../src/processors/genai/openai-source.ts';
import type { ReportSource } from '../../src/processors/genai/source.ts';
import { httpClient } from '../../src/processors/http/http-client.ts';
import { rateLimiters } from '../../src/processors/http/rate-limiter.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { Secret } from '../../src/shared/secret.ts';
import { recordingClock, REPO } from '../support/test-app.ts';
import { replayServer, type ReplayServer, type SeenRequest } from './support/replay-server.ts';

/**
 * The providers' own example responses (docs, spec and captured shapes, in the shared folder),
 * served verbatim, through our sources. Not copied into the repo: absent, the tests skip.
 */
const EXAMPLES = join(REPO, '..', 'shared', 'providers', 'genai', 'examples');
const skip = existsSync(EXAMPLES) ? false : `the provider examples are not at ${EXAMPLES}`;
const example = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(EXAMPLES, name), 'utf8')) as Record<string, unknown>;

describe('provider example responses through the sources', { skip }, () => {
  let server: ReplayServer;
  /** What each path answers: an example file, then (for `has_more: true` examples) a last empty page. */
  const answers = new Map<string, { status?: number; file: string }>();

  before(async () => {
    server = await replayServer({
      '/': (request: SeenRequest) => {
        const answer = answers.get(request.path);
        if (!answer) return { status: 404, body: { error: { message: `no example for ${request.path}` } } };
        const later = request.query.get('page') ?? request.query.get('pageToken');
        if (later) return { body: request.path.includes('/organizations/') ? { data: [], has_more: false, next_page: null } : { object: 'page', data: [], has_more: false, next_page: null } };
        return { status: answer.status ?? 200, body: example(answer.file) };
      },
    });
  });
  after(() => server?.close());

  const rows = async (source: ReportSource, startDate: string, endDate: string, options: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) => {
    const clock = recordingClock();
    const client = httpClient({
      provider: source.label,
      auth: { config: { type: 'bearer' }, secret: new Secret('test-key-0123456789') },
      limiter: rateLimiters(clock).get('examples', { requestsPerSecond: 1000, burst: 100 }),
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 },
      random: () => 0,
      clock,
      signal: new AbortController().signal,
      logger: silentLogger(),
      requestTimeoutMs: 5000,
    });
    const all: Record<string, unknown>[] = [];
    const credential = { provider: source.provider, credentialId: 'default', secret: new Secret('test-key-0123456789'), metadata };
    const baseUrl = resolveBaseUrl({ credential: source.provider === 'openai' ? `${server.url}/v1` : server.url, fallback: source.defaultBaseUrl });
    for await (const batch of source.rows({ client, baseUrl, startDate, endDate, account: { id: 'org-1', name: 'Org 1' }, credential, options, now: new Date('2026-07-16T10:00:00Z'), logger: silentLogger() })) all.push(...batch);
    return all;
  };

  test('OpenAI usage: every endpoint’s example, 2026-07 fields included; has_more is followed', async () => {
    const endpoints = ['completions', 'embeddings', 'moderations', 'images', 'audio_speeches', 'audio_transcriptions', 'vector_stores', 'code_interpreter_sessions', 'file_search_calls', 'web_search_calls'];
    for (const endpoint of endpoints) answers.set(`/v1/organization/usage/${endpoint}`, { file: `openai_usage_${endpoint}.json` });
    const all = await rows(openaiUsage, '2024-11-01', '2024-11-01');
    assert.deepEqual(all.map((row) => row.endpoint), endpoints);
    const completions = all[0]!;
    assert.deepEqual(
      [completions.usage_date, completions.bucket_start, completions.input_tokens, completions.input_cached_tokens, completions.input_cache_write_tokens, completions.input_uncached_tokens, completions.output_image_tokens, completions.num_model_requests],
      ['2024-11-01', '2024-11-01T00:00:00.000Z', 1000, 400, 100, 500, 50, 5],
    );
    const byEndpoint = Object.fromEntries(all.map((row) => [row.endpoint, row]));
    assert.equal(byEndpoint.images?.images, 2);
    assert.equal(byEndpoint.audio_speeches?.characters, 45);
    assert.equal(byEndpoint.audio_transcriptions?.seconds, 20);
    assert.equal(byEndpoint.vector_stores?.usage_bytes, 1024);
    assert.equal(byEndpoint.code_interpreter_sessions?.num_sessions, 1);
    assert.equal(byEndpoint.file_search_calls?.num_requests, 2);
    assert.equal(byEndpoint.web_search_calls?.num_requests, 2);
    const pages = server.requests.filter((request) => request.path === '/v1/organization/usage/completions');
    assert.equal(pages[1]?.query.get('page'), 'page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=', 'next_page of the example');
  });

  test('OpenAI usage grouped by model and project (synthetic example)', async () => {
    answers.set('/v1/organization/usage/completions', { file: 'SYNTHETIC_openai_usage_completions_grouped_model_project.json' });
    const all = await rows(openaiUsage, '2025-08-14', '2025-08-14', { endpoints: ['completions'] });
    assert.deepEqual(all.map((row) => [row.project_id, row.model, row.batch, row.input_tokens, row.input_cache_write_tokens]), [['proj_alpha', 'gpt-4o-2024-08-06', false, 5_000_000, null], ['proj_alpha', 'gpt-4o-mini-2024-07-18', true, 200_000, null]]);
  });

  test('OpenAI costs: amount.value as a number and as a string, an empty bucket, quantity fields', async () => {
    answers.set('/v1/organization/costs', { file: 'SYNTHETIC_openai_costs_grouped_line_item_project.json' });
    const all = await rows(openaiCosts, '2025-08-14', '2025-08-15');
    assert.deepEqual(all.map((row) => [row.usage_date, row.line_item, row.amount_value, row.currency, row.quantity, row.quantity_unit]), [
      ['2025-08-14', 'gpt-4o-2024-08-06, input', 12.5, 'usd', 5_000_000, 'tokens'],
      ['2025-08-14', 'gpt-4o-2024-08-06, output', '3.00', 'usd', 300_000, 'tokens'],
      ['2025-08-14', 'Web search tool calls', 0.75, 'usd', null, null],
    ]);
    answers.set('/v1/organization/costs', { file: 'openai_costs.json' });
    assert.deepEqual((await rows(openaiCosts, '2024-11-01', '2024-11-01')).map((row) => [row.amount_value, row.line_item]), [[0.06, null]]);
  });

  test('Anthropic: the usage report (grouped and not), the cost report in cents, old and new docs', async () => {
    answers.set('/v1/organizations/usage_report/messages', { file: 'anthropic_usage_report_messages.json' });
    const [usage] = await rows(anthropicUsage, '2025-08-01', '2025-08-01');
    assert.deepEqual(
      [usage?.model, usage?.workspace_id, usage?.uncached_input_tokens, usage?.cache_creation_5m_input_tokens, usage?.cache_creation_1h_input_tokens, usage?.cache_read_input_tokens, usage?.web_search_requests, usage?.context_window],
      ['claude-opus-4-6', 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ', 1500, 500, 1000, 200, 10, '0-200k'],
    );
    assert.equal(server.requests.filter((request) => request.path === '/v1/organizations/usage_report/messages').at(-1)?.query.get('page'), '2019-12-27T18:11:19.117Z', 'an opaque next_page is passed back as is');
    answers.set('/v1/organizations/usage_report/messages', { file: 'SYNTHETIC_anthropic_usage_report_ungrouped.json' });
    const ungrouped = await rows(anthropicUsage, '2025-08-01', '2025-08-02');
    assert.deepEqual(ungrouped.map((row) => [row.usage_date, row.model, row.cache_creation_5m_input_tokens, row.output_tokens]), [['2025-08-01', null, 12000, 91234]]);
    for (const file of ['anthropic_cost_report.json', 'anthropic_cost_report_older_docs.json']) {
      answers.set('/v1/organizations/cost_report', { file });
      const [cost] = await rows(anthropicCosts, '2025-08-01', '2025-08-01');
      assert.deepEqual([cost?.amount_cents, cost?.currency, cost?.token_type, cost?.cost_type, cost?.service_tier], ['123.78912', 'USD', 'uncached_input_tokens', 'tokens', 'standard'], file);
    }
  });

  test('Cloud Monitoring: a Gemini token series, int64Value as a string', async () => {
    answers.set('/v3/projects/my-gen-lang-project/timeSeries', { file: 'gcp_monitoring_timeseries_gemini_output_tokens.json' });
    const all = await rows(geminiUsage, '2026-07-16', '2026-07-16', { metrics: [{ type: 'generativelanguage.googleapis.com/generate_content_usage_output_token_count', direction: 'output' }] }, { project_id: 'my-gen-lang-project' });
    assert.deepEqual(all.map((row) => [row.usage_date, row.gcp_project_id, row.model, row.direction, row.token_count, row.location]), [['2026-07-16', 'my-gen-lang-project', 'gemini-2.5-flash', 'output', '40', 'us-central1']]);
  });

  test('DeepSeek: the balance, amounts as decimal strings', async () => {
    answers.set('/user/balance', { file: 'deepseek_user_balance.json' });
    const all = await rows(deepseekBalance, '2026-07-15', '2026-07-16');
    assert.deepEqual(all.map((row) => [row.snapshot_date, row.currency, row.total_balance, row.granted_balance, row.topped_up_balance, row.is_available]), [['2026-07-16', 'CNY', '110.00', '10.00', '100.00', true]]);
  });

  test('error bodies: OpenAI’s missing scope is named; Anthropic’s error message is kept', async () => {
    answers.set('/v1/organization/costs', { status: 401, file: 'openai_error_missing_scope.json' });
    await assert.rejects(rows(openaiCosts, '2025-08-14', '2025-08-14'), /OpenAI answered 401 on \/v1\/organization\/costs: the credential lacks the scope api\.usage\.read/);
    answers.set('/v1/organizations/cost_report', { status: 400, file: 'anthropic_error.json' });
    await assert.rejects(rows(anthropicCosts, '2025-08-01', '2025-08-01'), /Anthropic answered 400 on \/v1\/organizations\/cost_report: Invalid request/);
  });
});
