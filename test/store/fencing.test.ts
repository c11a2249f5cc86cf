import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { admitRun } from '../../src/store/admission.ts';
import { executionStore, LeaseLostError, type Claim, type JournalBatch, type PartitionKey, type StepRow } from '../../src/store/executions.ts';
import { maintenanceStore } from '../../src/store/maintenance.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { orgStore } from '../../src/store/orgs.ts';
import type { QualityResult } from '../../src/shared/quality.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';

const LIMITS = { plan: 'TEST', status: 'ACTIVE', daily_limit: 1000, monthly_limit: 10_000, concurrent_limit: 100 } as const;

const step = (status: StepRow['status'], attempts = 0): StepRow => ({ step_id: 's', ps_type: 'x.y', position: 0, status, attempts, started_at: null, ended_at: null, duration_ms: null, records_processed: 0, error_message: null, result: null });
const batch = (parts: Partial<JournalBatch>): JournalBatch => ({ steps: [], logs: [], quality: [], ...parts });
const log = (message: string, at = new Date()) => ({ at, level: 'info' as const, message });
const quality = (rule: string): QualityResult => ({ check_kind: 'focus_rule', rule_id: rule, level: 'MUST', status: 'pass', description: rule, failing_rows: 0 });

for (const factory of controlPlaneFactories()) {
  describe(`fencing and partition locks on ${factory.name}`, () => {
    let cp: ControlPlane;
    let executions: ReturnType<typeof executionStore>;
    let n = 0;
    const newOrg = async () => {
      const slug = `fence_${factory.name}_${++n}`;
      await orgStore(cp.db).create(slug, slug, { ...LIMITS });
      return slug;
    };
    /** A run of its own org, claimed: nothing else in the shared database competes for it. */
    const claimedRun = async (leaseMs = 60_000): Promise<Claim & { recovered: boolean }> => {
      const org = await newOrg();
      const runId = randomUUID();
      await admitRun(cp.db, { org_slug: org, run_id: runId, pipeline_id: 'p', provider: 'demo', domain: 'usage', pipeline: 'daily_cost', parameters: {}, trigger: 'api', created_by: 'test', created_at: new Date() });
      for (;;) {
        const claim = (await executions.claim(`w-${randomUUID().slice(0, 6)}`, leaseMs))[0];
        assert.ok(claim, 'the run was never claimable');
        if (claim.run_id === runId) return claim;
      }
    };
    /** Another worker takes the run over: the database's lease is made to expire, then it is claimed again. */
    const takeOver = async (claim: Claim) => {
      await cp.db.query("UPDATE run_queue SET lease_expires_at = now() - interval '1 second' WHERE org_slug = $1 AND run_id = $2", [claim.org_slug, claim.run_id]);
      for (;;) {
        const next = (await executions.claim('new-owner', 60_000))[0];
        assert.ok(next);
        if (next.run_id === claim.run_id) return next;
      }
    };
    const count = async (table: string, claim: Claim) => (await cp.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE org_slug = $1 AND run_id = $2`, [claim.org_slug, claim.run_id]))[0]?.n;

    before(async () => {
      cp = await factory.open();
      executions = executionStore(cp.db);
    });
    after(() => cp.close());

    test('a worker that lost its claim writes nothing: steps, logs, quality, status, end', async () => {
      const stale = await claimedRun();
      await executions.flush(stale, batch({ steps: [step('pending')] }));
      const owner = await takeOver(stale);
      assert.equal(owner.recovered, true);
      const refused = (error: unknown) => error instanceof LeaseLostError;
      await assert.rejects(executions.flush(stale, batch({ steps: [step('running', 7)], logs: [log('zombie')], quality: [{ step_id: 's', results: [quality('R1')] }] })), refused);
      await assert.rejects(executions.transition(stale, 'validating', 'running', new Date(), 'zombie'), refused);
      await assert.rejects(executions.finish(stale, { from: 'running', status: 'failed', at: new Date(), reason: 'zombie', records: 0 }, batch({ logs: [log('zombie')] })), refused);
      assert.equal(await count('run_logs', stale), 0);
      assert.equal(await count('run_quality_results', stale), 0);
      const [stored] = await cp.db.query<{ attempts: number }>('SELECT attempts FROM step_runs WHERE org_slug = $1 AND run_id = $2', [stale.org_slug, stale.run_id]);
      assert.equal(stored?.attempts, 0);
      const [run] = await cp.db.query<{ status: string }>('SELECT status FROM pipeline_runs WHERE org_slug = $1 AND run_id = $2', [stale.org_slug, stale.run_id]);
      assert.equal(run?.status, 'running', "the new owner's claim moved it; the stale end changed nothing");
      // The new owner's writes go through.
      await executions.flush(owner, batch({ logs: [log('mine')] }));
      assert.equal(await count('run_logs', owner), 1);
    });

    test("ends of one org's runs arriving together share a statement; a lost claim or a bad row fails only its own run", async () => {
      const org = await newOrg();
      const runIds = Array.from({ length: 7 }, () => randomUUID());
      for (const runId of runIds) {
        await admitRun(cp.db, { org_slug: org, run_id: runId, pipeline_id: 'p', provider: 'demo', domain: 'usage', pipeline: 'daily_cost', parameters: {}, trigger: 'api', created_by: 'test', created_at: new Date() });
      }
      const claims: Claim[] = [];
      while (claims.length < runIds.length) {
        for (const claim of await executions.claim('batch-worker', 60_000, { limit: 50 })) if (claim.org_slug === org) claims.push(claim);
      }
      const [stale, poisoned, ...good] = claims as [Claim, Claim, ...Claim[]];
      await takeOver(stale);
      let statements = 0;
      const countingDb = { ...cp.db, query: (sql: string, params?: unknown[]) => (sql.includes('WITH ends AS') && statements++, cp.db.query(sql, params)) } as typeof cp.db;
      const ending = executionStore(countingDb);
      const end = { from: 'running' as const, status: 'completed' as const, at: new Date(), reason: 'test', records: 1 };
      const endGood = (i: number) => ending.finish(good[i] as Claim, end, batch({ steps: [step('completed', 1)], logs: [log(`first \u0000of ${i}`), log(`second of ${i}`)] }));

      // The first end goes alone; the three that arrive while it is in flight go together, the lost claim among them.
      const first = await Promise.allSettled([endGood(0), endGood(1), ending.finish(stale, end, batch({ logs: [log('zombie')] })), endGood(2)]);
      assert.equal(statements, 2);
      assert.deepEqual(first.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      assert.ok(first[2]?.status === 'rejected' && first[2].reason instanceof LeaseLostError, 'the stale claim is refused as lost');

      // A row the database refuses fails the batch it is in; each of its runs is then ended on its own.
      statements = 0;
      const second = await Promise.allSettled([endGood(3), ending.finish(poisoned, end, batch({ logs: [log('no time', new Date(Number.NaN))] })), endGood(4)]);
      assert.equal(statements, 4);
      assert.deepEqual(second.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.ok(second[1]?.status === 'rejected' && !(second[1].reason instanceof LeaseLostError), 'the bad row fails its own run with the database error');

      for (const [i, claim] of good.entries()) {
        const lines = await cp.db.query<{ message: string }>('SELECT message FROM run_logs WHERE org_slug = $1 AND run_id = $2 ORDER BY id', [org, claim.run_id]);
        assert.deepEqual(lines.map((l) => l.message), [`first of ${i}`, `second of ${i}`], 'lines in order, NUL dropped');
      }
      const statuses = await cp.db.query<{ run_id: string; status: string }>('SELECT run_id::text AS run_id, status FROM pipeline_runs WHERE org_slug = $1', [org]);
      const byRun = new Map(statuses.map((r) => [r.run_id, r.status]));
      assert.equal(byRun.get(poisoned.run_id), 'running', 'the bad end wrote nothing');
      for (const claim of good) assert.equal(byRun.get(claim.run_id), 'completed');
      const [sub] = await cp.db.query<{ running_count: number; success_count: number }>('SELECT running_count, success_count FROM subscriptions WHERE org_slug = $1', [org]);
      assert.deepEqual(sub, { running_count: 2, success_count: good.length }, 'each ended run released its slot once; the taken-over and the bad one still hold theirs');
    });

    test('leases are set and extended from the database clock, not the worker clock', async () => {
      const claim = await claimedRun(1500);
      const [row] = await cp.db.query<{ ms: number }>('SELECT extract(epoch FROM (lease_expires_at - now())) * 1000 AS ms FROM run_queue WHERE org_slug = $1 AND run_id = $2', [claim.org_slug, claim.run_id]);
      assert.ok(row && row.ms > 1000 && row.ms <= 1500, `lease ${row?.ms} ms from the database's now()`);
      const beat = await executions.heartbeat(claim, 60_000);
      assert.deepEqual(beat, { held: true, cancelRequested: false });
      const [extended] = await cp.db.query<{ ms: number }>('SELECT extract(epoch FROM (lease_expires_at - now())) * 1000 AS ms FROM run_queue WHERE org_slug = $1 AND run_id = $2', [claim.org_slug, claim.run_id]);
      assert.ok(extended && extended.ms > 50_000);
    });

    test("a recovered run's quality results replace the earlier claim's", async () => {
      const first = await claimedRun();
      await executions.flush(first, batch({ steps: [step('failed')], quality: [{ step_id: 's', results: [quality('R1'), quality('R2')] }] }));
      const second = await takeOver(first);
      await executions.flush(second, batch({ steps: [step('pending')] }));
      await executions.finish(second, { from: 'running', status: 'completed', at: new Date(), reason: 'test', records: 0 }, batch({ steps: [step('completed', 1)], quality: [{ step_id: 's', results: [quality('R1'), quality('R2'), quality('R3')] }] }));
      const rules = await cp.db.query<{ rule_id: string }>('SELECT rule_id FROM run_quality_results WHERE org_slug = $1 AND run_id = $2 ORDER BY rule_id', [first.org_slug, first.run_id]);
      assert.deepEqual(rules.map((r) => r.rule_id), ['R1', 'R2', 'R3']);
    });

    test('overlapping partitions have one writer; disjoint days, other tables and dead holders do not block', async () => {
      const a = await claimedRun();
      const org = a.org_slug;
      // A second run of the same org, so both lock the same key.
      const bRun = randomUUID();
      await admitRun(cp.db, { org_slug: org, run_id: bRun, pipeline_id: 'p', provider: 'demo', domain: 'usage', pipeline: 'daily_cost', parameters: {}, trigger: 'api', created_by: 'test', created_at: new Date() });
      let b: Claim | undefined;
      while (!b) {
        const next = (await executions.claim('wb', 60_000))[0];
        assert.ok(next);
        if (next.run_id === bRun) b = next;
      }
      const key = (firstDay: string, lastDay: string, target = `${org}_dev.t`): PartitionKey => ({ target, pipelineId: 'p', credentialId: 'default', firstDay, lastDay });
      assert.deepEqual(await executions.lockPartition(a, key('2026-01-01', '2026-01-03')), { acquired: true });
      assert.deepEqual(await executions.lockPartition(b, key('2026-01-03', '2026-01-05')), { acquired: false, heldBy: a.run_id });
      assert.deepEqual(await executions.lockPartition(b, key('2026-01-04', '2026-01-05')), { acquired: true }, 'disjoint days');
      assert.deepEqual(await executions.lockPartition(b, key('2026-01-01', '2026-01-01', `${org}_dev.other`)), { acquired: true }, 'another table');
      assert.equal(await executions.holdsPartition(a, key('2026-01-01', '2026-01-03')), true);
      // a's worker dies: once its lease expires, its lock is taken over.
      await cp.db.query("UPDATE run_queue SET lease_expires_at = now() - interval '1 second' WHERE org_slug = $1 AND run_id = $2", [org, a.run_id]);
      assert.equal(await executions.holdsPartition(a, key('2026-01-01', '2026-01-03')), false, 'an expired holder may not commit');
      assert.deepEqual(await executions.lockPartition(b, key('2026-01-02', '2026-01-02')), { acquired: true });
      await assert.rejects(executions.lockPartition(a, key('2026-01-10', '2026-01-10')), LeaseLostError);
      // Ending a run releases its locks.
      await executions.finish(b, { from: 'running', status: 'completed', at: new Date(), reason: 'test', records: 0 });
      assert.equal((await cp.db.query('SELECT 1 FROM partition_locks WHERE org_slug = $1 AND run_id = $2', [org, b.run_id])).length, 0);
    });

    test('50 concurrent takers of one partition: exactly one holds it at a time', async () => {
      const org = await newOrg();
      const runs: string[] = await Promise.all(Array.from({ length: 10 }, async () => {
        const runId = randomUUID();
        await admitRun(cp.db, { org_slug: org, run_id: runId, pipeline_id: 'p', provider: 'demo', domain: 'usage', pipeline: 'daily_cost', parameters: {}, trigger: 'api', created_by: 'test', created_at: new Date() });
        return runId;
      }));
      const mine: Claim[] = [];
      while (mine.length < runs.length) {
        const next = (await executions.claim('wc', 60_000))[0];
        assert.ok(next);
        if (runs.includes(next.run_id)) mine.push(next);
      }
      const key: PartitionKey = { target: `${org}_dev.t`, pipelineId: 'p', credentialId: 'default', firstDay: '2026-02-01', lastDay: '2026-02-28' };
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => executions.lockPartition(mine[i % mine.length]!, key)));
      assert.equal(results.filter((r) => r.acquired).length, 1);
    });

    test('the sweep heals drifted slot counters and prunes history past its retention', async () => {
      const claim = await claimedRun();
      await cp.db.query('UPDATE subscriptions SET running_count = 7 WHERE org_slug = $1', [claim.org_slug]);
      const maintenance = maintenanceStore(cp.db);
      assert.ok((await maintenance.healSlots()).includes(claim.org_slug));
      assert.equal((await orgStore(cp.db).subscription(claim.org_slug)).running_count, 1);
      await executions.flush(claim, batch({ logs: [log('old', new Date(Date.now() - 40 * 86_400_000)), log('new')], steps: [step('completed', 1)], quality: [{ step_id: 's', results: [quality('R1')] }] }));
      await cp.db.query("UPDATE run_quality_results SET recorded_at = now() - interval '40 days' WHERE org_slug = $1", [claim.org_slug]);
      const pruned = await maintenance.prune({ logDays: 30, qualityDays: 30 });
      assert.ok(pruned.logs >= 1 && pruned.quality >= 1);
      const left = await cp.db.query<{ message: string }>('SELECT message FROM run_logs WHERE org_slug = $1', [claim.org_slug]);
      assert.deepEqual(left.map((l) => l.message), ['new']);
      assert.equal(await count('run_quality_results', claim), 0);
    });
  });
}
