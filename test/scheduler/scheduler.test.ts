import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/main/app.ts';
import { createScheduler } from '../../src/scheduler/scheduler.ts';
import type { Clock } from '../../src/shared/clock.ts';
import { scheduleStore, type ScheduleView } from '../../src/store/schedules.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';
import { testProcessors } from '../support/test-processors.ts';

const BIG = { plan: 'TEST', status: 'ACTIVE' as const, daily_limit: 100_000, monthly_limit: 1_000_000, concurrent_limit: 100_000 };

/** A configs folder of no-op pipelines `sched/p/<name>` with the given YAML schedules. */
async function scheduledConfigs(schedules: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sched-configs-'));
  await mkdir(join(dir, 'sched', 'p'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { TEST: BIG } }));
  for (const [name, schedule] of Object.entries(schedules)) {
    await writeFile(
      join(dir, 'sched', 'p', `${name}.yml`),
      `pipeline_id: sched_${name}\nname: ${name}\ndescription: scheduled no-op\nprovider: sched\ndomain: p\nversion: "1"\nschedule: ${schedule}\nsteps:\n  - { step_id: a, ps_type: test.work, config: { ms: 0 } }\n`,
    );
  }
  return dir;
}

/** A clock the test moves; sleeping moves nothing. */
function testClock(start: string): Clock & { set(at: string | Date): void; advance(ms: number): void } {
  let now = new Date(start);
  return { now: () => new Date(now), sleep: async () => undefined, set: (at) => void (now = new Date(at)), advance: (ms) => void (now = new Date(now.getTime() + ms)) };
}

const MINUTE = 60_000;

for (const factory of controlPlaneFactories()) {
  describe(`scheduler on ${factory.name}`, () => {
    let cp: ControlPlane;
    let configs: string;
    const clock = testClock('2026-06-01T00:00:00Z');
    let app: App;
    let n = 0;

    before(async () => {
      cp = await factory.open();
      configs = await scheduledConfigs({ five: '"*/5 * * * *"', hourly: '"0 * * * *"', daily: '{ cron: "30 2 * * *", timezone: Europe/Berlin }' });
      app = await testApp(cp, { processors: testProcessors(), clock, settings: { PIPELINE_CONFIGS_DIR: configs, WORKER_CONCURRENCY: '0' } });
    });
    after(async () => {
      await app.close();
      await cp.close();
    });

    /** A new org with the YAML schedules, `now` set first so that their next ticks count from it. */
    const newOrg = async (limits: Partial<typeof BIG> = {}) => {
      const slug = `sched_${factory.name}_${++n}`;
      await app.orgs.create(slug, slug, { ...BIG, ...limits });
      await app.scheduler.sync(slug);
      const schedules = await app.schedules.list({ orgSlug: slug });
      const byName = (name: string) => schedules.find((s) => s.pipeline === name) as ScheduleView;
      return { slug, byName };
    };
    /** Only these orgs' schedules tick and only their runs are claimable: the tests share one control plane. */
    const isolate = async (...orgs: string[]) => {
      await cp.db.query('UPDATE schedules SET is_enabled = false WHERE NOT (org_slug = ANY($1::text[]))', [orgs]);
      await cp.db.query("UPDATE run_queue SET worker_id = 'parked', lease_expires_at = now() + interval '1 hour' WHERE NOT (org_slug = ANY($1::text[]))", [orgs]);
    };
    const runsOf = (org: string) => cp.db.query<{ run_id: string; parameters: Record<string, string> }>("SELECT run_id::text AS run_id, parameters FROM pipeline_runs WHERE org_slug = $1 AND trigger = 'schedule' ORDER BY created_at", [org]);
    const ticksOf = (org: string, scheduleId: string) =>
      cp.db.query<{ scheduled_for: Date; status: string; reason: string | null; attempts: number }>('SELECT scheduled_for, status, reason, attempts FROM schedule_ticks WHERE org_slug = $1 AND schedule_id = $2::uuid ORDER BY scheduled_for', [org, scheduleId]);

    test('the YAML schedules exist for the org, with their next tick in their own timezone', async () => {
      clock.set('2026-06-01T00:00:00Z');
      const org = await newOrg();
      assert.equal(org.byName('five').next_run_at?.toISOString(), '2026-06-01T00:05:00.000Z');
      assert.equal(org.byName('hourly').next_run_at?.toISOString(), '2026-06-01T01:00:00.000Z');
      // 02:30 in Berlin in summer is 00:30 UTC.
      assert.equal(org.byName('daily').next_run_at?.toISOString(), '2026-06-01T00:30:00.000Z');
      assert.equal(await app.scheduler.sync(org.slug), 0, 'a second sync creates nothing');
    });

    test('a simulated day of five-minute passes by 4 schedulers at once: every tick once, none missing', async () => {
      clock.set('2026-06-02T00:00:00Z');
      const org = await newOrg();
      const schedulers = Array.from({ length: 4 }, () => createScheduler({ schedules: scheduleStore(cp.db), pipelines: app.pipelines, processors: app.processors, clock, logger: app.logger, settings: app.settings }));
      for (let step = 0; step < 24 * 12; step++) {
        clock.advance(5 * MINUTE);
        await Promise.all(schedulers.map((scheduler) => scheduler.pass()));
      }
      const five = await ticksOf(org.slug, org.byName('five').schedule_id);
      assert.equal(five.length, 24 * 12);
      assert.ok(five.every((t) => t.status === 'enqueued'));
      assert.equal(new Set(five.map((t) => t.scheduled_for.getTime())).size, five.length);
      assert.equal((await ticksOf(org.slug, org.byName('hourly').schedule_id)).length, 24);
      assert.equal((await ticksOf(org.slug, org.byName('daily').schedule_id)).length, 1);
      const runs = await runsOf(org.slug);
      assert.equal(runs.length, 24 * 12 + 24 + 1, 'one run per tick');
      assert.equal(new Set(runs.map((r) => r.run_id)).size, runs.length);
    });

    for (const [policy, expected] of [
      ['skip', { runs: 1, skipped: 5, reason: /policy skip runs only the latest/ }],
      ['once', { runs: 1, skipped: 5, reason: /covered by the one catch-up run/ }],
      ['all', { runs: 3, skipped: 3, reason: /capped: 6 ticks missed, policy all runs the latest 3/ }],
    ] as const) {
      test(`after a downtime of 6 hourly ticks, policy ${policy}`, async () => {
        clock.set('2026-06-10T00:00:00Z');
        const org = await newOrg();
        const hourly = org.byName('hourly');
        await app.scheduler.update(hourly.schedule_id, org.slug, { missed_policy: policy, max_catchup: 3 }, 'org');
        clock.set('2026-06-10T06:10:00Z');
        await app.scheduler.pass();
        const ticks = await ticksOf(org.slug, hourly.schedule_id);
        assert.equal(ticks.length, 6, 'every missed tick is recorded');
        assert.equal(ticks.filter((t) => t.status === 'enqueued').length, expected.runs);
        const skipped = ticks.filter((t) => t.status === 'skipped');
        assert.equal(skipped.length, expected.skipped);
        assert.ok(skipped.every((t) => expected.reason.test(t.reason ?? '')), skipped[0]?.reason ?? 'no reason');
        assert.equal(ticks.at(-1)?.status, 'enqueued', 'the latest tick runs');
        const runs = await runsOf(org.slug);
        if (policy === 'once') {
          // The catch-up run's window reaches back to the first missed tick's (yesterday of each: both 06-09).
          assert.equal(runs[0]?.parameters.start_date, '2026-06-09');
        }
        const [next] = await app.schedules.list({ orgSlug: org.slug }).then((all) => all.filter((s) => s.schedule_id === hourly.schedule_id));
        assert.equal(next?.next_run_at?.toISOString(), '2026-06-10T07:00:00.000Z');
      });
    }

    test('an edit or a re-enable never ticks from before it', async () => {
      clock.set('2026-06-20T00:00:00Z');
      const org = await newOrg();
      const hourly = org.byName('hourly');
      clock.set('2026-06-20T00:40:00Z');
      const edited = await app.scheduler.update(hourly.schedule_id, org.slug, { cron_expression: '*/30 * * * *' }, 'org');
      assert.equal(edited.next_run_at?.toISOString(), '2026-06-20T01:00:00.000Z');
      assert.equal(edited.source, 'org');
      await app.scheduler.update(hourly.schedule_id, org.slug, { is_enabled: false }, 'org');
      clock.set('2026-06-21T05:10:00Z');
      await app.scheduler.pass();
      assert.equal((await ticksOf(org.slug, hourly.schedule_id)).length, 0, 'nothing ticks while disabled');
      const enabled = await app.scheduler.update(hourly.schedule_id, org.slug, { is_enabled: true }, 'org');
      assert.equal(enabled.next_run_at?.toISOString(), '2026-06-21T05:30:00.000Z', 'no surprise catch-up of the disabled day');
      await app.scheduler.pass();
      assert.equal((await ticksOf(org.slug, hourly.schedule_id)).length, 0);
      clock.set('2026-06-21T05:30:00Z');
      await app.scheduler.pass();
      assert.deepEqual((await ticksOf(org.slug, hourly.schedule_id)).map((t) => t.status), ['enqueued']);
      // The YAML no longer applies to a schedule the org changed.
      await app.scheduler.sync(org.slug);
      const [after] = (await app.schedules.list({ orgSlug: org.slug })).filter((s) => s.schedule_id === hourly.schedule_id);
      assert.equal(after?.cron_expression, '*/30 * * * *');
    });

    test('a tick refused for quota is deferred with its reason and admitted once a slot frees', async () => {
      clock.set('2026-06-25T00:00:00Z');
      const org = await newOrg({ concurrent_limit: 1 });
      await isolate(org.slug);
      clock.set('2026-06-25T01:00:00Z'); // due: daily (00:30), hourly, and five (00:05 .. 01:00 missed; skip runs the latest)
      const first = await app.scheduler.pass();
      assert.equal(first.enqueued, 1);
      assert.equal(first.deferred, 2);
      const deferredTick = (await cp.db.query<{ schedule_id: string; reason: string; next_attempt_at: Date }>(
        "SELECT schedule_id::text AS schedule_id, reason, next_attempt_at FROM schedule_ticks WHERE org_slug = $1 AND status = 'deferred' ORDER BY schedule_id", [org.slug]))[0];
      assert.match(deferredTick?.reason ?? '', /concurrent pipeline limit reached \(1 running or queued\)/);
      assert.equal(deferredTick?.next_attempt_at.toISOString(), '2026-06-25T01:00:30.000Z');
      clock.set('2026-06-25T01:00:31Z');
      assert.equal((await app.scheduler.pass()).deferred, 2, 'still refused while the first run holds the slot; retried later, never dropped');
      // The first run ends: its slot frees.
      const [claim] = await app.executions.claim('w', 60_000, { at: clock.now() });
      assert.ok(claim);
      await app.executions.finish(claim, { from: 'running', status: 'completed', at: clock.now(), reason: 'test', records: 0 });
      clock.set('2026-06-25T01:05:00Z');
      const third = await app.scheduler.pass();
      assert.equal(third.enqueued, 1, 'the deferred tick runs (the new five-minute tick waits its turn)');
      const [admitted] = await cp.db.query<{ attempts: number; scheduled_for: Date }>("SELECT attempts, scheduled_for FROM schedule_ticks WHERE org_slug = $1 AND status = 'enqueued' ORDER BY updated_at DESC, attempts DESC LIMIT 1", [org.slug]);
      assert.equal(admitted?.attempts, 3, 'a deferred tick admitted at its third attempt');
      assert.equal(admitted?.scheduled_for.toISOString(), '2026-06-25T01:00:00.000Z');
    });

    test("a scheduler that dies mid-batch loses nothing: the schedules it held are ticked by the next pass", async () => {
      clock.set('2026-06-28T00:00:00Z');
      const org = await newOrg();
      await isolate(org.slug);
      clock.set('2026-06-28T01:00:00Z');
      await assert.rejects(app.schedules.tickDue(clock.now(), 1000, async () => { throw new Error('killed between the lock and the write'); }), /killed/);
      const after = await app.scheduler.pass();
      assert.equal(after.enqueued, 3, 'five, hourly and daily each ticked once');
      assert.equal((await runsOf(org.slug)).length, 3);
    });

    test("an org's scheduled burst does not hold back its own ad-hoc run", async () => {
      clock.set('2026-06-29T00:00:00Z');
      const org = await newOrg();
      await isolate(org.slug);
      const five = org.byName('five');
      await app.schedules.insertTicks(Array.from({ length: 100 }, (_, i) => ({ org_slug: org.slug, schedule_id: five.schedule_id, scheduled_for: new Date(Date.parse('2026-06-28T00:00:00Z') + i * MINUTE), status: 'due' as const, run_id: crypto.randomUUID(), pipeline_id: 'sched_five', parameters: { start_date: '2026-06-27', end_date: '2026-06-27', credential_id: 'default' }, credential_providers: [] })));
      await app.scheduler.pass();
      clock.advance(2000);
      const { run_id: adhoc } = await app.requests.request({ orgSlug: org.slug, route: 'sched/p/five', body: {}, trigger: 'api', createdBy: 'test' });
      // Queued 2 s after the burst, it is claimed as if the burst had queued 2 s worth before it (one run a second), not 100.
      const first = (await app.executions.claim('fair', 60_000, { limit: 4, at: clock.now() })).map((c) => c.run_id);
      assert.ok(first.includes(adhoc), 'the ad-hoc run is among the first 4 claimed of 101');
    });

    test('claim order is fair: one org with 500 due runs beside 10 orgs with one each', async () => {
      clock.set('2026-07-01T00:00:00Z');
      const big = await newOrg();
      const small = await Promise.all(Array.from({ length: 10 }, () => newOrg()));
      await isolate(big.slug, ...small.map((org) => org.slug));
      for (const org of [big, ...small]) await app.schedules.update(org.byName('five').schedule_id, org.slug, { is_enabled: false }, 'operator', () => clock.now());
      const bigSchedule = big.byName('five');
      const at = (i: number) => new Date(Date.parse('2026-06-30T00:00:00Z') + i * MINUTE);
      await app.schedules.update(bigSchedule.schedule_id, big.slug, { is_enabled: true }, 'operator', () => new Date('2027-01-01T00:00:00Z'));
      await app.schedules.insertTicks(Array.from({ length: 500 }, (_, i) => ({ org_slug: big.slug, schedule_id: bigSchedule.schedule_id, scheduled_for: at(i), status: 'due' as const, run_id: crypto.randomUUID(), pipeline_id: 'sched_five', parameters: { start_date: '2026-06-29', end_date: '2026-06-29', credential_id: 'default' }, credential_providers: [] })));
      await app.scheduler.pass();
      for (const org of small) {
        await app.schedules.update(org.byName('five').schedule_id, org.slug, { is_enabled: true }, 'operator', () => new Date('2027-01-01T00:00:00Z'));
        await app.schedules.insertTicks([{ org_slug: org.slug, schedule_id: org.byName('five').schedule_id, scheduled_for: at(600), status: 'due', run_id: crypto.randomUUID(), pipeline_id: 'sched_five', parameters: { start_date: '2026-06-29', end_date: '2026-06-29', credential_id: 'default' }, credential_providers: [] }]);
      }
      clock.advance(1000);
      await app.scheduler.pass();
      const order: string[] = [];
      for (let i = 0; i < 15; i++) order.push(...(await app.executions.claim('fair', 60_000)).map((c) => c.org_slug));
      const smallFirst = order.slice(0, 13).filter((org) => org !== big.slug);
      assert.equal(smallFirst.length, 10, `the 10 small orgs are among the first 13 claims: ${order.join(', ')}`);
    });
  });
}
