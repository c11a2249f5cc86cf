import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import { admitRun } from '../../src/store/admission.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { countingDb } from '../support/counting-db.ts';
import { testApp, waitFor } from '../support/test-app.ts';
import { testProcessors } from '../support/test-processors.ts';

const LIMITS = { plan: 'TEST', status: 'ACTIVE', daily_limit: 1_000_000, monthly_limit: 1_000_000, concurrent_limit: 1_000_000 } as const;

async function configsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'run-cost-'));
  await mkdir(join(dir, 'cost', 'noop'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { TEST: LIMITS } }));
  const pipeline = (id: string, steps: string[]) =>
    `pipeline_id: ${id}\nname: ${id}\ndescription: no-op\nprovider: cost\ndomain: noop\nversion: "1"\nsteps:\n${steps.map((step, i) => `  - { step_id: ${step}, ps_type: test.work, ${i > 0 ? `depends_on: [${steps[i - 1]}], ` : ''}config: { ms: 0 } }`).join('\n')}\n`;
  await writeFile(join(dir, 'cost', 'noop', 'one.yml'), pipeline('cost_one', ['a']));
  await writeFile(join(dir, 'cost', 'noop', 'three.yml'), pipeline('cost_three', ['a', 'b', 'c']));
  return dir;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

for (const factory of controlPlaneFactories()) {
  describe(`what a run costs the control plane on ${factory.name}`, () => {
    let cp: ControlPlane;
    let counted: ReturnType<typeof countingDb>;
    let app: App;
    let key: string;
    const org = 'cost_org';

    before(async () => {
      cp = await factory.open();
      counted = countingDb(cp.db);
      // Heartbeats and polling slower than any run here: what is counted is the run's own path.
      app = await testApp({ ...cp, db: counted }, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: await configsDir() }, workerOptions: { heartbeatMs: 60_000, pollMs: 60_000 } });
      await app.orgs.create(org, org, { ...LIMITS });
      key = (await app.orgs.createKey(org)).api_key;
      app.worker?.start();
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    after(() => app.close());
    after(() => cp.close());

    /** Requests a run over HTTP and counts every statement until it has completed (read through the uncounted db). */
    const measure = async (pipeline: string) => {
      const server = await buildServer(app);
      counted.reset();
      const response = await server.inject({ method: 'POST', url: `/api/v1/pipelines/run/${org}/cost/noop/${pipeline}`, headers: { 'x-api-key': key, 'content-type': 'application/json' }, payload: '{}' });
      assert.equal(response.statusCode, 202, response.body);
      const { run_id } = response.json() as { run_id: string };
      await waitFor(async () => (await cp.db.query<{ status: string }>('SELECT status FROM pipeline_runs WHERE org_slug = $1 AND run_id = $2', [org, run_id]))[0]?.status === 'completed', 10_000, 'run completed');
      // Whatever the worker still sends for this run (none expected) is counted too.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const counts = { ...counted.counts };
      await server.close();
      const steps = await cp.db.query<{ status: string }>('SELECT status FROM step_runs WHERE org_slug = $1 AND run_id = $2', [org, run_id]);
      const logs = await cp.db.query('SELECT 1 FROM run_logs WHERE org_slug = $1 AND run_id = $2', [org, run_id]);
      return { counts, steps, logs };
    };

    test('a one-step no-op run, admission through finish: at most 6 statements and 3 commits, and its trace is whole', async (t) => {
      const { counts, steps, logs } = await measure('one');
      t.diagnostic(`${counts.statements} statements, ${counts.commits} commits: ${counts.sql.join(' | ')}`);
      assert.ok(counts.statements <= 6, `${counts.statements} statements: ${counts.sql.join(' | ')}`);
      assert.ok(counts.commits <= 3, `${counts.commits} commits: ${counts.sql.join(' | ')}`);
      assert.deepEqual(steps.map((s) => s.status), ['completed']);
      assert.ok(logs.length >= 3, 'the run log was written with the end');
    });

    test('each further step adds at most one commit', async (t) => {
      const { counts, steps } = await measure('three');
      t.diagnostic(`three steps: ${counts.statements} statements, ${counts.commits} commits`);
      assert.ok(counts.commits <= 3 + 2, `${counts.commits} commits: ${counts.sql.join(' | ')}`);
      assert.deepEqual(steps.map((s) => s.status), ['completed', 'completed', 'completed']);
    });

    test("a drain: each run's end claims the run taking its slot in the same statement, and every run's trace is whole", async (t) => {
      const runs = 40;
      await app.worker?.stop();
      const ids = Array.from({ length: runs }, () => randomUUID());
      for (const run_id of ids) {
        await admitRun(cp.db, { org_slug: org, run_id, pipeline_id: 'cost_one', provider: 'cost', domain: 'noop', pipeline: 'one', parameters: { start_date: '2026-01-01', end_date: '2026-01-01', credential_id: 'default' }, trigger: 'api', created_by: 'test', created_at: new Date() });
      }
      counted.reset();
      app.worker?.start();
      await waitFor(async () => (await cp.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pipeline_runs WHERE org_slug = $1 AND run_id = ANY($2::uuid[]) AND status = 'completed'", [org, ids]))[0]?.n === runs, 20_000, 'the drain');
      const { statements, sql } = counted.counts;
      const claims = sql.filter((text) => text.startsWith('WITH next AS')).length;
      t.diagnostic(`${runs} runs: ${statements} statements, ${claims} claims on their own`);
      // The first claim takes the worker's 4 slots; after that ends bring their successors.
      assert.ok(claims <= 3, `${claims} claims of their own`);
      assert.ok(statements <= runs * 1.1 + 3, `${statements} statements for ${runs} runs`);
      const trace = await cp.db.query<{ run_id: string; to_status: string }>('SELECT run_id::text AS run_id, to_status FROM run_transitions WHERE org_slug = $1 AND run_id = ANY($2::uuid[]) ORDER BY id', [org, ids]);
      for (const id of ids) assert.deepEqual(trace.filter((row) => row.run_id === id).map((row) => row.to_status), ['pending', 'validating', 'running', 'completed'], id);
      const queued = await cp.db.query('SELECT 1 FROM run_queue WHERE org_slug = $1 AND run_id = ANY($2::uuid[])', [org, ids]);
      assert.equal(queued.length, 0);
    });

    test("admission costs the same whatever the org's backlog: 10,000 pending runs", async (t) => {
      const busy = 'cost_backlog';
      await app.orgs.create(busy, busy, { ...LIMITS });
      // The backlog as admission would have left it, written in bulk: pending, queued, holding slots.
      await cp.db.query(
        `WITH runs AS (
           INSERT INTO pipeline_runs (org_slug, run_id, pipeline_id, provider, domain, pipeline, status, parameters, trigger, created_by, created_at)
           SELECT $1, gen_random_uuid(), 'cost_one', 'cost', 'noop', 'parked', 'pending', '{}', 'api', 'test', now() FROM generate_series(1, 10000)
           RETURNING org_slug, run_id)
         INSERT INTO run_queue (org_slug, run_id, enqueued_at, priority_at, worker_id, lease_expires_at) SELECT org_slug, run_id, now(), now(), 'parked', now() + interval '1 hour' FROM runs`,
        [busy],
      );
      await cp.db.query('UPDATE subscriptions SET running_count = 10000 WHERE org_slug = $1', [busy]);
      const admitOnce = async (orgSlug: string) => {
        const started = performance.now();
        await admitRun(cp.db, { org_slug: orgSlug, run_id: randomUUID(), pipeline_id: 'cost_one', provider: 'cost', domain: 'noop', pipeline: 'parked', parameters: {}, trigger: 'api', created_by: 'test', created_at: new Date() });
        return performance.now() - started;
      };
      await app.worker?.stop();
      const idle = 'cost_idle';
      await app.orgs.create(idle, idle, { ...LIMITS });
      // Alternated one by one, so a burst of load on a shared machine falls on both alike.
      const [empty, backlog] = [[] as number[], [] as number[]];
      for (let i = 0; i < 200; i++) {
        const [first, second] = i % 2 === 0 ? [idle, busy] : [busy, idle];
        const t1 = await admitOnce(first);
        const t2 = await admitOnce(second);
        if (i < 20) continue;
        (first === idle ? empty : backlog).push(t1);
        (second === idle ? empty : backlog).push(t2);
      }
      const [a, b] = [median(empty), median(backlog)];
      t.diagnostic(`admission p50: ${a.toFixed(2)} ms with no backlog, ${b.toFixed(2)} ms with 10,000 pending runs`);
      assert.ok(b <= a * 1.25 + 0.3, `admission p50 ${b.toFixed(2)} ms with 10,000 pending runs against ${a.toFixed(2)} ms with none`);
    });
  });
}
