import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { systemClock } from '../../src/shared/clock.ts';
import { ProcessorError } from '../../src/shared/errors.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { Secret } from '../../src/shared/secret.ts';
import type { AuthConfig } from '../../src/processors/http/auth.ts';
import { httpClient } from '../../src/processors/http/http-client.ts';
import { explode, getField } from '../../src/processors/http/json-path.ts';
import { pages } from '../../src/processors/http/pages.ts';
import { nextLink, paginator, type PaginationConfig } from '../../src/processors/http/pagination.ts';
import { rateLimiters } from '../../src/processors/http/rate-limiter.ts';
import { httpRetryDecision, parseRetryAfter, type HttpRetryPolicy } from '../../src/processors/http/retry-policy.ts';
import { recordingClock } from '../support/test-app.ts';
import { replayServer, type ReplayServer } from './support/replay-server.ts';

const POLICY: HttpRetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 60_000 };

describe('retry policy (pure, jitter injected)', () => {
  test('429, 408 and 5xx are retried with full-jitter exponential backoff; other statuses are final', () => {
    assert.deepEqual(httpRetryDecision(1, { kind: 'status', status: 500 }, POLICY, () => 0.5), { retry: true, delayMs: 50 });
    assert.deepEqual(httpRetryDecision(3, { kind: 'status', status: 503 }, POLICY, () => 0.5), { retry: true, delayMs: 200 });
    assert.deepEqual(httpRetryDecision(3, { kind: 'status', status: 502 }, { ...POLICY, maxDelayMs: 150 }, () => 0.999), { retry: true, delayMs: 149 }, 'capped');
    assert.deepEqual(httpRetryDecision(1, { kind: 'network', message: 'ECONNRESET' }, POLICY, () => 0), { retry: true, delayMs: 0 });
    assert.deepEqual(httpRetryDecision(1, { kind: 'invalid_body', message: 'cut' }, POLICY, () => 1), { retry: true, delayMs: 100 });
    for (const status of [400, 401, 403, 404, 422, 501, 505]) assert.deepEqual(httpRetryDecision(1, { kind: 'status', status }, POLICY, () => 0.5), { retry: false, reason: 'final' }, String(status));
    assert.deepEqual(httpRetryDecision(4, { kind: 'status', status: 429 }, POLICY, () => 0.5), { retry: false, reason: 'exhausted' });
  });

  test('Retry-After is a floor with a little jitter on top; one too long is not waited', () => {
    assert.deepEqual(httpRetryDecision(1, { kind: 'status', status: 429, retryAfterMs: 2000 }, POLICY, () => 0), { retry: true, delayMs: 2000 });
    const high = httpRetryDecision(1, { kind: 'status', status: 429, retryAfterMs: 2000 }, POLICY, () => 0.99);
    assert.ok(high.retry && high.delayMs >= 2000 && high.delayMs < 2100, JSON.stringify(high));
    assert.deepEqual(httpRetryDecision(1, { kind: 'status', status: 503, retryAfterMs: 61_000 }, POLICY, () => 0), { retry: false, reason: 'retry_after_too_long' });
  });

  test('Retry-After in seconds, as an HTTP date, and OpenAI’s retry-after-ms', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '3' }), now), 3000);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5000);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '3', 'retry-after-ms': '250' }), now), 250);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now), undefined);
    assert.equal(parseRetryAfter(new Headers(), now), undefined);
  });
});

describe('rate limiter', () => {
  test('one bucket per key, shared by concurrent callers; other keys are independent', async () => {
    const limiters = rateLimiters(systemClock);
    assert.equal(limiters.get('acme/openai/default', { requestsPerSecond: 20, burst: 1 }), limiters.get('acme/openai/default', { requestsPerSecond: 20, burst: 1 }));
    const run = async (key: string, n: number) => {
      for (let i = 0; i < n; i++) await limiters.get(key, { requestsPerSecond: 20, burst: 1 }).acquire();
    };
    let started = Date.now();
    await Promise.all([run('acme/openai/default', 10), run('acme/openai/default', 10)]);
    const shared = Date.now() - started;
    assert.ok(shared >= 900, `20 requests at 20/s shared by two runs took ${shared} ms`);
    started = Date.now();
    await Promise.all([run('acme/anthropic/default', 10), run('other/anthropic/default', 10)]);
    const separate = Date.now() - started;
    assert.ok(separate < shared * 0.75, `two keys took ${separate} ms, one shared key ${shared} ms`);
  });

  test('a pause (a 429’s Retry-After) holds back every caller of the key', async () => {
    const clock = recordingClock();
    const limiter = rateLimiters(clock).get('k', { requestsPerSecond: 1000, burst: 10 });
    await limiter.acquire();
    assert.deepEqual(clock.sleeps, []);
    limiter.pause(1500);
    await limiter.acquire();
    assert.ok((clock.sleeps[0] ?? 0) >= 1499, String(clock.sleeps));
  });
});

describe('HTTP client and pagination against a local server', () => {
  let server: ReplayServer;
  const SECRET = 'sk-admin-HTTP-ENGINE-SECRET-0123456789';
  const items = Array.from({ length: 25 }, (_, i) => ({ id: i + 1 }));

  before(async () => {
    server = await replayServer({
      '/echo': (request) => ({ body: { ok: true, authorization: request.headers.authorization ?? null, key: request.headers['x-key'] ?? null, query: request.query.get('api_key') } }),
      '/scope': () => ({ status: 401, body: { error: { message: 'You have insufficient permissions for this operation. Missing scopes: api.usage.read.', type: 'invalid_request_error' } } }),
      '/echoes-key': () => ({ status: 400, body: { error: { message: `Incorrect API key provided: ${SECRET}.` } } }),
      '/cursor': (request) => {
        const at = Number(request.query.get('after') ?? 0);
        return { body: { data: items.slice(at, at + 10), meta: { next: at + 10 < items.length ? String(at + 10) : null } } };
      },
      '/offset': (request) => ({ body: { results: items.slice(Number(request.query.get('offset')), Number(request.query.get('offset')) + Number(request.query.get('limit'))) } }),
      '/page': (request) => {
        const page = Number(request.query.get('page'));
        return { body: { items: items.slice((page - 1) * 10, page * 10), total_pages: 3 } };
      },
      '/link': (request) => {
        const at = Number(request.query.get('from') ?? 0);
        const next = at + 10 < items.length ? `</link?from=${at + 10}>; rel="next", </link?from=0>; rel="first"` : '</link?from=0>; rel="first"';
        return { headers: { link: next }, body: items.slice(at, at + 10) };
      },
      '/loop': () => ({ body: { data: [1], next: 'same' } }),
    });
  });
  after(() => server.close());

  const client = (options: { auth?: AuthConfig; clock?: ReturnType<typeof recordingClock>; signal?: AbortSignal; maxAttempts?: number; timeoutMs?: number } = {}) => {
    const clock = options.clock ?? recordingClock();
    return httpClient({
      provider: 'Test',
      auth: options.auth ? { config: options.auth, secret: new Secret(SECRET) } : undefined,
      limiter: rateLimiters(clock).get('test', { requestsPerSecond: 1000, burst: 100 }),
      retry: { ...POLICY, maxAttempts: options.maxAttempts ?? 4 },
      random: () => 0.5,
      clock,
      signal: options.signal ?? new AbortController().signal,
      logger: silentLogger(),
      requestTimeoutMs: options.timeoutMs ?? 5000,
    });
  };
  const url = (path: string) => new URL(path, server.url);

  test('auth: bearer, header, query and basic', async () => {
    const body = async (auth: AuthConfig) => (await client({ auth }).json({ url: url('/echo') })).body as Record<string, unknown>;
    assert.equal((await body({ type: 'bearer' })).authorization, `Bearer ${SECRET}`);
    assert.equal((await body({ type: 'header', name: 'x-key' })).key, SECRET);
    assert.equal((await body({ type: 'query', param: 'api_key' })).query, SECRET);
    assert.equal((await body({ type: 'basic', username: 'me' })).authorization, `Basic ${Buffer.from(`me:${SECRET}`).toString('base64')}`);
  });

  test('429 waits its Retry-After, 500s back off, a truncated body and a reset connection are retried', async () => {
    const clock = recordingClock();
    server.inject('/echo', { kind: 'status', status: 429, retryAfter: '2' }, { kind: 'status', status: 500 }, { kind: 'truncate' }, { kind: 'reset' }, { kind: 'status', status: 429, retryAfterMs: '300' });
    const before = server.requests.length;
    const response = await client({ clock, maxAttempts: 6 }).json({ url: url('/echo') });
    assert.equal((response.body as { ok: boolean }).ok, true);
    assert.equal(server.requests.length - before, 6);
    // The retry waits the 2 s plus jitter (the limiter's pause, shared with other runs, overlaps it);
    // then backoff 100 x 2^n x 0.5.
    const waits = clock.sleeps.filter((ms) => ms > 0);
    assert.ok(waits.includes(2050), `waits ${waits}`);
    assert.ok(waits.includes(100) && waits.includes(200), `backoff ${waits}`);
    assert.ok(waits.some((ms) => ms >= 300 && ms < 400), `retry-after-ms ${waits}`);
  });

  test('errors: a persistent 503 gives up (retryable); a 401 names the missing scope at once; the secret never shows', async () => {
    server.inject('/echo', { kind: 'status', status: 503 }, { kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    await assert.rejects(client({ maxAttempts: 3 }).json({ url: url('/echo') }), (error: ProcessorError) => error.retryable && /Test answered 503 on \/echo 3 times; giving up/.test(error.message));
    const before = server.requests.length;
    await assert.rejects(client({ auth: { type: 'bearer' } }).json({ url: url('/scope') }), (error: ProcessorError) => !error.retryable && /the credential lacks the scope api\.usage\.read/.test(error.message));
    assert.equal(server.requests.length - before, 1, 'not retried');
    await assert.rejects(client({ auth: { type: 'query', param: 'api_key' } }).json({ url: url('/echoes-key') }), (error: ProcessorError) => !error.message.includes(SECRET) && error.message.includes('[redacted]'));
  });

  test('an aborted step stops the request in flight at once', async () => {
    server.inject('/echo', { kind: 'slow', ms: 3000 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('step timed out')), 100);
    await assert.rejects(client({ signal: controller.signal }).json({ url: url('/echo') }), /step timed out/);
    assert.ok(Date.now() - started < 1000);
  });

  const all = async (config: PaginationConfig, path: string, recordPath: string[]) => {
    const seen: number[] = [];
    let count = 0;
    for await (const page of pages({ client: client(), paginator: paginator(config), url: url(path), recordPath, provider: 'Test' })) {
      count = page.number;
      seen.push(...page.records.map((scoped) => (scoped.record as { id: number }).id));
    }
    return { ids: seen, pages: count };
  };
  const expected = items.map((item) => item.id);

  test('pagination: cursor, offset, page and link header each read all 25 records in 3 pages', async () => {
    assert.deepEqual(await all({ type: 'cursor', param: 'after', cursor_path: 'meta.next' }, '/cursor', ['data']), { ids: expected, pages: 3 });
    assert.deepEqual(await all({ type: 'offset', offset_param: 'offset', limit_param: 'limit', limit: 10 }, '/offset', ['results']), { ids: expected, pages: 3 });
    assert.deepEqual(await all({ type: 'page', page_param: 'page', size: 10, total_pages_path: 'total_pages' }, '/page', ['items']), { ids: expected, pages: 3 });
    assert.deepEqual(await all({ type: 'link' }, '/link', []), { ids: expected, pages: 3 });
    await assert.rejects(all({ type: 'cursor', param: 'c', cursor_path: 'next' }, '/loop', ['data']), /returned the cursor "same" twice/);
  });

  test('link headers and nested record paths', () => {
    assert.equal(nextLink('<https://a/x?p=2>; rel="next", <https://a/x?p=9>; rel="last"'), 'https://a/x?p=2');
    assert.equal(nextLink('<https://a/x?p=1>; rel="prev"'), undefined);
    const records = explode({ data: [{ start: 1, results: [{ n: 1 }, { n: 2 }] }, { start: 2, results: [] }, { start: 3 }] }, ['data', 'results']);
    assert.deepEqual(records.map((scoped) => [getField(scoped, 'n'), getField(scoped, '../start')]), [[1, 1], [2, 1]]);
    assert.throws(() => explode({ data: { not: 'an array' } }, ['data']), /expected an array at "data"/);
  });
});
