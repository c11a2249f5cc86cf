/**
 * npm run bench:scheduler: the scheduler's fan-out and the drain of scheduled runs (issue 12).
 *  - 10,000 orgs x 3 schedules, all due in the same minute: the time from the tick to every run
 *    enqueued, the tick-to-enqueue p99 (each tick counted at the commit of the batch that
 *    admitted it), and duplicates (must be 0); on PGlite, on PostgreSQL with 1 scheduler
 *    process, and with 4 scheduler processes at once;
 *  - 1,000 scheduled no-op runs drained by 2 worker processes on PostgreSQL: runs/s, and the
 *    claim latency (enqueued -> started) p50 / p99.
 * PostgreSQL from BENCH_DATABASE_URL / TEST_DATABASE_URL or 127.0.0.1:5432/test, in a database
 * of its own, dropped after. BENCH_ORGS overrides the 10,000.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { App } from '../src/main/app.ts';
import { postgresDb, type Db } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import type { ControlPlane } from '../src/store/open-control-plane.ts';
import { openPglite } from '../test/support/control-planes.ts';
import { testApp } from '../test/support/test-app.ts';
import { testProcessors } from '../test/support/test-processors.ts';

const ORGS = Number(process.env.BENCH_ORGS ?? 10_000);
const DRAIN = 1000;
const SELF = fileURLToPath(import.meta.url);
const LIMITS = { plan: 'BENCH', status: 'ACTIVE' as const, daily_limit: 1_000_000, monthly_limit: 10_000_000, concurrent_limit: 1_000_000 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))] as number;

async function configs(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-sched-'));
  await mkdir(join(dir, 'bench', 'noop'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { BENCH: LIMITS } }));
  for (const name of ['a', 'b', 'c']) {
    await writeFile(join(dir, 'bench', 'noop', `${name}.yml`), `pipeline_id: bench_${name}\nname: ${name}\ndescription: no-op\nprovider: bench\ndomain: noop\nversion: "1"\nschedule: { cron: "* * * * *", parameters: { start_date: "{{ today - 3 days }}", end_date: "{{ yesterday }}" } }\nsteps:\n  - { step_id: a, ps_type: test.work, config: { ms: 0 } }\n`);
  }
  return dir;
}

/** ORGS orgs with their 3 schedules, all due at `due`: set up in SQL (not measured). */
async function seed(db: Db, configsDir: string, due: Date): Promise<void> {
  const cp: ControlPlane = { db, mode: 'postgres', close: async () => undefined };
  const app = await testApp(cp, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: '0' }, execute: false });
  await db.query(`INSERT INTO organizations (org_slug, name) SELECT 'org_' || i, 'org ' || i FROM generate_series(1, $1) i`, [ORGS]);
  await db.query(`INSERT INTO subscriptions (org_slug, plan, status, daily_limit, monthly_limit, concurrent_limit) SELECT org_slug, 'BENCH', 'ACTIVE', $1, $2, $3 FROM organizations`, [LIMITS.daily_limit, LIMITS.monthly_limit, LIMITS.concurrent_limit]);
  await app.scheduler.sync();
  await db.query('UPDATE schedules SET next_run_at = $1', [due]);
  await app.close();
}

/** Reports when each admitting statement (a tick batch, or stored ticks) committed, and how many runs it enqueued. */
function recordBatches(app: App, report: (batch: { at: number; enqueued: number }) => void): void {
  const { tickDue, admitDueTicks } = app.schedules;
  app.schedules.tickDue = async (...args) => {
    const batch = await tickDue(...args);
    report({ at: Date.now(), enqueued: batch.enqueued });
    return batch;
  };
  app.schedules.admitDueTicks = async (...args) => {
    const batch = await admitDueTicks(...args);
    report({ at: Date.now(), enqueued: batch.enqueued });
    return batch;
  };
}

interface FanOut { seconds: number; p99: number; enqueued: number; duplicates: number }

/**
 * Passes by `processes` scheduler processes (0: in this process, on `db`), started and ready
 * before the due time, from then until every tick is enqueued.
 */
async function fanOut(db: Db, url: string | undefined, configsDir: string, processes: number): Promise<FanOut> {
  await seed(db, configsDir, new Date('2100-01-01T00:00:00Z'));
  const expected = ORGS * 3;
  const batches: { at: number; enqueued: number }[] = [];
  let due: Date;
  if (processes === 0) {
    const cp: ControlPlane = { db, mode: 'postgres', close: async () => undefined };
    const app = await testApp(cp, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: '0' }, execute: false });
    recordBatches(app, (batch) => batches.push(batch));
    due = new Date(Date.now() + 1000);
    await db.query('UPDATE schedules SET next_run_at = $1', [due]);
    await sleep(due.getTime() - Date.now());
    await app.scheduler.pass(new Date());
    await app.close();
  } else {
    const children = Array.from({ length: processes }, () => fork(SELF, ['--child', url as string, configsDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const done = children.map((child) => new Promise<void>((resolve) => child.on('message', (message: { at: number; enqueued: number } | 'done' | 'ready') => (message === 'done' ? resolve() : message !== 'ready' && batches.push(message)))));
    await Promise.all(children.map((child) => new Promise<void>((resolve) => child.once('message', () => resolve()))));
    due = new Date(Date.now() + 1000);
    await db.query('UPDATE schedules SET next_run_at = $1', [due]);
    for (const child of children) child.send(due.getTime());
    await Promise.all(done);
  }
  const [row] = await db.query<{ runs: number; distinct_ticks: number }>("SELECT count(*)::int AS runs, count(DISTINCT (r.org_slug, t.schedule_id, t.scheduled_for))::int AS distinct_ticks FROM pipeline_runs r JOIN schedule_ticks t ON t.org_slug = r.org_slug AND t.run_id = r.run_id WHERE r.trigger = 'schedule'");
  const times = batches.flatMap((batch) => Array.from({ length: batch.enqueued }, () => batch.at - due.getTime()));
  await db.exec('TRUNCATE organizations CASCADE; TRUNCATE pipeline_runs CASCADE; TRUNCATE queue_lanes');
  return { seconds: Math.max(...times) / 1000, p99: pct(times, 99) / 1000, enqueued: row?.runs ?? 0, duplicates: (row?.runs ?? 0) - (row?.distinct_ticks ?? 0) + Math.max(0, (row?.runs ?? 0) - expected) };
}

/** A scheduler process: ready, then at the due time (sent by the parent) passes, reporting each admission batch. */
async function schedulerChild(url: string, configsDir: string): Promise<void> {
  const db = postgresDb({ connectionString: url });
  const app = await testApp({ db, mode: 'postgres', close: () => db.close() }, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: '0' }, execute: false });
  recordBatches(app, (batch) => process.send?.(batch));
  await db.query('SELECT 1');
  process.send?.('ready');
  const due = await new Promise<number>((resolve) => process.once('message', (at) => resolve(at as number)));
  await sleep(due - Date.now());
  await app.scheduler.pass(new Date());
  await app.close();
  await db.close();
  process.send?.('done');
  process.disconnect();
}

/** A worker process for the drain. */
async function workerChild(url: string, configsDir: string): Promise<void> {
  const db = postgresDb({ connectionString: url });
  const app = await testApp({ db, mode: 'postgres', close: () => db.close() }, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: '4', SCHEDULER_INTERVAL_SECONDS: '0' } });
  app.worker?.start();
  process.send?.('ready');
  process.once('message', async () => {
    await app.close();
    await db.close();
    process.exit(0);
  });
}

/** 1,000 orgs' scheduled runs (one each) drained by 2 worker processes. */
async function drain(db: Db, url: string, configsDir: string): Promise<{ perSecond: number; p50: number; p99: number }> {
  await db.query(`INSERT INTO organizations (org_slug, name) SELECT 'drain_' || i, 'drain ' || i FROM generate_series(1, $1) i`, [DRAIN]);
  await db.query(`INSERT INTO subscriptions (org_slug, plan, status, daily_limit, monthly_limit, concurrent_limit) SELECT org_slug, 'BENCH', 'ACTIVE', $1, $2, $3 FROM organizations`, [LIMITS.daily_limit, LIMITS.monthly_limit, LIMITS.concurrent_limit]);
  const cp: ControlPlane = { db, mode: 'postgres', close: async () => undefined };
  const app = await testApp(cp, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: '0' }, execute: false });
  await app.scheduler.sync();
  await db.query("UPDATE schedules SET is_enabled = false WHERE pipeline <> 'a'");
  const children = Array.from({ length: 2 }, () => fork(SELF, ['--worker', url, configsDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  await Promise.all(children.map((child) => new Promise<void>((resolve) => child.once('message', () => resolve()))));
  await db.query("UPDATE schedules SET next_run_at = $1 WHERE pipeline = 'a'", [new Date()]);
  const started = performance.now();
  await app.scheduler.pass(new Date());
  await app.close();
  for (;;) {
    const [row] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pipeline_runs WHERE trigger = 'schedule' AND status NOT IN ('completed', 'failed', 'cancelled')");
    if (row?.n === 0) break;
    await sleep(20);
  }
  const seconds = (performance.now() - started) / 1000;
  for (const child of children) child.send('stop');
  await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  const latencies = (await db.query<{ ms: number }>("SELECT extract(epoch FROM (started_at - created_at)) * 1000 AS ms FROM pipeline_runs WHERE trigger = 'schedule'")).map((r) => Number(r.ms));
  return { perSecond: DRAIN / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return schedulerChild(process.argv[3] as string, process.argv[4] as string);
  if (process.argv[2] === '--worker') return workerChild(process.argv[3] as string, process.argv[4] as string);
  const configsDir = await configs();
  const show = (name: string, r: FanOut) =>
    console.log(`${name}: ${ORGS} orgs x 3 schedules due in one minute: every run enqueued ${r.seconds.toFixed(2)} s after the tick (goal < 5 s), tick-to-enqueue p99 ${r.p99.toFixed(2)} s; ${r.enqueued} runs, ${r.duplicates} duplicates`);

  const embedded = await openPglite();
  show('PGlite (embedded), 1 scheduler', await fanOut(embedded.db, undefined, configsDir, 0));
  await embedded.close();

  const base = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const name = `bench_sched_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = postgresDb({ connectionString: url.toString() });
  try {
    await migrate(db);
    show('PostgreSQL, 1 scheduler process', await fanOut(db, undefined, configsDir, 0));
    show('PostgreSQL, 4 scheduler processes', await fanOut(db, url.toString(), configsDir, 4));
    const drained = await drain(db, url.toString(), configsDir);
    console.log(`PostgreSQL: ${DRAIN} scheduled no-op runs drained by 2 worker processes (4 slots each): ${drained.perSecond.toFixed(0)} runs/s; claim latency (enqueued -> started) p50 ${drained.p50.toFixed(0)} ms, p99 ${drained.p99.toFixed(0)} ms`);
  } finally {
    await db.close();
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();
