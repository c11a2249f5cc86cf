/**
 * npm run bench:engine (also `npm run bench`): what the engine costs per run, side by side with
 * graphile-worker on the same PostgreSQL (TEST_DATABASE_URL / BENCH_DATABASE_URL, or
 * 127.0.0.1:5432/test), in a database of its own that is dropped after. Interleaved, 3 rounds (BENCH_ROUNDS):
 *  - drain: 2,000 queued no-op runs (one no-op step) / jobs, one worker at concurrency 4;
 *  - latency: 100 runs / jobs sent one at a time to an idle worker in another process,
 *    enqueue -> start and enqueue -> complete, p50 / p99;
 *  - statements and transactions per run: statements on the wire (every pg client query of the
 *    drain), transactions from pg_stat_database (xact_commit over the drain, read-only ones and
 *    the benchmark's own progress polls included).
 * Both drains start on analyzed tables, as autovacuum leaves them within a minute of a burst: on
 * tables never analyzed, the planner takes each for a few pages, and the plans a connection makes
 * then stay cached (a foreign-key check of a run would walk the org's history index, a dequeue
 * the org's whole queue), so a first minute measures the planner's guess, not the queue.
 * Then the paired ratios against the goals, POST /run accepted per second over 16 connections,
 * and the embedded (PGlite) drain and latency.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Logger, makeWorkerUtils, run as runGraphile } from 'graphile-worker';
import { buildServer } from '../src/api/server.ts';
import type { App } from '../src/main/app.ts';
import { admitRun } from '../src/store/admission.ts';
import { postgresDb } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import type { ControlPlane } from '../src/store/open-control-plane.ts';
import { openPglite } from '../test/support/control-planes.ts';
import { testApp } from '../test/support/test-app.ts';
import { testProcessors } from '../test/support/test-processors.ts';

const DRAIN = Number(process.env.BENCH_RUNS ?? 2000);
const LATENCY = 100;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 4;
const LIMITS = { plan: 'BENCH', status: 'ACTIVE' as const, daily_limit: 100_000_000, monthly_limit: 100_000_000, concurrent_limit: 100_000_000 };
const SELF = fileURLToPath(import.meta.url);

// Every statement any pg client of this process sends: the project's pool and graphile-worker's alike.
let wireStatements = 0;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  wireStatements++;
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

async function configs(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-configs-'));
  await mkdir(join(dir, 'bench', 'noop'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { BENCH: LIMITS } }));
  await writeFile(join(dir, 'bench', 'noop', 'one_step.yml'), 'pipeline_id: bench_noop\nname: No-op\ndescription: one step doing nothing\nprovider: bench\ndomain: noop\nversion: "1"\nsteps:\n  - { step_id: a, ps_type: test.work, config: { ms: 0 } }\n');
  return dir;
}

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
};
const median = (values: number[]) => pct(values, 50);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A throwaway database: its pg_stat_database row counts this benchmark's transactions only. */
async function freshDatabase(base: string): Promise<{ url: string; drop(): Promise<void>; commits(): Promise<number> }> {
  const name = `bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async commits() {
      await sleep(1200); // backends flush their statistics at most once a second
      await admin.query('SELECT pg_stat_force_next_flush()');
      return Number((await admin.query('SELECT xact_commit FROM pg_stat_database WHERE datname = $1', [name])).rows[0]?.xact_commit);
    },
    async drop() {
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

interface Drain {
  jobsPerSecond: number;
  statements: number;
  transactions: number;
}

async function projectApp(controlPlane: ControlPlane, configsDir: string, workers = CONCURRENCY): Promise<App> {
  return testApp(controlPlane, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: String(workers) } });
}

async function admitMany(controlPlane: ControlPlane, org: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, () =>
      admitRun(controlPlane.db, { org_slug: org, run_id: randomUUID(), pipeline_id: 'bench_noop', provider: 'bench', domain: 'noop', pipeline: 'one_step', parameters: { start_date: '2026-01-01', end_date: '2026-01-01', credential_id: 'default' }, trigger: 'api', created_by: 'bench', created_at: new Date() })));
  }
}

/**
 * Until the org's queue is empty: a run leaves it in the statement that ends it. One probe of the
 * primary key, not a count over the org's runs, so the poll adds next to nothing to the drain it
 * measures (graphile-worker's is counted from its events, with no poll at all).
 */
async function untilDrained(db: { query<T>(sql: string, params?: unknown[]): Promise<T[]> }, org: string): Promise<void> {
  for (;;) {
    const [row] = await db.query<{ queued: boolean }>('SELECT EXISTS (SELECT 1 FROM run_queue WHERE org_slug = $1) AS queued', [org]);
    if (row?.queued === false) return;
    await sleep(20);
  }
}

/** The project: 2,000 runs admitted first, then one worker drains them; statements counted on the drain alone. */
async function projectDrain(url: string | undefined, configsDir: string, commits?: () => Promise<number>): Promise<Drain> {
  const db = url ? postgresDb({ connectionString: url }) : undefined;
  const controlPlane: ControlPlane = db ? { db, mode: 'postgres', close: () => db.close() } : await openPglite();
  await migrate(controlPlane.db);
  const app = await projectApp(controlPlane, configsDir);
  const org = `drain_${randomBytes(3).toString('hex')}`;
  await app.orgs.create(org, org, LIMITS);
  await admitMany(controlPlane, org, DRAIN);
  await controlPlane.db.query('ANALYZE');
  const watcher = url ? new pg.Client({ connectionString: url }) : undefined;
  await watcher?.connect();
  const reader = watcher ? { query: async <T>(sql: string, params?: unknown[]) => (await watcher.query(sql, params)).rows as T[] } : controlPlane.db;
  const c0 = await commits?.();
  const before = wireStatements;
  const started = performance.now();
  app.worker?.start();
  await untilDrained(reader, org);
  const seconds = (performance.now() - started) / 1000;
  const statements = (wireStatements - before) / DRAIN;
  await app.close();
  await watcher?.end();
  await controlPlane.close();
  const c1 = await commits?.();
  return { jobsPerSecond: DRAIN / seconds, statements, transactions: c0 === undefined || c1 === undefined ? NaN : (c1 - c0) / DRAIN };
}

async function graphileDrain(url: string, commits: () => Promise<number>): Promise<Drain> {
  const schema = `gw_${randomBytes(3).toString('hex')}`;
  const utils = await makeWorkerUtils({ connectionString: url, schema });
  await utils.migrate();
  const jobs = Array.from({ length: DRAIN }, (_, i) => ({ identifier: 'noop', payload: { i } }));
  for (let i = 0; i < jobs.length; i += 500) await utils.addJobs(jobs.slice(i, i + 500));
  await utils.withPgClient((client) => client.query('ANALYZE'));
  let done = 0;
  const c0 = await commits();
  const before = wireStatements;
  const started = performance.now();
  const runner = await runGraphile({ connectionString: url, schema, concurrency: CONCURRENCY, noHandleSignals: true, pollInterval: 1000, logger: quietGraphileLogger(), taskList: { noop: async () => undefined } });
  runner.events.on('job:success', () => void done++);
  while (done < DRAIN) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  const statements = (wireStatements - before) / DRAIN;
  await runner.stop();
  await utils.release();
  return { jobsPerSecond: DRAIN / seconds, statements, transactions: ((await commits()) - c0) / DRAIN };
}

/** graphile-worker's own logging, silenced: the benchmark prints its figures only. */
const quietGraphileLogger = () => new Logger(() => () => undefined);

/** Latency: a worker in another process, idle; runs sent one at a time. */
async function projectLatency(url: string, configsDir: string): Promise<{ start: number[]; complete: number[] }> {
  const child = fork(SELF, ['--child', 'project', url, configsDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(child, 'ready');
  const db = postgresDb({ connectionString: url });
  const org = 'latency';
  const start: number[] = [];
  const complete: number[] = [];
  for (let i = 0; i < LATENCY; i++) {
    const runId = randomUUID();
    const at = new Date();
    await admitRun(db, { org_slug: org, run_id: runId, pipeline_id: 'bench_noop', provider: 'bench', domain: 'noop', pipeline: 'one_step', parameters: { start_date: '2026-01-01', end_date: '2026-01-01', credential_id: 'default' }, trigger: 'api', created_by: 'bench', created_at: at });
    for (;;) {
      const [row] = await db.query<{ started_at: Date | null; ended_at: Date | null; status: string }>('SELECT started_at, ended_at, status FROM pipeline_runs WHERE org_slug = $1 AND run_id = $2', [org, runId]);
      if (row?.status === 'completed') {
        start.push((row.started_at as Date).getTime() - at.getTime());
        complete.push((row.ended_at as Date).getTime() - at.getTime());
        break;
      }
      await sleep(2);
    }
  }
  child.send('stop');
  await once(child, 'exit');
  await db.close();
  return { start, complete };
}

async function graphileLatency(url: string): Promise<{ start: number[]; complete: number[] }> {
  const schema = `gwl_${randomBytes(3).toString('hex')}`;
  const utils = await makeWorkerUtils({ connectionString: url, schema });
  await utils.migrate();
  const child = fork(SELF, ['--child', 'graphile', url, schema], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(child, 'ready');
  const start: number[] = [];
  const complete: number[] = [];
  for (let i = 0; i < LATENCY; i++) {
    const at = Date.now();
    const ended = new Promise<{ started: number; completed: number }>((resolve) => child.once('message', (m) => resolve(m as { started: number; completed: number })));
    await utils.addJob('noop', { i });
    const { started, completed } = await ended;
    start.push(started - at);
    complete.push(completed - at);
  }
  child.send('stop');
  await once(child, 'exit');
  await utils.release();
  return { start, complete };
}

function once(child: ChildProcess, event: 'ready' | 'exit'): Promise<void> {
  return new Promise((resolve) => {
    if (event === 'exit') child.once('exit', () => resolve());
    else child.once('message', () => resolve());
  });
}

/** The worker processes of the latency phase. */
async function childMain(kind: string, url: string, extra: string): Promise<void> {
  if (kind === 'project') {
    const db = postgresDb({ connectionString: url });
    const app = await projectApp({ db, mode: 'postgres', close: () => db.close() }, extra);
    if (!(await app.orgs.get('latency'))) await app.orgs.create('latency', 'latency', LIMITS);
    app.worker?.start();
    process.send?.('ready');
    process.once('message', async () => {
      await app.close();
      await db.close();
      process.exit(0);
    });
    return;
  }
  const started = new Map<string, number>();
  const runner = await runGraphile({
    connectionString: url, schema: extra, concurrency: CONCURRENCY, noHandleSignals: true, pollInterval: 1000, logger: quietGraphileLogger(),
    taskList: { noop: async (_payload, helpers) => void started.set(helpers.job.id, Date.now()) },
  });
  runner.events.on('job:success', ({ job }) => process.send?.({ started: started.get(job.id), completed: Date.now() }));
  process.send?.('ready');
  process.once('message', async () => {
    await runner.stop();
    process.exit(0);
  });
}

/** POST /run accepted per second over 16 connections, on a real socket. */
async function acceptedPerSecond(url: string, configsDir: string): Promise<number> {
  const db = postgresDb({ connectionString: url });
  const app = await testApp({ db, mode: 'postgres', close: () => db.close() }, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: '0' }, execute: false });
  const org = `http_${randomBytes(3).toString('hex')}`;
  await app.orgs.create(org, org, LIMITS);
  const key = (await app.orgs.createKey(org)).api_key;
  const server = await buildServer(app);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.server.address() as AddressInfo;
  let accepted = 0;
  const until = performance.now() + 5000;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (performance.now() < until) {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/pipelines/run/${org}/bench/noop/one_step`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: '{}' });
      await response.arrayBuffer();
      if (response.status === 202) accepted++;
    }
  }));
  await server.close();
  await app.close();
  await db.close();
  return accepted / 5;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return childMain(process.argv[3] as string, process.argv[4] as string, process.argv[5] as string);
  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const configsDir = await configs();
  const database = await freshDatabase(base);
  try {
    const bootstrap = postgresDb({ connectionString: database.url });
    await migrate(bootstrap);
    await bootstrap.close();
    const rounds: { project: Drain; graphile: Drain; projectLatency: { start: number[]; complete: number[] }; graphileLatency: { start: number[]; complete: number[] } }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const project = await projectDrain(database.url, configsDir, database.commits);
      const graphile = await graphileDrain(database.url, database.commits);
      const gl = await graphileLatency(database.url);
      const pl = await projectLatency(database.url, configsDir);
      rounds.push({ project, graphile, projectLatency: pl, graphileLatency: gl });
      console.log(
        `round ${round}: drain project ${project.jobsPerSecond.toFixed(0)} runs/s (${project.statements.toFixed(1)} statements, ${project.transactions.toFixed(1)} transactions per run), ` +
          `graphile-worker ${graphile.jobsPerSecond.toFixed(0)} jobs/s (${graphile.statements.toFixed(1)} statements, ${graphile.transactions.toFixed(1)} transactions per job); ` +
          `enqueue->complete p50 project ${median(pl.complete)} ms, graphile-worker ${median(gl.complete)} ms`,
      );
    }
    const drainRatio = median(rounds.map((r) => r.project.jobsPerSecond / r.graphile.jobsPerSecond));
    const latencyRatio = median(rounds.map((r) => median(r.projectLatency.complete) / Math.max(1, median(r.graphileLatency.complete))));
    const all = (pick: (r: (typeof rounds)[number]) => number[]) => rounds.flatMap(pick);
    const statements = median(rounds.map((r) => r.project.statements));
    console.log('');
    console.log(`PostgreSQL, ${ROUNDS} rounds interleaved (medians; ratios paired within each round):`);
    console.log(`  drain of ${DRAIN} no-op runs, 1 worker x ${CONCURRENCY}: project ${median(rounds.map((r) => r.project.jobsPerSecond)).toFixed(0)} runs/s, graphile-worker ${median(rounds.map((r) => r.graphile.jobsPerSecond)).toFixed(0)} jobs/s; ratio ${drainRatio.toFixed(2)}x (goal >= 0.5x)`);
    console.log(`  enqueue -> start p50 / p99: project ${median(all((r) => r.projectLatency.start))} / ${pct(all((r) => r.projectLatency.start), 99)} ms, graphile-worker ${median(all((r) => r.graphileLatency.start))} / ${pct(all((r) => r.graphileLatency.start), 99)} ms`);
    console.log(`  enqueue -> complete p50 / p99: project ${median(all((r) => r.projectLatency.complete))} / ${pct(all((r) => r.projectLatency.complete), 99)} ms, graphile-worker ${median(all((r) => r.graphileLatency.complete))} / ${pct(all((r) => r.graphileLatency.complete), 99)} ms; p50 ratio ${latencyRatio.toFixed(2)}x (goal <= 2x)`);
    console.log(`  per run on the drain: project ${statements.toFixed(1)} statements (goal <= 6), ${median(rounds.map((r) => r.project.transactions)).toFixed(1)} transactions; graphile-worker ${median(rounds.map((r) => r.graphile.statements)).toFixed(1)} statements, ${median(rounds.map((r) => r.graphile.transactions)).toFixed(1)} transactions`);
    console.log(`  POST /run accepted: ${(await acceptedPerSecond(database.url, configsDir)).toFixed(0)}/s over 16 connections for 5 s`);
  } finally {
    await database.drop();
  }
  const embedded = await projectDrain(undefined, configsDir);
  console.log(`PGlite (embedded): drain of ${DRAIN} no-op runs ${embedded.jobsPerSecond.toFixed(0)} runs/s`);
}

await main();
