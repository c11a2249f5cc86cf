/**
 * Issue 10, item 12: malformed input reached the database and answered 500, or was stored as
 * given. Each case of the issue, on PGlite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { ROOT_KEY, waitForRunEnd } from '../support/test-app.ts';
import { assertError, assertOk, call, closeServed, DEMO_ROUTE, requestRun, serveOrgWithRun, startRun, type CreatedOrg } from './api-helpers.ts';

const root = { 'x-ca-root-key': ROOT_KEY };

for (const factory of controlPlaneFactories()) {
  describe(`input bounds (${factory.name})`, () => {
    let controlPlane: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let org: CreatedOrg;
    let runId: string;

    before(async () => {
      ({ controlPlane, app, server, org, runId } = await serveOrgWithRun(factory, 'bounds_org'));
    });

    after(() => closeServed({ server, app, controlPlane }));

    test('a NUL byte in {org} of the key and credential routes is a 400 naming org, not a database error', async () => {
      const nul = 'bounds%00org';
      const key = '00000000-0000-4000-8000-000000000000';
      for (const [method, url, payload] of [
        ['POST', `/api/v1/admin/orgs/${nul}/keys`, undefined],
        ['DELETE', `/api/v1/admin/orgs/${nul}/keys/${key}`, undefined],
        ['PUT', `/api/v1/admin/orgs/${nul}/credentials/openai`, { secret: 'sk-test' }],
        ['DELETE', `/api/v1/admin/orgs/${nul}/credentials/openai`, undefined],
        ['GET', `/api/v1/admin/orgs/${nul}/credentials`, undefined],
      ] as const) {
        assertError(await call(server, { method, url, headers: root, ...(payload ? { payload } : {}) }), 400, { code: 'invalid_input', field: 'org' });
      }
    });

    test('after_id past a bigint, limits past an integer column: 400, and the largest valid ones pass', async () => {
      assertError(await call(server, { method: 'GET', url: `/api/v1/pipelines/logs/bounds_org/${runId}?after_id=99999999999999999999999`, headers: { 'x-api-key': org.api_key } }), 400, { field: 'after_id' });
      assertOk(await call(server, { method: 'GET', url: `/api/v1/pipelines/logs/bounds_org/${runId}?after_id=${Number.MAX_SAFE_INTEGER}`, headers: { 'x-api-key': org.api_key } }), 200);
      const patch = (payload: Record<string, unknown>) => call(server, { method: 'PATCH', url: '/api/v1/admin/orgs/bounds_org/subscription', headers: root, payload });
      assertError(await patch({ daily_limit: 1e20 }), 400, { field: 'daily_limit' });
      assertError(await patch({ concurrent_limit: 2147483648 }), 400, { field: 'concurrent_limit' });
      assertError(await patch({ monthly_limit: -1 }), 400, { field: 'monthly_limit' });
      const ok = await patch({ monthly_limit: 2147483647 });
      assertOk(ok, 200);
      assert.equal((ok.json() as { monthly_limit: number }).monthly_limit, 2147483647);
    });

    test('a plan that is not in plans.json is refused; one that is, is stored', async () => {
      const patch = (plan: unknown) => call(server, { method: 'PATCH', url: '/api/v1/admin/orgs/bounds_org/subscription', headers: root, payload: { plan } });
      assertError(await patch('NO_SUCH_PLAN'), 400, { field: 'plan' });
      assert.equal((await app.orgs.subscription('bounds_org')).plan, 'STARTER');
      assertOk(await patch('SCALE'), 200);
      assert.equal((await app.orgs.subscription('bounds_org')).plan, 'SCALE');
      assertError(await call(server, { method: 'POST', url: '/api/v1/admin/orgs', headers: root, payload: { org_slug: 'bounds_new', plan: 'NO_SUCH_PLAN' } }), 400, { field: 'plan' });
      assertError(await call(server, { method: 'POST', url: '/api/v1/admin/orgs', headers: root, payload: { org_slug: 'bounds_new', name: 'a\u0000b' } }), 400, { field: 'name' });
      assert.equal(await app.orgs.get('bounds_new'), undefined);
    });

    test('a JSON body is never coerced: {"secret": 123} is refused, nothing is stored', async () => {
      const put = (payload: Record<string, unknown>) => call(server, { method: 'PUT', url: '/api/v1/admin/orgs/bounds_org/credentials/openai', headers: root, payload });
      assertError(await put({ secret: 123 }), 400, { field: 'secret' });
      assertError(await put({ secret: ['sk-test'] }), 400, { field: 'secret' });
      assertError(await put({ secret: 'sk-test', metadata: { organization_id: 'a\u0000b' } }), 400, { field: 'metadata' });
      assert.deepEqual(await app.credentials.list('bounds_org'), []);
      assertOk(await put({ secret: 'sk-test' }), 200);
      // Query and path values are still read as the numbers they declare.
      assertOk(await call(server, { method: 'GET', url: '/api/v1/pipelines/runs?limit=5', headers: { 'x-api-key': org.api_key } }), 200);
    });

    test('a 10 KB path parameter is a 414 in the project’s shape, echoing nothing', async () => {
      const long = 'a'.repeat(10_000);
      for (const url of [`/api/v1/pipelines/status/${long}/${runId}`, `/api/v1/admin/orgs/${long}/subscription`, `/api/v1/pipelines/runs/${long}`]) {
        const response = await call(server, { method: 'GET', url, headers: { ...root, 'x-api-key': org.api_key } });
        assertError(response, 414, { code: 'uri_too_long' });
        assert.ok(!response.body.includes('aaaaaaaaaa'), 'the URL is not echoed');
      }
    });

    test('run ids are UUIDs as the database writes them: urn:uuid: is a 400, not a 500', async () => {
      assertError(await call(server, { method: 'GET', url: `/api/v1/pipelines/runs/urn:uuid:${runId}`, headers: { 'x-api-key': org.api_key } }), 400, { field: 'run_id' });
    });

    test('teams is bounded as the pipeline declares: 0, -1, 27 and 1e308 are refused, 1 and 26 run', async () => {
      for (const teams of [0, -1, 27, 1e308, 2.5, '3']) {
        const response = await requestRun(server, org, { date: '2026-01-07', teams });
        assertError(response, 400, { field: 'teams' });
      }
      const declared = app.pipelines.list().find((p) => p.route === DEMO_ROUTE)?.parameters?.teams;
      assert.deepEqual([declared?.minimum, declared?.maximum], [1, 26]);
      for (const teams of [1, 26]) {
        const id = await startRun(server, org, { date: '2026-01-07', teams });
        assert.equal((await waitForRunEnd(app, org.org_slug, id)).status, 'completed');
      }
    });

    test('Fastify’s own refusals have the project’s shape: unknown route, bad JSON, media type, body size', async () => {
      const weird = await call(server, { method: 'GET', url: '/api/v1/../../tmp/x%00' });
      assertError(weird, 404);
      assert.ok(!weird.body.includes('/tmp/'), weird.body);
      assertError(await call(server, { method: 'GET', url: '/api/v1/nope' }), 404, { message: 'No route GET /api/v1/nope' });
      const run = `/api/v1/pipelines/run/bounds_org/${DEMO_ROUTE}`;
      const headers = { 'x-api-key': org.api_key };
      assertError(await call(server, { method: 'POST', url: run, headers: { ...headers, 'content-type': 'application/json' }, payload: '{"date": ' }), 400, { code: 'invalid_json' });
      assertError(await call(server, { method: 'POST', url: run, headers: { ...headers, 'content-type': 'application/xml' }, payload: '<date/>' }), 415, { code: 'unsupported_media_type' });
      assertError(await call(server, { method: 'POST', url: run, headers: { ...headers, 'content-type': 'text/csv' }, payload: 'date\n2026-01-01' }), 415, { code: 'unsupported_media_type' });
      assertError(await call(server, { method: 'POST', url: run, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify({ date: '2026-01-01', pad: 'x'.repeat(1_100_000) }) }), 413, { code: 'payload_too_large' });
      assertError(await call(server, { method: 'GET', url: '/api/v1/pipelines/runs/%zz', headers }), 400);
    });
  });
}
