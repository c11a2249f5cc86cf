import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { AUDITED_ROUTES, NOT_AUDITED } from '../../src/api/audit.ts';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';
import { sampleUrl } from './api-helpers.ts';

/** No mutating route escapes the audit declaration (issue 14, item 3), as no route escapes auth (route-walk.test.ts). */
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

test('every POST, PUT, PATCH and DELETE route is audited or declared not audited, with a reason', () => {
  const registered = server.mutatingRoutes;
  assert.ok(registered.length >= 25, `only ${registered.length} mutating routes seen`);
  const undeclared = registered.filter((route) => !(route in AUDITED_ROUTES) && !(route in NOT_AUDITED));
  assert.deepEqual(undeclared, [], 'declare these in AUDITED_ROUTES or NOT_AUDITED (src/api/audit.ts)');
  for (const [route, reason] of Object.entries(NOT_AUDITED)) assert.ok(reason.length >= 20, `${route}: say why it is not audited`);
  const stale = [...Object.keys(AUDITED_ROUTES), ...Object.keys(NOT_AUDITED)].filter((route) => !registered.includes(route));
  assert.deepEqual(stale, [], 'declared routes that no longer exist');
  // The walk sees what the OpenAPI document shows, and the hidden routes too.
  const documented = Object.entries((server.swagger() as { paths: Record<string, Record<string, unknown>> }).paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`).filter((route) => /^(POST|PUT|PATCH|DELETE) /.test(route)),
  );
  assert.deepEqual(documented.filter((route) => !registered.includes(route)), []);
});

test('every audited route, refused for want of a key, leaves its entry: action, target org, 401', async () => {
  for (const [route, declaration] of Object.entries(AUDITED_ROUTES)) {
    const [method, path] = route.split(' ') as [string, string];
    const requestId = `walk-${method}-${path.replace(/[^a-z0-9]+/gi, '-')}`.slice(0, 100);
    const url = sampleUrl(path);
    const response = await server.inject({ method: method as 'POST', url, headers: { 'x-request-id': requestId }, payload: method === 'DELETE' ? undefined : {} });
    assert.equal(response.statusCode, 401, `${route}: ${response.body.slice(0, 200)}`);
    const [entry] = await cp.db.query<{ action: string; org_slug: string | null; actor: string; outcome: string; status: number; details: unknown }>('SELECT action, org_slug, actor, outcome, status, details FROM audit_log WHERE request_id = $1', [requestId]);
    assert.ok(entry, `${route} left no entry`);
    const expected = typeof declaration.action === 'string' ? declaration.action : declaration.action({ params: {}, query: {}, body: undefined, response: undefined, status: 401 });
    assert.deepEqual({ ...entry }, { action: expected, org_slug: path.includes(':org') ? 'acme' : null, actor: 'anonymous', outcome: 'failure', status: 401, details: {} }, route);
  }
});
