/**
 * Reliability under worker death: `kill -9` of the worker executing a run, mid-run, N times, on
 * PostgreSQL with two worker processes (each with its own DuckDB warehouse file) and an API
 * process that executes nothing.
 *
 * Run: npm run test:chaos [-- --kills 20 --rows 300000 --lease 4]
 *      (PostgreSQL from TEST_DATABASE_URL, or 127.0.0.1:5432/test; a schema of its own, dropped after)
 *
 * Each round requests the AWS billing pipeline (a synthetic CUR 2.0 export of `rows` rows),
 * waits until a worker is converting it, kills that worker, starts a replacement, and waits for
 * the run to end. It checks and prints: every run completed; the time from the kill to the end
 * against one lease plus a clean run's duration; no concurrency slot, queue row or partition
 * lock left; and every run's FOCUS rows byte-identical to a clean run's (lineage aside).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import pg from 'pg';
import { curSql } from './bench-cloud.ts';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const BIN = join(ROOT, 'bin', 'pipeline.ts');
const ROOT_KEY = `chaos-root-key-${randomBytes(16).toString('hex')}`;

const arg = (flag: string, fallback: number) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const KILLS = arg('--kills', 20);
const ROWS = arg('--rows', 300_000);
const LEASE_SECONDS = arg('--lease', 4);
const DATABASE = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MONTH = { start_date: '2026-05-01', end_date: '2026-05-31' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
  const schema = `chaos_${randomBytes(5).toString('hex')}`;
  const db = new pg.Client({ connectionString: DATABASE });
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(`SET search_path = ${schema}`);
  const env = {
    DATABASE_URL: `${DATABASE}${DATABASE.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    PIPELINE_SOURCE_ROOT: join(dir, 'sources'),
    RUN_LEASE_SECONDS: String(LEASE_SECONDS),
    CA_ROOT_API_KEY: ROOT_KEY,
    LOG_LEVEL: 'error',
    WAREHOUSE_MEMORY_LIMIT: '2GB',
  };
  const processes = new Set<ChildProcess>();
  const start = (command: string, name: string, extra: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [BIN, command], { cwd: ROOT, env: { ...process.env, ...env, PIPELINE_DATA_DIR: join(dir, name), ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
    processes.add(child);
    child.on('exit', () => processes.delete(child));
    return child;
  };
  try {
    await writeExport(join(dir, 'sources', 'demo'));
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const api = start('serve', 'api', { PORT: port, HOST: '127.0.0.1', WORKER_CONCURRENCY: '0' });
    const apiKey = await printedKey(api);
    const base = `http://127.0.0.1:${port}`;
    await fetch(`${base}/api/v1/admin/orgs/demo/subscription`, { method: 'PATCH', headers: { 'x-ca-root-key': ROOT_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ daily_limit: 10_000, monthly_limit: 100_000, concurrent_limit: 100 }) });
    const workers = new Map<string, ChildProcess>([['w1', start('worker', 'w1', { WORKER_CONCURRENCY: '1' })], ['w2', start('worker', 'w2', { WORKER_CONCURRENCY: '1' })]]);

    const request = async (credentialId: string) => {
      const response = await fetch(`${base}/api/v1/pipelines/run/demo/aws/cost/billing`, {
        method: 'POST',
        headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
        body: JSON.stringify({ ...MONTH, credential_id: credentialId, source_uri: 'cur2.parquet' }),
      });
      if (response.status !== 202) throw new Error(`admission answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { run_id: string }).run_id;
    };
    const status = async (runId: string) => (await db.query<{ status: string; error_message: string | null }>('SELECT status, error_message FROM pipeline_runs WHERE run_id = $1', [runId])).rows[0];
    const untilEnded = async (runId: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run = await status(runId);
        if (run && ['completed', 'failed', 'cancelled'].includes(run.status)) return run;
        if (Date.now() > deadline) throw new Error(`run ${runId} did not end within ${timeoutMs} ms (status ${run?.status})`);
        await sleep(100);
      }
    };

    // A clean run first: its duration bounds the recovery, its rows are the reference.
    let t = performance.now();
    const reference = await request('clean');
    const clean = await untilEnded(reference, 300_000);
    const cleanSeconds = (performance.now() - t) / 1000;
    if (clean.status !== 'completed') throw new Error(`the clean run ${clean.status}: ${clean.error_message}`);
    console.log(`clean run of ${ROWS.toLocaleString('en')} CUR rows: ${cleanSeconds.toFixed(1)} s; lease ${LEASE_SECONDS} s`);

    const recoveries: number[] = [];
    const runs: string[] = [reference];
    for (let round = 1; round <= KILLS; round++) {
      const runId = await request(`chaos_${round}`);
      runs.push(runId);
      // Wait until a worker holds the run and is inside a step, then a random moment more.
      let holder: string | undefined;
      for (let i = 0; i < 600 && !holder; i++) {
        const row = (await db.query<{ worker_id: string | null; running: boolean }>(
          `SELECT q.worker_id, EXISTS (SELECT 1 FROM step_runs s WHERE s.run_id = q.run_id AND s.status = 'running') AS running FROM run_queue q WHERE q.run_id = $1`,
          [runId],
        )).rows[0];
        if (row?.worker_id && row.running) holder = row.worker_id;
        else await sleep(50);
      }
      if (!holder) throw new Error(`round ${round}: no worker started run ${runId}`);
      await sleep(Math.floor(Math.random() * 1000));
      const pid = Number(holder.split(':')[1]);
      const name = [...workers].find(([, child]) => child.pid === pid)?.[0];
      if (!name) throw new Error(`round ${round}: worker ${holder} is not one of ours`);
      workers.get(name)?.kill('SIGKILL');
      const killedAt = performance.now();
      await new Promise((resolve) => (workers.get(name)?.exitCode !== null ? resolve(undefined) : workers.get(name)?.once('exit', resolve)));
      workers.set(name, start('worker', name, { WORKER_CONCURRENCY: '1' }));
      const ended = await untilEnded(runId, (LEASE_SECONDS + cleanSeconds) * 1000 * 4);
      const seconds = (performance.now() - killedAt) / 1000;
      recoveries.push(seconds);
      console.log(`round ${String(round).padStart(2)}: killed ${name} (pid ${pid}) mid-run; run ${ended.status} ${seconds.toFixed(1)} s after the kill${ended.error_message ? ` (${ended.error_message})` : ''}`);
      if (ended.status !== 'completed') throw new Error(`round ${round}: run ${runId} ${ended.status}`);
    }

    const left = (await db.query<{ slots: number; queued: number; locks: number; holding: number }>(
      `SELECT (SELECT running_count FROM subscriptions WHERE org_slug = 'demo') AS slots, (SELECT count(*)::int FROM run_queue) AS queued,
              (SELECT count(*)::int FROM partition_locks) AS locks, (SELECT count(*)::int FROM pipeline_runs WHERE holds_slot) AS holding`,
    )).rows[0];
    for (const child of workers.values()) child.kill('SIGTERM');
    api.kill('SIGTERM');
    await Promise.all([...processes].map((child) => new Promise((resolve) => child.once('exit', resolve))));

    const hashes = { ...(await focusHashes(join(dir, 'w1', 'warehouse.duckdb'))), ...(await focusHashes(join(dir, 'w2', 'warehouse.duckdb'))) };
    const expected = hashes[reference];
    const identical = runs.filter((id) => hashes[id] === expected).length;
    const sorted = [...recoveries].sort((a, b) => a - b);
    const bound = LEASE_SECONDS + cleanSeconds + 2;
    console.log('');
    console.log(`kills: ${KILLS}; every run completed: yes`);
    console.log(`kill -> run ended: p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} s, max ${sorted.at(-1)?.toFixed(1)} s (bound: lease ${LEASE_SECONDS} s + clean run ${cleanSeconds.toFixed(1)} s + 2 s margin = ${bound.toFixed(1)} s): ${sorted.every((s) => s <= bound) ? 'within' : 'EXCEEDED'}`);
    console.log(`left behind: slots counted ${left?.slots}, runs holding a slot ${left?.holding}, queue rows ${left?.queued}, partition locks ${left?.locks}`);
    console.log(`FOCUS rows byte-identical to the clean run (lineage aside): ${identical}/${runs.length} runs`);
    const ok = sorted.every((s) => s <= bound) && left?.slots === 0 && left.holding === 0 && left.queued === 0 && left.locks === 0 && identical === runs.length && expected !== undefined;
    process.exitCode = ok ? 0 : 1;
  } finally {
    for (const child of processes) child.kill('SIGKILL');
    await db.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
    await db.end();
  }
}

/** The synthetic CUR 2.0 export in the demo org's source folder. */
async function writeExport(orgFolder: string): Promise<void> {
  mkdirSync(orgFolder, { recursive: true });
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  await connection.run(curSql(ROWS, join(orgFolder, 'cur2.parquet')));
  connection.closeSync();
  instance.closeSync();
}

async function printedKey(child: ChildProcess): Promise<string> {
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  for (let i = 0; i < 600; i++) {
    const key = /export API_KEY=(\S+)/.exec(output)?.[1];
    if (key) return key;
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`the API did not start: ${output}`);
}

/** Per run, a hash of its FOCUS rows in one warehouse file, every column but the run's lineage. */
async function focusHashes(file: string): Promise<Record<string, string>> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll(
    `SELECT x_run_id, md5(string_agg(line, chr(10) ORDER BY line)) AS hash
       FROM (SELECT x_run_id, CAST(row(*COLUMNS(* EXCLUDE (x_credential_id, x_run_id, x_ingested_at, x_ingestion_date))) AS VARCHAR) AS line FROM demo_dev.cost_data_standard_1_3)
      GROUP BY x_run_id`,
  ).catch(() => undefined);
  const hashes = Object.fromEntries((reader?.getRows() ?? []).map(([run, hash]) => [String(run), String(hash)]));
  connection.closeSync();
  instance.closeSync();
  return hashes;
}

await main();
