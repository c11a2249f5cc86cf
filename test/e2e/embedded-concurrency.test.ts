import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { ROOT_KEY } from '../support/test-app.ts';
import { cli, startServer, type ServerProcess } from '../support/server-process.ts';

const REQUESTS = 500;
const PARALLEL = 8;
const CLI_CALLS = 6;

interface Answer {
  status: number;
  /** The answer's shape: its top-level keys, and the error code when it is one. */
  shape: string;
}

/**
 * A fixed sequence of mixed requests, sent `PARALLEL` at a time while runs execute: admissions,
 * reads of a run's status, steps, transitions and logs, lists, admin reads, health, an unknown
 * run. Each request's answer is its status and shape; bodies of 5xx are kept for the message.
 */
async function drive(server: ServerProcess): Promise<{ answers: Answer[]; runIds: string[]; cliCodes: number[]; failures: string[] }> {
  const key = { 'x-api-key': server.demoKey };
  const root = { 'x-ca-root-key': ROOT_KEY };
  const json = { 'content-type': 'application/json' };
  // No limit may refuse the admissions: the sequence must answer the same whatever the timing.
  const patched = await fetch(`${server.base}/api/v1/admin/orgs/demo/subscription`, { method: 'PATCH', headers: { ...root, ...json }, body: JSON.stringify({ daily_limit: 10_000, monthly_limit: 100_000, concurrent_limit: 1000 }) });
  assert.equal(patched.status, 200, await patched.text());
  const first = await fetch(`${server.base}/api/v1/pipelines/run/demo/demo/usage/daily_cost`, { method: 'POST', headers: { ...key, ...json }, body: JSON.stringify({ date: '2026-01-01' }) });
  const known = ((await first.json()) as { run_id: string }).run_id;

  const request = (i: number): [string, RequestInit] => {
    switch (i % 10) {
      case 0:
        return [`/api/v1/pipelines/run/demo/demo/usage/daily_cost`, { method: 'POST', headers: { ...key, ...json }, body: JSON.stringify({ date: `2026-02-${String(1 + ((i / 10) % 28)).padStart(2, '0')}` }) }];
      case 1:
        return [`/api/v1/pipelines/status/demo/${known}`, { headers: key }];
      case 2:
        return ['/api/v1/pipelines/runs?limit=5', { headers: key }];
      case 3:
        return [`/api/v1/pipelines/logs/demo/${known}`, { headers: key }];
      case 4:
        return [`/api/v1/pipelines/logs/demo/${known}/steps`, { headers: key }];
      case 5:
        return [`/api/v1/pipelines/logs/demo/${known}/transitions`, { headers: key }];
      case 6:
        return ['/api/v1/admin/orgs', { headers: root }];
      case 7:
        return ['/health', {}];
      case 8:
        return [`/api/v1/pipelines/status/demo/${randomUUID()}`, { headers: key }];
      default:
        return ['/api/v1/pipelines/history/demo?limit=3', { headers: key }];
    }
  };

  const answers: Answer[] = new Array(REQUESTS);
  const runIds: string[] = [known];
  const failures: string[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < REQUESTS; i = next++) {
      const [path, init] = request(i);
      const response = await fetch(`${server.base}${path}`, init);
      const body = (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string }; run_id?: string };
      answers[i] = { status: response.status, shape: body.error ? `error:${body.error.code}` : Object.keys(body).sort().join(',') };
      if (response.status >= 500 || (body.error && response.status !== 404)) failures.push(`${i} ${path}: ${response.status} ${JSON.stringify(body.error)}`);
      if (i % 10 === 0 && body.run_id) runIds.push(body.run_id);
    }
  };
  // CLI calls from other processes at the same time, through the server's control plane.
  const cliCalls = Array.from({ length: CLI_CALLS }, (_, i) => cli([['status', 'demo', known], ['runs', 'demo'], ['logs', 'demo', known]][i % 3] as string[], server.env));
  const [cliResults] = await Promise.all([Promise.all(cliCalls), Promise.all(Array.from({ length: PARALLEL }, lane))]);
  for (const result of cliResults) if (result.code !== 0) failures.push(`cli: ${result.code} ${result.stderr.slice(0, 300)}`);
  return { answers, runIds, cliCodes: cliResults.map((r) => r.code ?? -1), failures };
}

async function waitAllEnded(server: ServerProcess, runIds: string[]): Promise<string[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const statuses = await Promise.all(runIds.map(async (id) => ((await (await fetch(`${server.base}/api/v1/pipelines/status/demo/${id}`, { headers: { 'x-api-key': server.demoKey } })).json()) as { status: string }).status));
    if (statuses.every((s) => ['completed', 'failed', 'cancelled'].includes(s)) || Date.now() > deadline) return statuses;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('the embedded control plane under concurrency (npm start)', () => {
  const servers: ServerProcess[] = [];
  const schemas: string[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    const url = process.env.TEST_DATABASE_URL;
    if (url && schemas.length > 0) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      for (const schema of schemas) await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    }
  });

  let embedded: Answer[] | undefined;

  test(`${REQUESTS} mixed requests, ${PARALLEL} at a time, and CLI calls from other processes while runs execute: 0 errors`, async () => {
    const server = await startServer({ WORKER_CONCURRENCY: '2' });
    servers.push(server);
    const { answers, runIds, failures } = await drive(server);
    assert.deepEqual(failures, []);
    assert.equal(answers.filter((a) => a.status >= 500).length, 0);
    assert.equal(answers.filter((a) => a.status === 404).length, REQUESTS / 10, 'only the unknown run is not found');
    const statuses = await waitAllEnded(server, runIds);
    assert.deepEqual([...new Set(statuses)], ['completed'], 'every admitted run completed, none left pending');
    embedded = answers;
  });

  test('the same sequence on PostgreSQL gives the same answers', { skip: process.env.TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, async () => {
    assert.ok(embedded, 'the embedded run ran first');
    const schema = `e2e_${randomBytes(6).toString('hex')}`;
    const url = process.env.TEST_DATABASE_URL as string;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    schemas.push(schema);
    const databaseUrl = `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const server = await startServer({ WORKER_CONCURRENCY: '2', DATABASE_URL: databaseUrl });
    servers.push(server);
    const { answers, runIds, failures } = await drive(server);
    assert.deepEqual(failures, []);
    assert.deepEqual(answers, embedded);
    const statuses = await waitAllEnded(server, runIds);
    assert.deepEqual([...new Set(statuses)], ['completed']);
  });
});
