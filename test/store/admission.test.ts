import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { NotAllowedError, QuotaExceededError } from '../../src/shared/errors.ts';
import { admitRun } from '../../src/store/admission.ts';
import { executionStore } from '../../src/store/executions.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { orgStore, type PlanLimits } from '../../src/store/orgs.ts';
import type { NewRun } from '../../src/store/runs.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';

const LIMITS: PlanLimits = { plan: 'TEST', status: 'ACTIVE', daily_limit: 1000, monthly_limit: 10_000, concurrent_limit: 5 };

function newRun(orgSlug: string, at = new Date('2026-03-10T12:00:00Z')): NewRun {
  return { org_slug: orgSlug, run_id: randomUUID(), pipeline_id: 'p', provider: 'demo', domain: 'usage', pipeline: 'daily_cost', parameters: {}, trigger: 'api', created_by: 'test', created_at: at };
}

/** Claims until it holds `runId`: the database is shared with the other tests' queued runs. */
async function claimRun(executions: ReturnType<typeof executionStore>, runId: string) {
  for (let i = 0; i < 200; i++) {
    const claim = (await executions.claim(`worker-${i}`, 600_000))[0];
    assert.ok(claim, `run ${runId} was never claimable`);
    if (claim.run_id === runId) return claim;
  }
  throw new Error('unreachable');
}

for (const factory of controlPlaneFactories()) {
  describe(`admission on ${factory.name}`, () => {
    let cp: ControlPlane;
    let n = 0;
    const newOrg = async (limits: Partial<PlanLimits> = {}) => {
      const slug = `org_${factory.name}_${++n}`;
      await orgStore(cp.db).create(slug, slug, { ...LIMITS, ...limits });
      return slug;
    };
    before(async () => {
      cp = await factory.open();
    });
    after(() => cp.close());

    test('100 simultaneous requests against a concurrent limit of 5 admit exactly 5', async () => {
      const org = await newOrg({ concurrent_limit: 5 });
      const results = await Promise.allSettled(Array.from({ length: 100 }, () => admitRun(cp.db, newRun(org))));
      const admitted = results.filter((r) => r.status === 'fulfilled').length;
      const refused = results.filter((r) => r.status === 'rejected');
      assert.equal(admitted, 5);
      assert.equal(refused.length, 95);
      for (const r of refused) assert.ok((r as PromiseRejectedResult).reason instanceof QuotaExceededError, String((r as PromiseRejectedResult).reason));
      const sub = await orgStore(cp.db).subscription(org, new Date('2026-03-10T12:00:00Z'));
      assert.equal(sub.running_count, 5);
      assert.equal(sub.runs_today, 5, 'refused requests reserve nothing');
      const [queued] = await cp.db.query<{ n: number }>('SELECT count(*)::int AS n FROM run_queue WHERE org_slug = $1', [org]);
      assert.equal(queued?.n, 5);
    });

    for (const status of ['PAST_DUE', 'SUSPENDED', 'CANCELLED'] as const) {
      test(`a ${status} subscription is refused with 403 and nothing reserved`, async () => {
        const org = await newOrg({ status });
        await assert.rejects(admitRun(cp.db, newRun(org)), (error: unknown) => error instanceof NotAllowedError && error.message === `Organization subscription is ${status}`);
        const sub = await orgStore(cp.db).subscription(org, new Date('2026-03-10T12:00:00Z'));
        assert.equal(sub.runs_today, 0);
        assert.equal(sub.running_count, 0);
      });
    }

    test('TRIAL and ACTIVE subscriptions run', async () => {
      for (const status of ['TRIAL', 'ACTIVE'] as const) await admitRun(cp.db, newRun(await newOrg({ status })));
    });

    test('the daily limit resets on the next UTC day; Retry-After points at midnight', async () => {
      const org = await newOrg({ daily_limit: 2, concurrent_limit: 100 });
      const day = new Date('2026-03-10T23:00:00Z');
      await admitRun(cp.db, newRun(org, day));
      await admitRun(cp.db, newRun(org, day));
      await assert.rejects(admitRun(cp.db, newRun(org, day)), (error: unknown) => error instanceof QuotaExceededError && error.limit === 'daily' && error.retryAfterSeconds === 3600);
      await admitRun(cp.db, newRun(org, new Date('2026-03-11T00:00:01Z')));
      const sub = await orgStore(cp.db).subscription(org, new Date('2026-03-11T01:00:00Z'));
      assert.equal(sub.runs_today, 1);
      assert.equal(sub.runs_this_month, 3);
    });

    test('the monthly limit is enforced across days and resets with the month', async () => {
      const org = await newOrg({ monthly_limit: 2, concurrent_limit: 100 });
      await admitRun(cp.db, newRun(org, new Date('2026-03-01T10:00:00Z')));
      await admitRun(cp.db, newRun(org, new Date('2026-03-15T10:00:00Z')));
      await assert.rejects(admitRun(cp.db, newRun(org, new Date('2026-03-31T10:00:00Z'))), (error: unknown) => error instanceof QuotaExceededError && error.limit === 'monthly');
      await admitRun(cp.db, newRun(org, new Date('2026-04-01T00:00:00Z')));
    });

    test('ending a run releases its slot whatever the ending, exactly once', async () => {
      const org = await newOrg({ concurrent_limit: 1 });
      const executions = executionStore(cp.db);
      for (const status of ['completed', 'failed', 'cancelled'] as const) {
        const run = newRun(org);
        await admitRun(cp.db, run);
        await assert.rejects(admitRun(cp.db, newRun(org)), QuotaExceededError);
        const claim = await claimRun(executions, run.run_id);
        await executions.finish(claim, { from: 'pending', status, at: new Date(), reason: 'test', records: 0 });
      }
      const sub = await orgStore(cp.db).subscription(org);
      assert.equal(sub.running_count, 0);
      assert.equal(sub.success_count, 1);
      assert.equal(sub.failure_count, 1);
    });

    test('a stale slot (a run ended without releasing it) is healed at the next admission', async () => {
      const org = await newOrg({ concurrent_limit: 1 });
      const run = newRun(org);
      await admitRun(cp.db, run);
      // What a crash between two writes of an older version would leave behind.
      await cp.db.query(`UPDATE pipeline_runs SET status = 'failed' WHERE org_slug = $1`, [org]);
      await cp.db.query('DELETE FROM run_queue WHERE org_slug = $1', [org]);
      await admitRun(cp.db, newRun(org));
      const sub = await orgStore(cp.db).subscription(org);
      assert.equal(sub.running_count, 1);
    });

    test('a pending run cancelled before any worker claims it ends at once and frees its slot', async () => {
      const org = await newOrg({ concurrent_limit: 1 });
      const run = newRun(org);
      await admitRun(cp.db, run);
      assert.equal(await executionStore(cp.db).requestCancel(org, run.run_id, new Date(), 'test'), 'cancelled');
      assert.equal((await orgStore(cp.db).subscription(org)).running_count, 0);
      assert.equal(await executionStore(cp.db).requestCancel(org, run.run_id, new Date(), 'again'), 'ended');
    });

    test('concurrent workers never claim the same run', async () => {
      const org = await newOrg({ concurrent_limit: 20 });
      for (let i = 0; i < 10; i++) await admitRun(cp.db, newRun(org));
      const executions = executionStore(cp.db);
      const claims = (await Promise.all(Array.from({ length: 30 }, (_, i) => executions.claim(`w${i}`, 60_000, { limit: 1 + (i % 3) })))).flat().filter((c) => c.org_slug === org);
      const ids = claims.map((c) => c.run_id);
      assert.equal(ids.length, 10, 'every queued run of the org was claimed');
      assert.equal(new Set(ids).size, ids.length);
    });
  });
}
