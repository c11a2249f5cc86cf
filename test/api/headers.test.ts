import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';
import { assertError, call, createOrg, DEMO_ROUTE, type CreatedOrg } from './api-helpers.ts';

/** CORS, security headers and body limits (issue 14, item 1). */

const FRONTEND = 'https://app.example.com';
const LOCAL_FRONTEND = 'http://localhost:5173';

let controlPlane: ControlPlane;
before(async () => {
  controlPlane = await openPglite();
});
after(() => controlPlane.close());

async function serve(settings: Record<string, string>): Promise<{ app: App; server: FastifyInstance; close(): Promise<void> }> {
  const app = await testApp(controlPlane, { settings: { WORKER_CONCURRENCY: '0', ...settings } });
  const server = await buildServer(app);
  await server.ready();
  return { app, server, close: async () => (await server.close(), await app.close()) };
}

function assertSecurityHeaders(response: LightMyRequestResponse): void {
  const csp = String(response.headers['content-security-policy']);
  for (const directive of ["default-src 'self'", "script-src 'self'", "script-src-attr 'none'", "object-src 'none'", "frame-ancestors 'self'", "connect-src 'self'", "style-src 'self' 'unsafe-inline'"]) {
    assert.ok(csp.split(';').map((part) => part.trim()).includes(directive), `CSP lacks ${directive}: ${csp}`);
  }
  // Plain-HTTP hosts keep their assets: the dashboard must load over http://host:8001 too.
  assert.doesNotMatch(csp, /upgrade-insecure-requests/);
  assert.equal(response.headers['x-content-type-options'], 'nosniff');
  assert.equal(response.headers['x-frame-options'], 'SAMEORIGIN');
  assert.equal(response.headers['referrer-policy'], 'no-referrer');
  assert.equal(response.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(response.headers['cross-origin-resource-policy'], 'same-origin');
  assert.match(String(response.headers['strict-transport-security']), /^max-age=\d+/);
  assert.equal(response.headers['x-powered-by'], undefined);
}

describe('CORS and security headers', () => {
  let served: Awaited<ReturnType<typeof serve>>;
  let org: CreatedOrg;
  before(async () => {
    served = await serve({ CORS_ORIGINS: `${FRONTEND}, ${LOCAL_FRONTEND}`, RATE_LIMIT_REQUESTS_PER_MINUTE: '3' });
    org = await createOrg(served.server, 'cors_org');
  });
  after(() => served.close());

  test('security headers on answers, errors and unknown paths', async () => {
    assertSecurityHeaders(await call(served.server, { method: 'GET', url: '/health' }));
    assertSecurityHeaders(await call(served.server, { method: 'GET', url: `/api/v1/pipelines/history/${org.org_slug}`, headers: { 'x-api-key': org.api_key } }));
    assertSecurityHeaders(await call(served.server, { method: 'GET', url: `/api/v1/pipelines/history/${org.org_slug}` }));
    assertSecurityHeaders(await call(served.server, { method: 'GET', url: '/no/such/path' }));
  });

  test('a listed origin may read responses (and their request id, limits); another origin may not', async () => {
    const allowed = await call(served.server, { method: 'GET', url: `/api/v1/pipelines/history/${org.org_slug}`, headers: { 'x-api-key': org.api_key, origin: FRONTEND } });
    assert.equal(allowed.statusCode, 200);
    assert.equal(allowed.headers['access-control-allow-origin'], FRONTEND);
    assert.match(String(allowed.headers.vary), /origin/i);
    assert.equal(allowed.headers['access-control-allow-credentials'], undefined);
    const exposed = list(allowed.headers['access-control-expose-headers']);
    for (const header of ['x-request-id', 'retry-after', 'x-ratelimit-remaining']) assert.ok(exposed.includes(header), `${header} not exposed: ${exposed.join(',')}`);
    assert.equal((await call(served.server, { method: 'GET', url: '/health', headers: { origin: LOCAL_FRONTEND } })).headers['access-control-allow-origin'], LOCAL_FRONTEND);
    // An error is readable by the listed page too, so it can show the message.
    assert.equal(assertErrorFrom(await call(served.server, { method: 'GET', url: `/api/v1/pipelines/history/${org.org_slug}`, headers: { origin: FRONTEND } })), FRONTEND);

    for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.example', 'http://app.example.com', 'null']) {
      const denied = await call(served.server, { method: 'GET', url: '/health', headers: { origin } });
      assert.equal(denied.headers['access-control-allow-origin'], undefined, origin);
    }
  });

  test('a preflight is answered without a key and never counts against a rate limit', async () => {
    const address = '192.0.2.44';
    for (let i = 0; i < 5; i++) {
      const preflight = await call(served.server, {
        method: 'OPTIONS',
        url: `/api/v1/pipelines/run/${org.org_slug}/${DEMO_ROUTE}`,
        headers: { origin: FRONTEND, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-api-key' },
        remoteAddress: address,
      });
      assert.equal(preflight.statusCode, 204, preflight.body);
      assert.equal(preflight.headers['access-control-allow-origin'], FRONTEND);
      assert.match(String(preflight.headers['access-control-allow-methods']), /\bPOST\b/);
      assert.deepEqual(list(preflight.headers['access-control-allow-headers']).sort(), ['content-type', 'x-api-key', 'x-ca-root-key', 'x-request-id']);
      assert.equal(preflight.headers['access-control-max-age'], '600');
    }
    // The address still has its whole minute (3) for real requests.
    assert.equal((await call(served.server, { method: 'GET', url: '/api/v1/validator/pipelines', remoteAddress: address })).headers['x-ratelimit-remaining'], '2');

    const denied = await call(served.server, {
      method: 'OPTIONS',
      url: `/api/v1/pipelines/run/${org.org_slug}/${DEMO_ROUTE}`,
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key' },
    });
    assert.equal(denied.headers['access-control-allow-origin'], undefined);
  });
});

const list = (header: unknown) => String(header).split(',').map((name) => name.trim());

function assertErrorFrom(response: LightMyRequestResponse): unknown {
  assertError(response, 401);
  return response.headers['access-control-allow-origin'];
}

describe('CORS settings', () => {
  test('no CORS_ORIGINS: no origin may read a response, and no preflight is answered', async () => {
    const served = await serve({});
    try {
      const response = await call(served.server, { method: 'GET', url: '/health', headers: { origin: FRONTEND } });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['access-control-allow-origin'], undefined);
      const preflight = await call(served.server, { method: 'OPTIONS', url: '/health', headers: { origin: FRONTEND, 'access-control-request-method': 'GET' } });
      assert.equal(preflight.headers['access-control-allow-origin'], undefined);
      assertError(preflight, 404);
    } finally {
      await served.close();
    }
  });

  test('CORS_ORIGINS=* lets any origin read; CORS_ALLOW_CREDENTIALS=true says so to listed origins', async () => {
    const any = await serve({ CORS_ORIGINS: '*' });
    try {
      assert.equal((await call(any.server, { method: 'GET', url: '/health', headers: { origin: 'https://anyone.example' } })).headers['access-control-allow-origin'], '*');
    } finally {
      await any.close();
    }
    const withCredentials = await serve({ CORS_ORIGINS: FRONTEND, CORS_ALLOW_CREDENTIALS: 'true' });
    try {
      const response = await call(withCredentials.server, { method: 'GET', url: '/health', headers: { origin: FRONTEND } });
      assert.equal(response.headers['access-control-allow-origin'], FRONTEND);
      assert.equal(response.headers['access-control-allow-credentials'], 'true');
    } finally {
      await withCredentials.close();
    }
  });
});

describe('body limits', () => {
  let served: Awaited<ReturnType<typeof serve>>;
  let org: CreatedOrg;
  before(async () => {
    served = await serve({ API_BODY_LIMIT_BYTES: '2048' });
    org = await createOrg(served.server, 'body_org');
  });
  after(() => served.close());

  test('a JSON body over API_BODY_LIMIT_BYTES is refused with 413 in the error shape, before auth or a run', async () => {
    const url = `/api/v1/pipelines/run/${org.org_slug}/${DEMO_ROUTE}`;
    const big = JSON.stringify({ date: '2026-01-05', note: 'x'.repeat(3000) });
    for (const headers of [{ 'x-api-key': org.api_key }, {}]) {
      const response = await call(served.server, { method: 'POST', url, headers: { ...headers, 'content-type': 'application/json' }, payload: big });
      assertError(response, 413, { code: 'payload_too_large', message: 'The body is larger than this endpoint accepts' });
    }
    assert.equal((await served.app.runs.list(org.org_slug, { limit: 10 })).length, 0);
    // Under the limit the same route takes the body (a 400 for the unknown field, not a 413).
    const small = await call(served.server, { method: 'POST', url, headers: { 'x-api-key': org.api_key, 'content-type': 'application/json' }, payload: JSON.stringify({ date: '2026-01-05', note: 'x'.repeat(100) }) });
    assert.notEqual(small.statusCode, 413, small.body);
  });

  test('the plans CSV has its own 10 MB limit, above the JSON one', async () => {
    const url = `/api/v1/subscriptions/plans/${org.org_slug}`;
    const headers = { 'x-api-key': org.api_key, 'content-type': 'text/csv' };
    assertError(await call(served.server, { method: 'PUT', url, headers, payload: Buffer.alloc(10 * 1_048_576 + 1, 'a') }), 413, { code: 'payload_too_large' });
    const underTen = await call(served.server, { method: 'PUT', url, headers, payload: `plan_name\n${'a'.repeat(4096)}\n` });
    assert.notEqual(underTen.statusCode, 413, underTen.body);
  });
});
