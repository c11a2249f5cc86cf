import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { REPO } from '../support/test-app.ts';
import { cli, startServer, type ServerProcess } from '../support/server-process.ts';
import { seededDataDir } from '../support/pglite-template.ts';

async function rowCount(dataDir: string, table: string): Promise<{ n: number; columns: string[] }> {
  const instance = await DuckDBInstance.create(join(dataDir, 'warehouse.duckdb'));
  const connection = await instance.connect();
  const n = Number((await connection.runAndReadAll(`SELECT count(*) FROM demo_dev.${table}`)).getRows()[0]?.[0]);
  const columns = (await connection.runAndReadAll(`SELECT * FROM demo_dev.${table} LIMIT 0`)).columnNames();
  connection.closeSync();
  instance.closeSync();
  return { n, columns };
}

describe('the CLI', () => {
  const servers: ServerProcess[] = [];
  after(() => servers.forEach((server) => server.child.kill('SIGKILL')));

  test('alone, it owns the data folder and runs the demo pipeline itself; a re-run keeps the row count', async () => {
    const env = { PIPELINE_DATA_DIR: await mkdtemp(join(tmpdir(), 'cli-alone-')) };
    const created = await cli(['org', 'create', 'demo', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(JSON.parse(created.stdout).api_key, /^pk_demo_/);
    const first = await cli(['run', 'demo/demo/usage/daily_cost', '--date', '2026-01-15'], env);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /step generate_usage \[generic.procedure_executor\] completed 9 rows/);
    assert.match(first.stdout, /completed \(15 rows/);
    const before = await rowCount(env.PIPELINE_DATA_DIR, 'demo_cost_daily_by_team');
    assert.equal(before.n, 3);
    assert.deepEqual(before.columns.slice(-7), ['x_org_slug', 'x_pipeline_id', 'x_credential_id', 'x_pipeline_run_date', 'x_run_id', 'x_ingested_at', 'x_ingestion_date']);
    assert.equal((await cli(['run', 'demo/demo/usage/daily_cost', '--date', '2026-01-15', '--json'], env)).code, 0);
    assert.equal((await rowCount(env.PIPELINE_DATA_DIR, 'demo_cost_daily_by_team')).n, 3);
    const failed = await cli(['run', 'demo/demo/usage/daily_cost', '--date', '2026-02-30'], env);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /date 2026-02-30 does not exist: there is no such day in the calendar/);
  });

  test('next to a running server, it shares the server’s control plane and the server executes', async () => {
    const server = await startServer();
    servers.push(server);
    const { env, demoKey: apiKey } = server;
    const port = env.PORT;

    const viaCli = await cli(['run', 'demo/demo/usage/daily_cost', '--date', '2026-01-20'], env);
    assert.equal(viaCli.code, 0, viaCli.stdout + viaCli.stderr);
    assert.match(viaCli.stdout, /completed/);

    const response = await fetch(`http://127.0.0.1:${port}/api/v1/pipelines/run/demo/demo/usage/daily_cost`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: JSON.stringify({ date: '2026-01-21' }) });
    assert.equal(response.status, 202);
    const { run_id } = (await response.json()) as { run_id: string };
    let status = '';
    for (let i = 0; i < 100 && status !== 'completed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = ((await (await fetch(`http://127.0.0.1:${port}/api/v1/pipelines/status/demo/${run_id}`, { headers: { 'x-api-key': apiKey } })).json()) as { status: string }).status;
    }
    assert.equal(status, 'completed');
    const runs = await cli(['runs', 'demo', '--json'], env);
    assert.equal(JSON.parse(runs.stdout).length, 2);

    assert.equal(await server.stop(), 0, 'graceful shutdown');
  });

  test('validate lists every config problem and exits non-zero', async () => {
    const ok = await cli(['validate'], {});
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /pipelines valid/);
    const dir = await mkdtemp(join(tmpdir(), 'cli-configs-'));
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
    await writeFile(join(dir, 'a', 'b', 'one.yml'), 'pipeline_id: one\nsteps: []\n');
    await writeFile(join(dir, 'a', 'b', 'two.yml'), 'pipeline_id: [\n');
    const bad = await cli(['validate'], { PIPELINE_CONFIGS_DIR: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /a\/b\/one.yml name: missing required field/);
    assert.match(bad.stdout, /a\/b\/two.yml/, 'both files reported at once');
  });

  test('the README walk-through of SaaS costs: import plans, run, look at quality, export FOCUS CSV', async () => {
    const env = { PIPELINE_DATA_DIR: await seededDataDir('cli-saas-') };
    assert.equal((await cli(['org', 'create', 'acme'], env)).code, 0);
    const imported = await cli(['plans', 'import', 'acme', join(REPO, 'examples', 'saas_subscription_plans.csv')], env);
    assert.match(imported.stdout, /^Imported \d+ plan rows for acme/);
    const run = await cli(['run', 'acme/subscription/costs/subscription_cost', '--start-date', '2026-01-01', '--end-date', '2026-01-31', '--json'], env);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const runId = JSON.parse(run.stdout).run_id as string;
    const quality = await cli(['quality', 'acme', runId], env);
    assert.match(quality.stdout, /0 fail/);
    assert.match(quality.stdout, /pass\s+convert_to_focus RECONCILE-BilledCost/);
    const out = join(env.PIPELINE_DATA_DIR, 'focus.csv');
    const exported = await cli(['export', 'acme', '--from', '2026-01-01', '--to', '2026-01-31', '--format', 'csv', '--out', out], env);
    assert.match(exported.stdout, /^\d+ rows written/);
    const csv = await readFile(out, 'utf8');
    assert.match(csv.split('\n')[1] ?? '', /2026-01-\d\dT00:00:00Z/);
    const bad = await cli(['plans', 'import', 'acme', join(REPO, 'package.json')], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /nothing was imported/);
  });

  const SAMPLES = join(REPO, '..', 'shared', 'focus', 'samples');
  test('validate-focus passes the synthetic 1.3 sample and fails the 1.0 one', { skip: existsSync(SAMPLES) ? false : '../shared/focus/samples is absent (a clone without the shared data)' }, async () => {
    const good = await cli(['validate-focus', join(SAMPLES, 'synthetic_focus-1.3_costandusage_aws_100rows.csv'), '--provider', 'aws', '--json'], {});
    assert.equal(good.code, 0, good.stderr);
    assert.equal(JSON.parse(good.stdout).conformant, true);
    const old = await cli(['validate-focus', join(SAMPLES, 'official_focus-1.0_focus_sample_1000rows.csv')], {});
    assert.equal(old.code, 1);
    assert.match(old.stdout, /not conformant|failed/i);
  });
});
