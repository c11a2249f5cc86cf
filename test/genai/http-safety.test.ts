import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ProcessorError } from '../../src/shared/errors.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import { Secret } from '../../src/shared/secret.ts';
import type { AuthConfig } from '../../src/processors/http/auth.ts';
import { httpClient } from '../../src/processors/http/http-client.ts';
import { pages } from '../../src/processors/http/pages.ts';
import { paginator } from '../../src/processors/http/pagination.ts';
import { rateLimiters } from '../../src/processors/http/rate-limiter.ts';
import { recordingClock } from '../support/test-app.ts';
import { replayServer, type ReplayServer } from './support/replay-server.ts';

const SECRET = 'sk-ant-admin01-REDIRECT-SECRET-0123456789';
const MiB = 1024 * 1024;

function client(options: { auth?: AuthConfig; maxBodyBytes?: number } = {}) {
  const clock = recordingClock();
  return httpClient({
    provider: 'Test',
    auth: options.auth ? { config: options.auth, secret: new Secret(SECRET) } : undefined,
    limiter: rateLimiters(clock).get('test', { requestsPerSecond: 1000, burst: 100 }),
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000 },
    random: () => 0,
    clock,
    signal: new AbortController().signal,
    logger: silentLogger(),
    requestTimeoutMs: 20_000,
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
  });
}

describe('response bodies are read with a byte cap, chunked ones included', () => {
  let server: Server;
  let base: string;
  /** What the server managed to send of its endless body, and whether the client hung up. */
  const endless = { requests: 0, written: 0, closed: false };

  before(async () => {
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/endless') {
        // A chunked JSON body without Content-Length that never ends (a runaway export), sent
        // as fast as the client reads: only the client's cap can stop it.
        endless.requests++;
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        res.write('{"data": [');
        const pump = () => {
          while (!res.destroyed && endless.written < 512 * MiB) {
            endless.written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => (endless.closed = true));
        return pump();
      }
      if (path === '/declared') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10 * MiB) });
        return res.end(Buffer.alloc(10 * MiB, 0x20));
      }
      // A normal chunked body under the cap, in 1000 small writes.
      res.writeHead(200, { 'content-type': 'application/json' });
      const items = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ id: i, name: `item ${i}` }));
      res.write('{"data": [');
      for (let i = 0; i < items.length; i += 20) res.write(items.slice(i, i + 20).join(',') + (i + 20 < items.length ? ',' : ''));
      res.end(']}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('a chunked body over the cap fails at once, not retried, naming the URL without its query and the cap; the rest is never read', async () => {
    const heapBefore = process.memoryUsage().arrayBuffers;
    await assert.rejects(client({ auth: { type: 'query', param: 'api_key' }, maxBodyBytes: 2 * MiB }).json({ url: new URL(`${base}/endless?limit=5`) }), (error: unknown) => {
      assert.ok(error instanceof ProcessorError);
      assert.equal(error.retryable, false);
      assert.equal(error.message, `Test sent a body on ${base}/endless, more than the ${2 * MiB} bytes a page may have`);
      return true;
    });
    assert.equal(endless.requests, 1, 'not retried');
    await waitFor(() => endless.closed);
    // What the server got out is the cap plus the socket buffers of both ends, not its 512 MiB.
    assert.ok(endless.written < 32 * MiB, `the server wrote ${endless.written} bytes`);
    assert.ok(process.memoryUsage().arrayBuffers - heapBefore < 64 * MiB, 'buffers stayed bounded');
  });

  test('a Content-Length over the cap is refused before the body is read', async () => {
    await assert.rejects(client({ maxBodyBytes: MiB }).json({ url: new URL(`${base}/declared`) }), (error: ProcessorError) => !error.retryable && error.message.includes(`a ${10 * MiB}-byte body on ${base}/declared, more than the ${MiB} bytes`));
  });

  test('a chunked body under the cap is read whole', async () => {
    const response = await client({ maxBodyBytes: 4 * MiB }).json({ url: new URL(`${base}/normal`) });
    const data = (response.body as { data: { id: number }[] }).data;
    assert.equal(data.length, 20_000);
    assert.equal(data.at(-1)?.id, 19_999);
  });
});

describe('pages: at most one page is fetched ahead of the consumer', () => {
  let server: ReplayServer;
  before(async () => {
    server = await replayServer({
      '/list': (request) => {
        const at = Number(request.query.get('after') ?? 0);
        return { body: { data: [at], next: at < 5 ? String(at + 1) : null } };
      },
    });
  });
  after(() => server.close());

  test('while the consumer holds page n, the server has answered at most page n + 1', async () => {
    const seen: [number, number][] = [];
    for await (const page of pages({ client: client(), paginator: paginator({ type: 'cursor', param: 'after', cursor_path: 'next' }), url: new URL('/list', server.url), recordPath: ['data'], provider: 'Test' })) {
      // A slow consumer (a warehouse write): a reader that ran ahead would show here.
      await new Promise((resolve) => setTimeout(resolve, 30));
      seen.push([page.number, server.requests.length]);
    }
    assert.deepEqual(seen, [[1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 6]]);
  });
});

describe('no credential leaves its origin on a redirect', () => {
  let origin: ReplayServer;
  let other: ReplayServer;
  const AUTHS: AuthConfig[] = [{ type: 'bearer' }, { type: 'header', name: 'x-api-key' }, { type: 'query', param: 'api_key' }, { type: 'basic', username: 'me' }];

  before(async () => {
    other = await replayServer({
      '/landing': (request) => ({ body: { landed: true, method: request.method, body: request.body } }),
    });
    origin = await replayServer({
      '/same': () => ({ status: 302, headers: { location: '/final?page=2' }, body: '' }),
      '/final': (request) => ({ body: { authorization: request.headers.authorization ?? null, key: request.headers['x-api-key'] ?? null, query: request.query.get('api_key'), page: request.query.get('page') } }),
      '/cross': (request) => ({ status: 302, headers: { location: `${other.url}/landing?from=origin&api_key=${request.query.has('api_key') ? 'echoed' : 'none'}` }, body: '' }),
      '/echo-secret': (request) => ({ status: 301, headers: { location: `${other.url}/landing?${request.query.toString()}` }, body: '' }),
      '/post-303': () => ({ status: 303, headers: { location: `${other.url}/landing` }, body: '' }),
      '/post-307': () => ({ status: 307, headers: { location: `${other.url}/landing` }, body: '' }),
      '/loop': (request) => ({ status: 302, headers: { location: `/loop?n=${Number(request.query.get('n') ?? 0) + 1}` }, body: '' }),
    });
  });
  after(async () => {
    await origin.close();
    await other.close();
  });

  const leaked = () => other.requests.filter((request) => JSON.stringify({ headers: request.headers, query: [...request.query], body: request.body }).includes(SECRET) || request.headers.authorization !== undefined || request.headers['x-api-key'] !== undefined);

  test('a same-origin redirect keeps the credential, of every kind', async () => {
    const final = async (auth: AuthConfig) => (await client({ auth }).json({ url: new URL('/same', origin.url) })).body as Record<string, unknown>;
    assert.equal((await final({ type: 'bearer' })).authorization, `Bearer ${SECRET}`);
    assert.equal((await final({ type: 'header', name: 'x-api-key' })).key, SECRET);
    const query = await final({ type: 'query', param: 'api_key' });
    assert.deepEqual([query.query, query.page], [SECRET, '2'], 'the query credential is put on the redirect target');
  });

  test('a cross-origin redirect is followed with no header, bearer token or query secret', async () => {
    for (const auth of AUTHS) {
      const before = other.requests.length;
      const response = await client({ auth }).json({ url: new URL('/cross', origin.url) });
      assert.equal((response.body as { landed: boolean }).landed, true, auth.type);
      assert.equal(other.requests.length - before, 1, auth.type);
      const landing = other.requests.at(-1)!;
      assert.equal(landing.query.get('from'), 'origin');
      if (auth.type === 'query') assert.equal(landing.query.get('api_key'), null, 'the auth parameter is dropped from the new URL');
    }
    assert.ok(origin.requests.some((request) => request.headers['x-api-key'] === SECRET), 'the origin itself did get the key');
    assert.deepEqual(leaked(), []);
  });

  test('refused: a redirect URL carrying the secret, a 307 that would resend a body, a loop', async () => {
    const before = other.requests.length;
    await assert.rejects(client({ auth: { type: 'query', param: 'api_key' } }).json({ url: new URL('/echo-secret', origin.url) }), (error: ProcessorError) => {
      assert.equal(error.retryable, false);
      assert.match(error.message, /redirect to http:\/\/127\.0\.0\.1:\d+ whose URL carries the credential; not followed/);
      assert.ok(!error.message.includes(SECRET));
      return true;
    });
    await assert.rejects(client().json({ url: new URL('/post-307', origin.url), method: 'POST', body: 'assertion=signed-jwt' }), /a 307 redirect to .* that would resend the request body/);
    assert.equal(other.requests.length, before, 'neither reached the other origin');
    const post303 = await client().json({ url: new URL('/post-303', origin.url), method: 'POST', body: 'assertion=signed-jwt' });
    assert.deepEqual(post303.body, { landed: true, method: 'GET', body: '' }, 'a 303 continues as a GET without the body');
    const loops = origin.requests.length;
    await assert.rejects(client().json({ url: new URL('/loop', origin.url) }), /Test http:\/\/127\.0\.0\.1:\d+\/loop: more than 5 redirects; not followed/);
    assert.equal(origin.requests.length - loops, 6, 'the request and 5 redirects, not retried');
    assert.deepEqual(leaked(), []);
  });
});

async function waitFor(condition: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
