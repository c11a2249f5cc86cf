import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { buildServer } from '../../src/api/server.ts';
import { open, seal } from '../../src/credentials/envelope.ts';
import { localKeyFileWrapper } from '../../src/credentials/key-wrapper.ts';
import type { App } from '../../src/main/app.ts';
import { Secret } from '../../src/shared/secret.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { CONFIGS, REPO, ROOT_KEY, testApp, waitForRunEnd } from '../support/test-app.ts';
import { testProcessors } from '../support/test-processors.ts';
import { seededDataDir } from '../support/pglite-template.ts';

const SECRET = 'sk-admin-THIS-MUST-NEVER-LEAK-0123456789';

test('envelope encryption round-trips, and tampering is detected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keys-'));
  const wrapper = localKeyFileWrapper(join(dir, 'master.key'));
  const sealed = await seal(new Secret(SECRET), wrapper);
  assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600, 'key file created with mode 0600');
  assert.ok(!JSON.stringify(sealed).includes(SECRET));
  assert.equal((await open(sealed, () => wrapper)).reveal(), SECRET);
  const tampered = { ...sealed, ciphertext: Buffer.from(Buffer.from(sealed.ciphertext, 'base64').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64') };
  await assert.rejects(open(tampered, () => wrapper));
  const otherKey = localKeyFileWrapper(join(dir, 'other.key'));
  await assert.rejects(open(sealed, () => otherKey), 'another master key cannot open it');
});

test('a master key file readable by others is refused', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'keys-')), 'master.key');
  writeFileSync(path, Buffer.alloc(32, 1).toString('base64'));
  chmodSync(path, 0o644);
  await assert.rejects(seal(new Secret('x'), localKeyFileWrapper(path)), /readable by other users/);
});

test('a Secret never prints', () => {
  const secret = new Secret(SECRET);
  for (const shown of [JSON.stringify({ secret }), `${secret}`, String(secret), inspect({ secret })]) assert.ok(!shown.includes(SECRET), shown);
});

describe('credentials in the service', () => {
  let cp: ControlPlane;
  let app: App;
  const org = 'cred_org';
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cred-configs-'));
    await mkdir(join(dir, 'test', 'creds'), { recursive: true });
    await mkdir(join(dir, 'system'), { recursive: true });
    await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { TEST: { status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 5 } } }));
    await writeFile(join(dir, 'test', 'creds', 'use.yml'), 'pipeline_id: use_secret\nname: n\ndescription: d\nprovider: test\ndomain: creds\nversion: "1"\nsteps:\n  - { step_id: use, ps_type: test.uses_secret, config: { provider: openai } }\n');
    cp = await openPglite();
    app = await testApp(cp, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: dir } });
    await app.orgs.create(org, org, { plan: 'TEST', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 5 });
    app.worker?.start();
  });
  after(async () => {
    await app.close();
    await cp.close();
  });

  test('set, rotate, list and delete; the store holds only ciphertext', async () => {
    const first = await app.credentials.set(org, { provider: 'anthropic', secret: 'sk-ant-one', metadata: { base_url: 'http://127.0.0.1:1' } });
    assert.equal(first.rotated, false);
    const second = await app.credentials.set(org, { provider: 'anthropic', secret: 'sk-ant-two' });
    assert.deepEqual([second.rotated, second.version], [true, 2]);
    assert.equal((await app.credentials.accessFor(org, 'default').get('anthropic')).secret.reveal(), 'sk-ant-two');
    const rows = await cp.db.query('SELECT * FROM org_credentials');
    assert.ok(!JSON.stringify(rows).includes('sk-ant'));
    await assert.rejects(app.credentials.set(org, { provider: 'anthropic', secret: 'x', metadata: { api_key: 'oops' } }), /metadata.api_key looks like a secret/);
    await app.credentials.delete(org, 'anthropic');
    await assert.rejects(app.credentials.accessFor(org, 'default').get('anthropic'), /No anthropic credential "default" for cred_org/);
  });

  test('a pipeline using a credential leaks it into no log line, step, trace or response', async () => {
    await app.credentials.set(org, { provider: 'openai', secret: SECRET });
    const server = await buildServer(app);
    const { api_key } = await app.orgs.createKey(org);
    const headers = { 'x-api-key': api_key };
    const accepted = await server.inject({ method: 'POST', url: `/api/v1/pipelines/run/${org}/test/creds/use`, headers, payload: { date: '2026-01-01' } });
    const runId = (accepted.json() as { run_id: string }).run_id;
    const run = await waitForRunEnd(app, org, runId);
    assert.equal(run.status, 'completed', run.error_message ?? '');
    assert.equal(run.records_processed, 1, 'the processor did see the secret');
    const responses = [accepted.payload];
    for (const path of ['', '/steps', '/transitions', '/quality', '/download']) responses.push((await server.inject({ url: `/api/v1/pipelines/logs/${org}/${runId}${path}`, headers })).payload);
    responses.push((await server.inject({ url: `/api/v1/pipelines/status/${org}/${runId}`, headers })).payload);
    responses.push((await server.inject({ url: `/api/v1/admin/orgs/${org}/credentials`, headers: { 'x-ca-root-key': ROOT_KEY } })).payload);
    const logs = await app.runs.logs(org, runId);
    assert.ok(logs.some((line) => line.message.startsWith('using')), 'the careless log line was written');
    for (const text of [...responses, JSON.stringify(logs), JSON.stringify(await app.runs.steps(org, runId))]) assert.ok(!text.includes(SECRET), text.slice(0, 300));
    await server.close();
  });

  test('a run whose credential is missing fails in validating, naming it, before any step', async () => {
    await app.credentials.delete(org, 'openai').catch(() => undefined);
    const { run_id } = await app.requests.request({ orgSlug: org, route: 'test/creds/use', body: {}, trigger: 'api', createdBy: 'test' });
    const run = await waitForRunEnd(app, org, run_id);
    assert.equal(run.status, 'failed');
    assert.equal(run.error_message, 'validating: no openai credential "default" for cred_org; add one with: pipeline credential set cred_org openai');
    assert.deepEqual(await app.runs.steps(org, run_id), []);
  });

  test('admin API: set, list (metadata only), delete; the secret never comes back', async () => {
    const server = await buildServer(app);
    const headers = { 'x-ca-root-key': ROOT_KEY };
    const put = await server.inject({ method: 'PUT', url: `/api/v1/admin/orgs/${org}/credentials/deepseek`, headers, payload: { secret: SECRET, metadata: { base_url: 'http://127.0.0.1:9' } } });
    assert.equal(put.statusCode, 200);
    assert.ok(!put.payload.includes(SECRET));
    const list = await server.inject({ url: `/api/v1/admin/orgs/${org}/credentials`, headers });
    assert.ok((list.json() as { credentials: { provider: string }[] }).credentials.some((c) => c.provider === 'deepseek'));
    assert.equal((await server.inject({ method: 'PUT', url: `/api/v1/admin/orgs/${org}/credentials/deepseek`, headers, payload: { secret: '' } })).statusCode, 400);
    assert.equal((await server.inject({ method: 'PUT', url: `/api/v1/admin/orgs/${org}/credentials/deepseek`, headers: { 'x-api-key': 'nope' }, payload: { secret: 'x' } })).statusCode, 401);
    assert.equal((await server.inject({ method: 'PUT', url: `/api/v1/admin/orgs/no_such_org/credentials/deepseek`, headers, payload: { secret: 'x' } })).statusCode, 404);
    assert.equal((await server.inject({ method: 'DELETE', url: `/api/v1/admin/orgs/${org}/credentials/deepseek`, headers })).statusCode, 204);
    assert.equal((await server.inject({ method: 'DELETE', url: `/api/v1/admin/orgs/${org}/credentials/deepseek`, headers })).statusCode, 404);
    await server.close();
  });
});

test('CLI: the secret comes from stdin or a named variable, never argv, and is never printed', async () => {
  const env = { ...process.env, PIPELINE_DATA_DIR: await seededDataDir('cred-cli-'), PIPELINE_CONFIGS_DIR: CONFIGS, DATABASE_URL: '', OPENAI_ADMIN_KEY: SECRET };
  const cli = (args: string[], stdin = '') =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [join(REPO, 'bin', 'pipeline.ts'), ...args], { env });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      child.stderr.on('data', (chunk) => (out += chunk));
      child.on('close', (code) => resolve({ code, out }));
      child.stdin.end(stdin);
    });
  assert.equal((await cli(['org', 'create', 'acme'])).code, 0);
  const fromEnv = await cli(['credential', 'set', 'acme', 'openai', '--secret-env', 'OPENAI_ADMIN_KEY']);
  assert.equal(fromEnv.code, 0, fromEnv.out);
  const rotated = await cli(['credential', 'rotate', 'acme', 'openai'], 'sk-from-stdin\n');
  assert.match(rotated.out, /Rotated openai credential "default" for acme \(version 2\)/);
  assert.equal((await cli(['credential', 'rotate', 'acme', 'anthropic'], 'x')).code, 1, 'nothing to rotate');
  const list = await cli(['credential', 'list', 'acme', '--json']);
  assert.equal(JSON.parse(list.out)[0].version, 2);
  for (const output of [fromEnv.out, rotated.out, list.out]) assert.ok(!output.includes(SECRET) && !output.includes('sk-from-stdin'));
  assert.equal(statSync(join(env.PIPELINE_DATA_DIR, 'master.key')).mode & 0o777, 0o600);
  assert.equal((await cli(['credential', 'delete', 'acme', 'openai'])).code, 0);
});
