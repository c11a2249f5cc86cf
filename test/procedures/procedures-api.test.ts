import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { assertError, assertOk, call, createOrg, type CreatedOrg } from '../api/api-helpers.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { CONFIGS, ROOT_KEY, testApp, waitForRunEnd } from '../support/test-app.ts';

interface Listed { name: string; content_hash: string; source_file: string | null; synced_at: string }
interface FileView { name: string; path: string; content_hash: string; status: string; registered_hash: string | null }
interface Synced { created: string[]; updated: string[]; unchanged: string[]; failed: { name: string; reason: string }[] }

const ROOT = { 'x-ca-root-key': ROOT_KEY };
const DEMO = 'sp_demo_1_generate_usage';

/**
 * GET/POST/DELETE through inject() as root. The procedures' own SQL is in some bodies by design
 * (GET /procedures/{name} returns it), so those are sent without call()'s no-SQL-in-body check.
 */
function root(server: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: InjectOptions['payload']) {
  return call(server, { method, url, headers: ROOT, ...(payload !== undefined ? { payload } : {}) });
}

for (const factory of controlPlaneFactories()) {
  describe(`procedures API (${factory.name})`, () => {
    let controlPlane: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let configs: string;
    let org: CreatedOrg;
    let fileCount: number;

    before(async () => {
      // A copy of the configs, so a test can change a procedure file.
      configs = mkdtempSync(join(tmpdir(), 'procedures-configs-'));
      cpSync(CONFIGS, configs, { recursive: true });
      controlPlane = await factory.open();
      app = await testApp(controlPlane, { settings: { PIPELINE_CONFIGS_DIR: configs } });
      app.worker?.start();
      server = await buildServer(app);
      org = await createOrg(server, `procs_${factory.name}`);
    });
    after(async () => {
      await server.close();
      await app.close();
      await controlPlane.close();
    });

    const list = async () => {
      const response = await root(server, 'GET', '/api/v1/procedures');
      assertOk(response, 200);
      return new Map((response.json() as { procedures: Listed[] }).procedures.map((p) => [p.name, p]));
    };
    const files = async () => {
      const response = await root(server, 'GET', '/api/v1/procedures/files');
      assertOk(response, 200);
      return (response.json() as { dialect: string; files: FileView[] }).files;
    };
    const sync = async (body: Record<string, unknown> = {}) => {
      const response = await root(server, 'POST', '/api/v1/procedures/sync', body);
      assertOk(response, 200);
      return response.json() as Synced;
    };

    test('files, then a sync registers each; a second sync registers none again', async () => {
      const before = await files();
      fileCount = before.length;
      assert.ok(fileCount >= 15, `${fileCount} procedure files`);
      assert.ok(before.every((file) => file.status === 'not_registered' && /^[0-9a-f]{64}$/.test(file.content_hash)));
      const demo = before.find((file) => file.name === DEMO);
      assert.equal(demo?.path, `demo/${DEMO}.duckdb.sql`);
      assert.equal((await list()).size, 0);

      const first = await sync();
      assert.deepEqual(first.failed, []);
      assert.equal(first.created.length, fileCount);
      assert.deepEqual([first.updated, first.unchanged], [[], []]);
      const registered = await list();
      assert.equal(registered.size, fileCount);
      for (const file of before) {
        assert.equal(registered.get(file.name)?.content_hash, file.content_hash, file.name);
        assert.equal(registered.get(file.name)?.source_file, file.path);
      }
      assert.ok((await files()).every((file) => file.status === 'in_sync'));

      const second = await sync({ force: false });
      assert.deepEqual([second.created, second.updated, second.failed], [[], [], []]);
      assert.equal(second.unchanged.length, fileCount);
      const after = await list();
      for (const [name, procedure] of registered) assert.equal(after.get(name)?.synced_at, procedure.synced_at, `${name} was registered again`);
    });

    test('a changed file is re-registered alone; force re-registers all', async () => {
      const previous = await list();
      appendFileSync(join(configs, 'system', 'procedures', 'demo', `${DEMO}.duckdb.sql`), '\n-- changed by the test\n');
      const changed = (await files()).find((file) => file.name === DEMO);
      assert.equal(changed?.status, 'changed');
      assert.equal(changed?.registered_hash, previous.get(DEMO)?.content_hash);

      const synced = await sync();
      assert.deepEqual(synced.updated, [DEMO]);
      assert.equal(synced.unchanged.length, fileCount - 1);
      const now = await list();
      assert.equal(now.get(DEMO)?.content_hash, changed?.content_hash);
      assert.ok((now.get(DEMO)?.synced_at ?? '') > (previous.get(DEMO)?.synced_at ?? ''));
      assert.equal(now.get('sp_genai_3_convert_to_focus')?.synced_at, previous.get('sp_genai_3_convert_to_focus')?.synced_at);

      const forced = await sync({ force: true });
      assert.equal(forced.updated.length, fileCount);
      assert.deepEqual([forced.created, forced.unchanged, forced.failed], [[], [], []]);
      const afterForce = await list();
      assert.ok([...afterForce.values()].every((procedure) => procedure.synced_at > (now.get(procedure.name)?.synced_at ?? '')));
    });

    test('POST creates, then replaces; GET shows what runs; DELETE removes', async () => {
      const name = 'sp_test_1_constant';
      const sql = 'SELECT CAST($start_date AS DATE) AS usage_date, 1 AS n FROM {org_dataset}.demo_usage_raw LIMIT 1';
      const created = await server.inject({ method: 'POST', url: `/api/v1/procedures/${name}`, headers: ROOT, payload: { sql } });
      assertOk(created, 201);
      const body = created.json() as { created: boolean; procedure: Listed };
      assert.equal(body.created, true);
      assert.equal(body.procedure.source_file, null);
      const replaced = await server.inject({ method: 'POST', url: `/api/v1/procedures/${name}`, headers: ROOT, payload: { sql: `${sql};`, dialect: 'duckdb' } });
      assertOk(replaced, 200);
      assert.equal((replaced.json() as { created: boolean }).created, false);

      const shown = await server.inject({ method: 'GET', url: `/api/v1/procedures/${name}`, headers: ROOT });
      assertOk(shown, 200);
      assert.deepEqual({ ...(shown.json() as Record<string, unknown>), registered: undefined }, { name, dialect: 'duckdb', runs: 'registered', sql: `${sql};`, registered: undefined, file: null });

      const deleted = await root(server, 'DELETE', `/api/v1/procedures/${name}`);
      assertOk(deleted, 200);
      assert.deepEqual(deleted.json(), { name, dialect: 'duckdb', deleted: true, runs: 'nothing' });
      assertError(await root(server, 'GET', `/api/v1/procedures/${name}`), 404);
      assertError(await root(server, 'DELETE', `/api/v1/procedures/${name}`), 404);
      assert.equal((await list()).has(name), false);
    });

    test('SQL DuckDB would not run is refused with 422 naming the problem, and nothing is registered', async () => {
      const before = (await list()).get(DEMO);
      const refused = async (sql: string, message: RegExp) => {
        const response = await root(server, 'POST', `/api/v1/procedures/${DEMO}`, { sql });
        const error = assertError(response, 422, { code: 'unprocessable_content', field: 'sql', message });
        assert.doesNotMatch(error.error.message, /Parser Error|LINE \d|Failed to extract|\n/);
      };
      await refused('SELECT 1;\nSELEC 2 FROM x', /^statement 2 of 2 does not parse: syntax error at or near "SELEC"$/);
      await refused('SELECT (1', /^statement 1 of 1 does not parse: syntax error at end of input$/);
      await refused('SELECT * FROM {org_dataset}.t WHERE a = {customer}', /names \{customer\} as a template.*bind a value as a parameter instead: \$customer/);
      await refused('DELETE FROM {org_dataset}.t; COMMIT', /^statement 2 of 2 controls the transaction/);
      await refused("ATTACH 'other.duckdb' AS other", /changes the databases the warehouse has open/);
      await refused('SET threads = 1', /without saying its scope/);
      await refused("COPY (SELECT 1) TO 'out.csv'", /reads or writes files/);
      await refused('-- only a comment', /holds no SQL statement/);
      const after = (await list()).get(DEMO);
      assert.deepEqual(after, before);
    });

    test('a bad name is a 400 naming it; a bad body a 400 naming the field', async () => {
      for (const name of ['DROP', 'sp_UPPER', 'demo_1', 'sp_x%3Bdrop', 'sp_x%00', 'sp_']) {
        assertError(await root(server, 'POST', `/api/v1/procedures/${name}`, { sql: 'SELECT 1' }), 400, { field: 'name' });
        assertError(await root(server, 'GET', `/api/v1/procedures/${name}`), 400, { field: 'name' });
        assertError(await root(server, 'DELETE', `/api/v1/procedures/${name}`), 400, { field: 'name' });
      }
      // Past Fastify's longest path parameter, before the name's own 128.
      assertError(await root(server, 'GET', `/api/v1/procedures/sp_${'a'.repeat(120)}`), 414, { code: 'uri_too_long' });
      assertError(await root(server, 'POST', '/api/v1/procedures/sp_x', { sql: '' }), 400, { field: 'sql' });
      assertError(await root(server, 'POST', '/api/v1/procedures/sp_x', { sql: 'SELECT 1', owner: 'me' }), 400, { field: 'owner' });
      assertError(await root(server, 'POST', '/api/v1/procedures/sp_x', { sql: 'SELECT 1', dialect: 'bigquery' }), 400, { field: 'dialect', message: /runs duckdb procedures/ });
      assertError(await root(server, 'POST', '/api/v1/procedures/sync', { force: 'yes' }), 400, { field: 'force' });
    });

    test('an org key, no key or a wrong root key is refused', async () => {
      const requests: { method: 'GET' | 'POST' | 'DELETE'; url: string; payload?: Record<string, unknown> }[] = [
        { method: 'GET', url: '/api/v1/procedures' },
        { method: 'GET', url: '/api/v1/procedures/files' },
        { method: 'POST', url: '/api/v1/procedures/sync', payload: {} },
        { method: 'GET', url: `/api/v1/procedures/${DEMO}` },
        { method: 'POST', url: `/api/v1/procedures/${DEMO}`, payload: { sql: 'SELECT 1' } },
        { method: 'DELETE', url: `/api/v1/procedures/${DEMO}` },
      ];
      for (const request of requests) {
        for (const headers of [{ 'x-api-key': org.api_key }, {}, { 'x-ca-root-key': 'not-the-root-key' }]) {
          assertError(await call(server, { ...request, headers }), 401);
        }
      }
      assert.ok((await list()).has(DEMO), 'a refused DELETE removed nothing');
    });

    test('each change is in the audit log with its hashes, and each request too', async () => {
      const changes = await app.audit.list(undefined, { action: 'procedure.*', limit: 500 });
      const creates = changes.filter((entry) => entry.action === 'procedure.create');
      assert.equal(creates.filter((entry) => entry.details.source_file !== null).length, fileCount);
      const demoReplace = changes.find((entry) => entry.action === 'procedure.replace' && entry.target_id === DEMO);
      assert.ok(demoReplace);
      assert.equal(demoReplace.actor, 'root');
      assert.equal(demoReplace.via, 'api');
      assert.match(String(demoReplace.details.content_hash), /^[0-9a-f]{64}$/);
      assert.match(String(demoReplace.details.previous_hash), /^[0-9a-f]{64}$/);
      const syncs = changes.filter((entry) => entry.action === 'procedure.sync');
      assert.ok(syncs.length >= 4);
      // A change and the request that made it share the request id.
      assert.ok(syncs.some((request) => request.request_id === demoReplace.request_id));
      assert.ok(changes.some((entry) => entry.action === 'procedure.delete' && entry.target_id === 'sp_test_1_constant'));
      assert.ok(changes.some((entry) => entry.action === 'procedure.remove' && entry.outcome === 'failure' && entry.status === 401));
    });

    test('a step runs the registered version; after DELETE, the file again', async () => {
      const file = readFileSync(join(configs, 'system', 'procedures', 'demo', `${DEMO}.duckdb.sql`), 'utf8');
      // The registered version generates only the compute service.
      const computeOnly = file.replace("(VALUES ('compute', 0.045), ('storage', 0.020), ('egress', 0.090))", "(VALUES ('compute', 0.045))");
      assert.notEqual(computeOnly, file);
      assertOk(await root(server, 'POST', `/api/v1/procedures/${DEMO}`, { sql: computeOnly }), 200);

      const services = async (date: string) => {
        const started = await call(server, { method: 'POST', url: `/api/v1/pipelines/run/${org.org_slug}/demo/usage/daily_cost`, headers: { 'x-api-key': org.api_key }, payload: { date, teams: 2 } });
        assertOk(started, 202);
        const runId = (started.json() as { run_id: string }).run_id;
        assert.equal((await waitForRunEnd(app, org.org_slug, runId)).status, 'completed');
        const step = (await app.runs.steps(org.org_slug, runId)).find((s) => s.step_id === 'generate_usage');
        const rows = await app.warehouse?.query(`SELECT DISTINCT service FROM ${org.org_slug}_dev.demo_usage_raw WHERE x_run_id = $run ORDER BY service`, { run: runId });
        return { origin: step?.result?.procedure_origin, services: rows?.map((row) => row.service) };
      };
      assert.deepEqual(await services('2026-02-01'), { origin: 'registered', services: ['compute'] });

      const deleted = await root(server, 'DELETE', `/api/v1/procedures/${DEMO}`);
      assert.equal((deleted.json() as { runs: string }).runs, 'file');
      const shown = await server.inject({ method: 'GET', url: `/api/v1/procedures/${DEMO}`, headers: ROOT });
      assert.equal((shown.json() as { runs: string; registered: unknown }).runs, 'file');
      assert.deepEqual(await services('2026-02-02'), { origin: 'file', services: ['compute', 'egress', 'storage'] });
    });
  });
}
