import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { closedByDefault, orgAuth, PUBLIC_ROUTES } from '../../src/api/auth.ts';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';
import { sampleUrl } from './api-helpers.ts';

/** Auth cannot be forgotten (issue 14, item 2): every route is public by the declared list, or refuses a request without a key. */
let cp: ControlPlane;
let app: App;
let server: FastifyInstance;
before(async () => {
  cp = await openPglite();
  app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0' } });
  server = await buildServer(app);
  await server.ready();
});
after(async () => {
  await server.close();
  await app.close();
  await cp.close();
});

test('every documented route without a key: 401, unless declared public', async () => {
  const paths = (server.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
  let walked = 0;
  for (const [path, operations] of Object.entries(paths)) {
    for (const method of Object.keys(operations).map((m) => m.toUpperCase())) {
      if (method === 'HEAD') continue;
      const url = sampleUrl(path);
      const route = `${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`;
      const response = await server.inject({ method: method as 'GET', url, payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
      walked++;
      if (PUBLIC_ROUTES.has(route)) assert.notEqual(response.statusCode, 401, `${route} is declared public`);
      else assert.equal(response.statusCode, 401, `${route} answered ${response.statusCode} without a key: ${response.body.slice(0, 200)}`);
    }
  }
  assert.ok(walked >= 30, `only ${walked} routes walked`);
});

test('a route added without auth and not declared public stops the server from starting', async () => {
  const bare = Fastify();
  bare.addHook('onRoute', closedByDefault);
  assert.throws(() => bare.get('/api/v1/forgotten', async () => ({ secret: true })), /route GET \/api\/v1\/forgotten has no auth/);
  await bare.close();
  const guarded = Fastify();
  guarded.addHook('onRoute', closedByDefault);
  guarded.get('/api/v1/guarded', { preValidation: [orgAuth(app.orgs)] }, async () => ({}));
  await guarded.ready();
  await guarded.close();
});
