import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createScheduler } from '../../src/scheduler/scheduler.ts';
import type { Clock } from '../../src/shared/clock.ts';
import { postgresDb } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import { occurrences } from '../../src/scheduler/cron-ticks.ts';
import { scheduleStore } from '../../src/store/schedules.ts';
import { testApp } from '../support/test-app.ts';
import { testProcessors } from '../support/test-processors.ts';

/**
 * A PostgreSQL server of this test's own (restarting the shared one would break the tests
 * running beside it), from the machine's PostgreSQL binaries, run as the postgres user.
 */
const BIN = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`).find((dir) => existsSync(`${dir}/initdb`)) : undefined;
const skip = !process.env.TEST_DATABASE_URL
  ? 'TEST_DATABASE_URL is not set: the PostgreSQL tests are off'
  : !BIN
    ? 'no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql'
    : process.getuid?.() !== 0
      ? 'needs root to run a private PostgreSQL server as the postgres user'
      : false;

function pgCtl(dataDir: string, ...args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', `${BIN}/pg_ctl`, '-D', dataDir, ...args], { stdio: 'pipe' });
}

test('a simulated week of ticks by 4 schedulers, PostgreSQL restarted in the middle: no tick lost or doubled', { skip, timeout: 240_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'pg-restart-'));
  chownSync(root, 101, 104);
  const dataDir = join(root, 'data');
  execFileSync('runuser', ['-u', 'postgres', '--', `${BIN}/initdb`, '-D', dataDir, '-A', 'trust', '-U', 'postgres'], { stdio: 'pipe' });
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const start = ['-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', join(root, 'log'), '-w'];
  pgCtl(dataDir, 'start', ...start);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const pools = Array.from({ length: 5 }, () => postgresDb({ connectionString: url, max: 3 }));
  const configs = mkdtempSync(join(tmpdir(), 'restart-configs-'));
  try {
    await mkdir(join(configs, 'sched', 'p'), { recursive: true });
    await mkdir(join(configs, 'system'), { recursive: true });
    await writeFile(join(configs, 'system', 'plans.json'), JSON.stringify({ plans: { TEST: { status: 'ACTIVE', daily_limit: 100_000, monthly_limit: 1_000_000, concurrent_limit: 100_000 } } }));
    for (const [name, cron] of [['quarter', '*/15 * * * *'], ['hourly', '0 * * * *'], ['daily', '30 6 * * *']]) {
      await writeFile(join(configs, 'sched', 'p', `${name}.yml`), `pipeline_id: sched_${name}\nname: ${name}\ndescription: no-op\nprovider: sched\ndomain: p\nversion: "1"\nschedule: "${cron}"\nsteps:\n  - { step_id: a, ps_type: test.work, config: { ms: 0 } }\n`);
    }
    const [main, ...others] = pools as [ReturnType<typeof postgresDb>, ...ReturnType<typeof postgresDb>[]];
    await migrate(main);
    let now = new Date('2026-03-02T00:00:00Z');
    const clock: Clock = { now: () => new Date(now), sleep: async () => undefined };
    const app = await testApp({ db: main, mode: 'postgres', close: async () => undefined }, { processors: testProcessors(), clock, execute: false, settings: { PIPELINE_CONFIGS_DIR: configs, WORKER_CONCURRENCY: '0' } });
    for (const org of ['acme', 'globex', 'initech']) {
      await app.orgs.create(org, org, { plan: 'TEST', status: 'ACTIVE', daily_limit: 100_000, monthly_limit: 1_000_000, concurrent_limit: 100_000 });
      await app.scheduler.sync(org);
    }
    const schedulers = others.map((db) => createScheduler({ schedules: scheduleStore(db), pipelines: app.pipelines, processors: app.processors, clock, logger: app.logger, settings: app.settings }));
    const begin = new Date(now);
    let failedPasses = 0;
    let restarted = false;
    // Each process retries its pass until the server answers again, as the loop does every interval.
    const passUntilDone = async (scheduler: (typeof schedulers)[number]) => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await scheduler.pass();
        } catch (error) {
          failedPasses++;
          if (attempt > 300) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    };
    const STEPS = 7 * 24 * 4;
    for (let step = 1; step <= STEPS; step++) {
      now = new Date(begin.getTime() + step * 15 * 60_000);
      const passes = schedulers.map(passUntilDone);
      if (step === STEPS / 2) {
        pgCtl(dataDir, 'restart', '-m', 'fast', ...start);
        restarted = true;
      }
      await Promise.all(passes);
    }
    assert.ok(restarted);
    assert.ok(failedPasses > 0, 'the restart was seen by the schedulers (their passes failed, then went on)');
    const rows = await main.query<{ org_slug: string; pipeline: string; scheduled_for: Date; status: string; runs: number }>(
      `SELECT t.org_slug, s.pipeline, t.scheduled_for, t.status, (SELECT count(*)::int FROM pipeline_runs r WHERE r.org_slug = t.org_slug AND r.run_id = t.run_id) AS runs
         FROM schedule_ticks t JOIN schedules s USING (org_slug, schedule_id)`,
    );
    for (const [pipeline, cron] of [['quarter', '*/15 * * * *'], ['hourly', '0 * * * *'], ['daily', '30 6 * * *']] as const) {
      const expected = occurrences(cron, 'UTC', begin, now, 10_000).ticks.map((d) => d.getTime());
      for (const org of ['acme', 'globex', 'initech']) {
        const got = rows.filter((r) => r.org_slug === org && r.pipeline === pipeline);
        assert.deepEqual(got.map((r) => r.scheduled_for.getTime()).sort((a, b) => a - b), expected, `${org} ${pipeline}: every tick, once`);
        assert.ok(got.every((r) => r.status === 'enqueued' && r.runs === 1), `${org} ${pipeline}: each tick has exactly one run`);
      }
    }
    const [runs] = await main.query<{ n: number }>("SELECT count(*)::int AS n FROM pipeline_runs WHERE trigger = 'schedule'");
    assert.equal(runs?.n, rows.length);
    await app.close();
  } finally {
    await Promise.all(pools.map((db) => db.close().catch(() => undefined)));
    try {
      pgCtl(dataDir, 'stop', '-m', 'immediate');
    } catch {
      // already stopped
    }
  }
});
