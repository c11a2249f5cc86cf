import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { ROOT_KEY, testApp, waitForRunEnd } from '../support/test-app.ts';
import { assertError, assertOk, call, createOrg, DEMO_ROUTE, startRun, type CreatedOrg } from './api-helpers.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
interface Endpoint {
  name: string;
  method: Method;
  /** The request, built when it is sent (a DELETE needs a fresh key each time). */
  build(): Promise<{ url: string; payload?: InjectOptions['payload'] }>;
  /** Whether `{org}` is in the path: a foreign key is then refused with 403. */
  orgInPath: boolean;
}

const FOREIGN_RUN_NOT_FOUND = 404;
const NEVER_A_RUN = '00000000-0000-4000-8000-000000000000';
const WRONG_ORG_KEY = 'pk_nobody_0000000000000000000000000000000000000000';

function send(server: FastifyInstance, method: Method, request: { url: string; payload?: InjectOptions['payload'] }, headers: Record<string, string>) {
  return call(server, { method, url: request.url, headers, ...(request.payload !== undefined ? { payload: request.payload } : {}) });
}

for (const factory of controlPlaneFactories()) {
  describe(`API auth matrix (${factory.name})`, () => {
    let controlPlane: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let adminOff: App;
    let adminOffServer: FastifyInstance;
    let alpha: CreatedOrg;
    let beta: CreatedOrg;
    let alphaRun: string;
    const extraRuns: string[] = [];
    let slugs = 0;

    before(async () => {
      controlPlane = await factory.open();
      app = await testApp(controlPlane);
      app.worker?.start();
      server = await buildServer(app);
      adminOff = await testApp(controlPlane, { settings: { CA_ROOT_API_KEY: '', WORKER_CONCURRENCY: '0' } });
      adminOffServer = await buildServer(adminOff);
      alpha = await createOrg(server, 'auth_alpha');
      beta = await createOrg(server, 'auth_beta');
      alphaRun = await startRun(server, alpha);
      assert.equal((await waitForRunEnd(app, alpha.org_slug, alphaRun)).status, 'completed');
    });

    after(async () => {
      for (const runId of extraRuns) await waitForRunEnd(app, alpha.org_slug, runId).catch(() => undefined);
      await server?.close();
      await adminOffServer?.close();
      await app?.close();
      await adminOff?.close();
      await controlPlane?.close();
    });

    const org = 'auth_alpha';
    const fixed = (url: string, payload?: InjectOptions['payload']) => async () => ({ url, ...(payload !== undefined ? { payload } : {}) });
    const orgEndpoints: Endpoint[] = [
      { name: 'POST pipelines/run', method: 'POST', orgInPath: true, build: fixed(`/api/v1/pipelines/run/${org}/${DEMO_ROUTE}`, { date: '2026-01-06' }) },
      { name: 'GET pipelines/runs/{run_id}', method: 'GET', orgInPath: false, build: async () => ({ url: `/api/v1/pipelines/runs/${alphaRun}` }) },
      { name: 'GET pipelines/runs', method: 'GET', orgInPath: false, build: fixed('/api/v1/pipelines/runs') },
      { name: 'GET pipelines/status', method: 'GET', orgInPath: true, build: async () => ({ url: `/api/v1/pipelines/status/${org}/${alphaRun}` }) },
      { name: 'GET pipelines/history', method: 'GET', orgInPath: true, build: fixed(`/api/v1/pipelines/history/${org}`) },
      { name: 'GET pipelines/logs', method: 'GET', orgInPath: true, build: async () => ({ url: `/api/v1/pipelines/logs/${org}/${alphaRun}` }) },
      { name: 'GET pipelines/logs/steps', method: 'GET', orgInPath: true, build: async () => ({ url: `/api/v1/pipelines/logs/${org}/${alphaRun}/steps` }) },
      { name: 'GET pipelines/logs/transitions', method: 'GET', orgInPath: true, build: async () => ({ url: `/api/v1/pipelines/logs/${org}/${alphaRun}/transitions` }) },
      { name: 'GET pipelines/logs/download', method: 'GET', orgInPath: true, build: async () => ({ url: `/api/v1/pipelines/logs/${org}/${alphaRun}/download` }) },
      { name: 'POST pipelines/cancel', method: 'POST', orgInPath: true, build: async () => ({ url: `/api/v1/pipelines/cancel/${org}/${alphaRun}` }) },
    ];

    for (const endpoint of orgEndpoints) {
      describe(endpoint.name, () => {
        test('no key → 401', async () => {
          assertError(await send(server, endpoint.method, await endpoint.build(), {}), 401, { message: 'X-API-Key header required' });
        });
        test('unknown key → 401', async () => {
          assertError(await send(server, endpoint.method, await endpoint.build(), { 'x-api-key': WRONG_ORG_KEY }), 401, { message: 'Invalid or revoked API key' });
        });
        // The operator reads any org's data (the dashboard's all-orgs view); every change, and a read without {org}, needs the org's key.
        const rootReads = endpoint.method === 'GET' && endpoint.orgInPath;
        test(rootReads ? 'root key alone → 2xx (the operator reads any org)' : 'root key alone → 401 (org endpoints need X-API-Key)', async () => {
          const response = await send(server, endpoint.method, await endpoint.build(), { 'x-ca-root-key': ROOT_KEY });
          if (rootReads) {
            assertOk(response);
            assert.ok(response.body.includes(alphaRun), 'the org’s run is missing');
          } else assertError(response, 401);
        });
        test('a wrong root key → 401, even for reads', async () => {
          assertError(await send(server, endpoint.method, await endpoint.build(), { 'x-ca-root-key': `${ROOT_KEY}x` }), 401);
        });
        test('root key as X-API-Key → 401', async () => {
          assertError(await send(server, endpoint.method, await endpoint.build(), { 'x-api-key': ROOT_KEY }), 401);
        });
        test('another org’s key → refused, never the run’s data', async () => {
          const response = await send(server, endpoint.method, await endpoint.build(), { 'x-api-key': beta.api_key });
          if (endpoint.orgInPath) {
            assertError(response, 403, { message: `This API key does not belong to organization ${org}` });
            assert.ok(!response.body.includes(alphaRun));
          } else if (endpoint.name === 'GET pipelines/runs') {
            assertOk(response, 200);
            assert.deepEqual((response.json() as { runs: unknown[] }).runs, []);
            assert.ok(!response.body.includes(alphaRun));
          } else {
            assertError(response, FOREIGN_RUN_NOT_FOUND);
            assert.ok(!response.body.includes(org), 'the foreign run’s org leaked');
            assert.ok(!response.body.includes('demo_usage_daily_cost'), 'the foreign run’s pipeline leaked');
            // Indistinguishable from a run that never existed: no existence oracle across tenants.
            const never = await send(server, 'GET', { url: `/api/v1/pipelines/runs/${NEVER_A_RUN}` }, { 'x-api-key': beta.api_key });
            const strip = (body: string, id: string) => ({ ...(JSON.parse(body.replaceAll(id, 'ID')) as object), request_id: '' });
            assert.deepEqual(strip(response.body, alphaRun), strip(never.body, NEVER_A_RUN));
          }
        });
        test('the org’s own key → 2xx (a cancel of its completed run: 409)', async () => {
          const response = await send(server, endpoint.method, await endpoint.build(), { 'x-api-key': alpha.api_key });
          if (endpoint.name === 'POST pipelines/cancel') return void assertError(response, 409);
          assertOk(response);
          if (endpoint.name === 'POST pipelines/run') extraRuns.push((response.json() as { run_id: string }).run_id);
          else assert.ok(response.body.includes(alphaRun), 'the org’s own run is missing');
        });
      });
    }

    // The literal requirement: a foreign run's id appears nowhere in the 404. It fails because the
    // message echoes the requested id ("Run <id> not found"); the id is the caller's own input.
    test('GET pipelines/runs/{run_id} of another org: body does not even echo the run_id', async () => {
      const response = await send(server, 'GET', { url: `/api/v1/pipelines/runs/${alphaRun}` }, { 'x-api-key': beta.api_key });
      assert.equal(response.statusCode, 404);
      assert.ok(!response.body.includes(alphaRun));
    });

    const adminSlug = () => `auth_admin_${++slugs}`;
    const freshKey = async () => {
      const response = await call(server, { method: 'POST', url: `/api/v1/admin/orgs/${org}/keys`, headers: { 'x-ca-root-key': ROOT_KEY } });
      assertOk(response, 201);
      return (response.json() as { key_id: string }).key_id;
    };
    const adminEndpoints: Endpoint[] = [
      { name: 'POST admin/orgs', method: 'POST', orgInPath: false, build: async () => ({ url: '/api/v1/admin/orgs', payload: { org_slug: adminSlug(), plan: 'TRIAL' } }) },
      { name: 'GET admin/orgs', method: 'GET', orgInPath: false, build: fixed('/api/v1/admin/orgs') },
      { name: 'GET admin/orgs/{org}/subscription', method: 'GET', orgInPath: true, build: fixed(`/api/v1/admin/orgs/${org}/subscription`) },
      { name: 'PATCH admin/orgs/{org}/subscription', method: 'PATCH', orgInPath: true, build: fixed(`/api/v1/admin/orgs/${org}/subscription`, { daily_limit: 100 }) },
      { name: 'POST admin/orgs/{org}/keys', method: 'POST', orgInPath: true, build: fixed(`/api/v1/admin/orgs/${org}/keys`) },
      { name: 'DELETE admin/orgs/{org}/keys/{key_id}', method: 'DELETE', orgInPath: true, build: async () => ({ url: `/api/v1/admin/orgs/${org}/keys/${await freshKey()}` }) },
    ];

    for (const endpoint of adminEndpoints) {
      describe(endpoint.name, () => {
        test('no key → 401', async () => {
          assertError(await send(server, endpoint.method, await endpoint.build(), {}), 401, { message: 'X-CA-Root-Key header required' });
        });
        test('wrong root key → 401', async () => {
          assertError(await send(server, endpoint.method, await endpoint.build(), { 'x-ca-root-key': `${ROOT_KEY}x` }), 401, { message: 'Invalid root key' });
        });
        test('an org key as X-CA-Root-Key → 401', async () => {
          assertError(await send(server, endpoint.method, await endpoint.build(), { 'x-ca-root-key': alpha.api_key }), 401);
        });
        test('an org key as X-API-Key → 401', async () => {
          assertError(await send(server, endpoint.method, await endpoint.build(), { 'x-api-key': alpha.api_key }), 401);
        });
        test('right root key → 2xx', async () => {
          assertOk(await send(server, endpoint.method, await endpoint.build(), { 'x-ca-root-key': ROOT_KEY }));
        });
        test('CA_ROOT_API_KEY unset → 403 even for the old root key', async () => {
          assertError(await send(adminOffServer, endpoint.method, await endpoint.build(), { 'x-ca-root-key': ROOT_KEY }), 403, { message: /CA_ROOT_API_KEY is not set/ });
        });
      });
    }

    test('admin writes refused with 401 changed nothing', async () => {
      const orgs = await call(server, { method: 'GET', url: '/api/v1/admin/orgs', headers: { 'x-ca-root-key': ROOT_KEY } });
      const created = (orgs.json() as { orgs: { org_slug: string }[] }).orgs.filter((o) => o.org_slug.startsWith('auth_admin_'));
      // One POST admin/orgs succeeded (right root key); the refused ones and the admin-off ones created nothing.
      assert.equal(created.length, 1);
    });

    test('a revoked key → 401; the org’s other keys keep working', async () => {
      const created = await call(server, { method: 'POST', url: `/api/v1/admin/orgs/${org}/keys`, headers: { 'x-ca-root-key': ROOT_KEY } });
      const key = created.json() as { key_id: string; api_key: string };
      const history = (apiKey: string) => call(server, { method: 'GET', url: `/api/v1/pipelines/history/${org}`, headers: { 'x-api-key': apiKey } });
      assertOk(await history(key.api_key), 200);
      assertOk(await call(server, { method: 'DELETE', url: `/api/v1/admin/orgs/${org}/keys/${key.key_id}`, headers: { 'x-ca-root-key': ROOT_KEY } }), 204);
      assertError(await history(key.api_key), 401, { message: 'Invalid or revoked API key' });
      assertOk(await history(alpha.api_key), 200);
      // Revoking twice is a 404: the key is no longer active.
      assertError(await call(server, { method: 'DELETE', url: `/api/v1/admin/orgs/${org}/keys/${key.key_id}`, headers: { 'x-ca-root-key': ROOT_KEY } }), 404);
    });

    test('a key cannot be revoked through another org’s path', async () => {
      const response = await call(server, { method: 'DELETE', url: `/api/v1/admin/orgs/auth_beta/keys/${alpha.key_id}`, headers: { 'x-ca-root-key': ROOT_KEY } });
      assertError(response, 404);
      assertOk(await call(server, { method: 'GET', url: `/api/v1/pipelines/history/${org}`, headers: { 'x-api-key': alpha.api_key } }), 200);
    });

    test('a caller’s x-request-id is echoed in the header and the error body', async () => {
      const response = await call(server, { method: 'GET', url: `/api/v1/pipelines/history/${org}`, headers: { 'x-request-id': 'auth-matrix.1' } });
      assert.equal(assertError(response, 401).request_id, 'auth-matrix.1');
      const unsafe = await call(server, { method: 'GET', url: `/api/v1/pipelines/history/${org}`, headers: { 'x-request-id': 'bad id!' } });
      assert.notEqual(assertError(unsafe, 401).request_id, 'bad id!');
    });

    test('an unknown route → 404 in the same error shape', async () => {
      assertError(await call(server, { method: 'GET', url: '/api/v1/nope' }), 404, { message: 'No route GET /api/v1/nope' });
    });

    test('authentication comes before validation: no key and a bad path is 401, not 400', async () => {
      assertError(await call(server, { method: 'GET', url: '/api/v1/pipelines/history/BAD' }), 401, { code: 'unauthenticated' });
      assertError(await call(server, { method: 'GET', url: '/api/v1/admin/orgs/BAD/subscription' }), 401, { code: 'unauthenticated' });
    });

    test('a run request without a body runs the defaults (yesterday)', async () => {
      const response = await call(server, { method: 'POST', url: `/api/v1/pipelines/run/${org}/${DEMO_ROUTE}`, headers: { 'x-api-key': alpha.api_key } });
      assertOk(response, 202);
      const runId = (response.json() as { run_id: string }).run_id;
      extraRuns.push(runId);
      const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      assert.equal((await app.runs.get(org, runId))?.parameters.start_date, yesterday);
    });
  });
}
