import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { redisAnswers } from '../support/redis.ts';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import { createLogger } from '../../src/shared/logger.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories, openPglite } from '../support/control-planes.ts';
import { ROOT_KEY, testApp } from '../support/test-app.ts';
import { assertError, call, createOrg, type CreatedOrg, type ErrorBody } from './api-helpers.ts';

/** Rate limits (issue 14, item 1): per org, per client address without a valid key, global; in memory and in a shared Redis. */

const REDIS_URL = 'redis://127.0.0.1:6379';
const PER_CLIENT = 3;

interface Served {
  app: App;
  server: FastifyInstance;
}

async function serve(controlPlane: ControlPlane, settings: Record<string, string>, logger?: App['logger']): Promise<Served> {
  const app = await testApp(controlPlane, { settings: { WORKER_CONCURRENCY: '0', ...settings }, ...(logger ? { logger } : {}) });
  const server = await buildServer(app);
  await server.ready();
  return { app, server };
}

async function close(...served: (Served | undefined)[]): Promise<void> {
  for (const one of served) {
    await one?.server.close();
    await one?.app.close();
  }
}

const history = (server: FastifyInstance, org: CreatedOrg, options: Partial<InjectOptions> = {}) =>
  call(server, { method: 'GET', url: `/api/v1/pipelines/history/${org.org_slug}`, headers: { 'x-api-key': org.api_key }, ...options });

/** A 429 of the limits: the error shape, Retry-After within the minute, and which limit. */
function assertLimited(response: LightMyRequestResponse, limit: 'org_requests_per_minute' | 'global_requests_per_minute'): ErrorBody {
  const body = assertError(response, 429, { code: 'rate_limited', message: /^Rate limit exceeded: / });
  const retryAfter = Number(response.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${response.headers['retry-after']}`);
  assert.equal(body.error.limit, limit);
  assert.equal(body.error.retry_after_seconds, retryAfter);
  return body;
}

for (const factory of controlPlaneFactories()) {
  describe(`rate limits (${factory.name})`, () => {
    let controlPlane: ControlPlane;
    let served: Served;
    let alpha: CreatedOrg;
    let beta: CreatedOrg;
    before(async () => {
      controlPlane = await factory.open();
      served = await serve(controlPlane, { RATE_LIMIT_REQUESTS_PER_MINUTE: String(PER_CLIENT), RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE: '1000' });
      // The operator's root key is not a tenant: it is not held to the per-org limit.
      for (let i = 0; i < PER_CLIENT + 2; i++) await createOrg(served.server, `limits_${i}`);
      alpha = await createOrg(served.server, 'limits_alpha');
      beta = await createOrg(served.server, 'limits_beta');
    });
    after(async () => {
      await close(served);
      await controlPlane.close();
    });

    test('an org that used its minute is refused with 429 and Retry-After; another org is not', async () => {
      for (let i = 1; i <= PER_CLIENT; i++) {
        const response = await history(served.server, alpha);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.headers['x-ratelimit-limit'], String(PER_CLIENT));
        assert.equal(response.headers['x-ratelimit-remaining'], String(PER_CLIENT - i));
      }
      const refused = await history(served.server, alpha);
      assertLimited(refused, 'org_requests_per_minute');
      assert.match(String(refused.headers['content-security-policy']), /default-src 'self'/);
      // The same org on another route, and with its key from another address: still the org's minute.
      assertLimited(await call(served.server, { method: 'GET', url: '/api/v1/pipelines/runs', headers: { 'x-api-key': alpha.api_key }, remoteAddress: '10.9.9.9' }), 'org_requests_per_minute');
      const other = await history(served.server, beta);
      assert.equal(other.statusCode, 200, other.body);
      assert.equal(other.headers['x-ratelimit-remaining'], String(PER_CLIENT - 1));
      // Probes are never throttled.
      for (let i = 0; i < PER_CLIENT + 2; i++) assert.equal((await served.server.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    });

    test('without a valid key a request counts for its address, never for the org it names', async () => {
      const gamma = await createOrg(served.server, 'limits_gamma');
      const url = `/api/v1/pipelines/history/${gamma.org_slug}`;
      const attacker = '203.0.113.7';
      const guesses: Record<string, string>[] = [{}, { 'x-api-key': 'pk_guess_000000000000000000000000' }, { 'x-ca-root-key': 'not-the-root-key' }];
      assert.equal(guesses.length, PER_CLIENT);
      for (const headers of guesses) assertError(await call(served.server, { method: 'GET', url, headers, remoteAddress: attacker }), 401);
      assertLimited(await call(served.server, { method: 'GET', url, remoteAddress: attacker }), 'org_requests_per_minute');
      // The dashboard's and the docs' files are never counted: the page still loads from that address.
      for (const url of ['/ui/', '/docs/json']) assert.equal((await call(served.server, { method: 'GET', url, remoteAddress: attacker })).statusCode, 200, url);
      // Public routes count for the address too, and another address has its own minute.
      assertLimited(await call(served.server, { method: 'GET', url: '/api/v1/validator/pipelines', remoteAddress: attacker }), 'org_requests_per_minute');
      assert.equal((await call(served.server, { method: 'GET', url: '/api/v1/validator/pipelines', remoteAddress: '203.0.113.8' })).statusCode, 200);
      // The org named in those paths has spent nothing: all its minute is left.
      const own = await call(served.server, { method: 'GET', url, headers: { 'x-api-key': gamma.api_key }, remoteAddress: attacker });
      assert.equal(own.statusCode, 200, own.body);
      assert.equal(own.headers['x-ratelimit-remaining'], String(PER_CLIENT - 1));
      // Another org's key on gamma's path is refused (403) and spends that org's minute, not gamma's.
      const delta = await createOrg(served.server, 'limits_delta');
      assertError(await call(served.server, { method: 'GET', url, headers: { 'x-api-key': delta.api_key } }), 403);
      assert.equal((await history(served.server, delta)).headers['x-ratelimit-remaining'], String(PER_CLIENT - 2));
      assert.equal((await call(served.server, { method: 'GET', url, headers: { 'x-api-key': gamma.api_key } })).headers['x-ratelimit-remaining'], String(PER_CLIENT - 2));
    });
  });
}

describe('rate limits: global', () => {
  let controlPlane: ControlPlane;
  let served: Served;
  before(async () => {
    controlPlane = await openPglite();
    served = await serve(controlPlane, { RATE_LIMIT_REQUESTS_PER_MINUTE: '1000', RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE: '6' });
  });
  after(async () => {
    await close(served);
    await controlPlane.close();
  });

  test('every client together is held to the global limit, and probes still answer', async () => {
    // Two orgs created by the operator (the root key counts globally), then traffic from both and from no key.
    const one = await createOrg(served.server, 'global_one');
    const two = await createOrg(served.server, 'global_two');
    assert.equal((await history(served.server, one)).statusCode, 200);
    assert.equal((await history(served.server, two)).statusCode, 200);
    const open = await call(served.server, { method: 'GET', url: '/api/v1/validator/pipelines' });
    assert.equal(open.statusCode, 200);
    // The X-RateLimit-* headers are the client's own limit, not the global one.
    assert.equal(open.headers['x-ratelimit-limit'], '1000');
    assert.equal((await history(served.server, one)).statusCode, 200);
    const refused = await history(served.server, two);
    assertLimited(refused, 'global_requests_per_minute');
    assert.match(refused.json<ErrorBody>().error.message, /more than 6 requests per minute from all clients/);
    assertLimited(await call(served.server, { method: 'GET', url: '/api/v1/admin/orgs', headers: { 'x-ca-root-key': ROOT_KEY } }), 'global_requests_per_minute');
    assert.equal((await served.server.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  });
});

describe('rate limits: addresses behind a proxy (TRUST_PROXY)', () => {
  let controlPlane: ControlPlane;
  let served: Served;
  before(async () => {
    controlPlane = await openPglite();
    served = await serve(controlPlane, { RATE_LIMIT_REQUESTS_PER_MINUTE: '2', TRUST_PROXY: '1' });
  });
  after(async () => {
    await close(served);
    await controlPlane.close();
  });

  test('each client behind the load balancer has its own minute', async () => {
    const from = (client: string) => call(served.server, { method: 'GET', url: '/api/v1/validator/pipelines', headers: { 'x-forwarded-for': client }, remoteAddress: '10.0.0.1' });
    assert.equal((await from('198.51.100.1')).statusCode, 200);
    assert.equal((await from('198.51.100.1')).statusCode, 200);
    assertLimited(await from('198.51.100.1'), 'org_requests_per_minute');
    assert.equal((await from('198.51.100.2')).statusCode, 200);
  });
});

describe('rate limits in Redis (REDIS_URL)', async () => {
  const reachable = await redisAnswers(REDIS_URL);
  const skip = reachable ? false : `no Redis answers at ${REDIS_URL}`;
  let controlPlane: ControlPlane;
  let first: Served | undefined;
  let second: Served | undefined;
  // A prefix of this run's own: other runs on the same Redis count apart.
  const settings = { REDIS_URL, RATE_LIMIT_REDIS_PREFIX: `test-limits-${randomBytes(6).toString('hex')}:`, RATE_LIMIT_REQUESTS_PER_MINUTE: '4', RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE: '1000' };
  before(async () => {
    controlPlane = await openPglite();
    if (!reachable) return;
    first = await serve(controlPlane, settings);
    second = await serve(controlPlane, settings);
  });
  after(async () => {
    await close(first, second);
    if (reachable) {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${settings.RATE_LIMIT_REDIS_PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
    await controlPlane.close();
  });

  test('two server processes share one org\'s minute', { skip }, async () => {
    assert.ok(first && second);
    const org = await createOrg(first.server, 'redis_shared');
    assert.equal((await history(first.server, org)).headers['x-ratelimit-remaining'], '3');
    assert.equal((await history(second.server, org)).headers['x-ratelimit-remaining'], '2');
    assert.equal((await history(first.server, org)).headers['x-ratelimit-remaining'], '1');
    assert.equal((await history(second.server, org)).headers['x-ratelimit-remaining'], '0');
    assertLimited(await history(first.server, org), 'org_requests_per_minute');
    assertLimited(await history(second.server, org), 'org_requests_per_minute');
    const redis = new Redis(REDIS_URL);
    try {
      assert.equal(await redis.get(`${settings.RATE_LIMIT_REDIS_PREFIX}client:org:redis_shared`), '6');
    } finally {
      redis.disconnect();
    }
  });
});

/** A TCP server that accepts and never answers: a Redis that hangs. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return {
    port: address.port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('rate limits when Redis does not answer', () => {
  let controlPlane: ControlPlane;
  before(async () => {
    controlPlane = await openPglite();
  });
  after(() => controlPlane.close());

  for (const [name, target] of [['refuses connections', async () => ({ url: 'redis://127.0.0.1:1', close: async () => {} })], ['accepts and hangs', async () => {
    const silent = await silentServer();
    return { url: `redis://127.0.0.1:${silent.port}`, close: silent.close };
  }]] as const) {
    test(`requests go through unlimited, promptly, and the outage is logged once (Redis ${name})`, async () => {
      const redis = await target();
      const lines: string[] = [];
      const logger = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _encoding, done) => done(void lines.push(String(chunk))) }) });
      const served = await serve(controlPlane, { REDIS_URL: redis.url, RATE_LIMIT_REQUESTS_PER_MINUTE: '1' }, logger);
      try {
        const org = await createOrg(served.server, `redis_down_${name.split(' ')[0]}`);
        for (let i = 0; i < 4; i++) {
          const started = Date.now();
          const response = await history(served.server, org);
          assert.equal(response.statusCode, 200, response.body);
          // The per-client and the global check each wait at most the command timeout (250 ms).
          assert.ok(Date.now() - started < 1500, `request took ${Date.now() - started} ms`);
        }
        const outages = lines.filter((line) => line.includes('rate limit store (REDIS_URL) unreachable'));
        // Once, though the client has failed again on every reconnect attempt since.
        assert.equal(outages.length, 1, lines.join(''));
        assert.equal(JSON.parse(outages[0] as string).level, 40);
      } finally {
        await close(served);
        await redis.close();
      }
    });
  }
});
