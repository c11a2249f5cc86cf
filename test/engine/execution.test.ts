import { ConflictError } from '../../src/shared/errors.ts';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { journal, testProcessors } from '../support/test-processors.ts';
import { recordingClock, testApp, waitFor, waitForRunEnd } from '../support/test-app.ts';

const PIPELINES: Record<string, string> = {
  'dag.yml': `
pipeline_id: test_dag
name: DAG
description: a -> (b, c) -> d
provider: test
domain: engine
version: "1"
steps:
  - { step_id: a, ps_type: test.work, config: { ms: 50 } }
  - { step_id: b, ps_type: test.work, depends_on: [a], config: { ms: 400 } }
  - { step_id: c, ps_type: test.work, depends_on: [a], config: { ms: 400 } }
  - { step_id: d, ps_type: test.work, depends_on: [b, c], config: { ms: 10 } }
`,
  'flaky.yml': `
pipeline_id: test_flaky
name: Flaky
description: fails twice then succeeds
provider: test
domain: engine
version: "1"
steps:
  - { step_id: flaky, ps_type: test.work, retry: { max_attempts: 3, backoff_seconds: 2 }, config: { ms: 1, fail_times: 2, rows: 7 } }
`,
  'failing.yml': `
pipeline_id: test_failing
name: Failing
description: a step that keeps failing, its dependant and an independent branch
provider: test
domain: engine
version: "1"
steps:
  - { step_id: broken, ps_type: test.work, retry: { max_attempts: 2, backoff_seconds: 1 }, config: { ms: 1, fail_times: 99 } }
  - { step_id: after_broken, ps_type: test.work, depends_on: [broken], config: { ms: 1 } }
  - { step_id: independent, ps_type: test.work, config: { ms: 100 } }
`,
  'permanent.yml': `
pipeline_id: test_permanent
name: Permanent
description: a non-retryable error is not retried
provider: test
domain: engine
version: "1"
steps:
  - { step_id: once, ps_type: test.work, retry: { max_attempts: 5, backoff_seconds: 1 }, config: { ms: 1, fail_times: 1, permanent: true } }
`,
  'timeout.yml': `
pipeline_id: test_timeout
name: Timeout
description: a step that never ends
provider: test
domain: engine
version: "1"
steps:
  - { step_id: stuck, ps_type: test.hang, timeout_seconds: 1, config: {} }
`,
  'slow_stop.yml': `
pipeline_id: test_slow_stop
name: Slow to stop
description: times out every attempt, and takes a while to stop each time
provider: test
domain: engine
version: "1"
steps:
  - { step_id: sticky, ps_type: test.slow_stop, timeout_seconds: 1, retry: { max_attempts: 2, backoff_seconds: 0 }, config: { stop_ms: 400 } }
`,
  'slow_write.yml': `
pipeline_id: test_slow_write
name: Slow write
description: replaces one row per day of its range, slowly
provider: test
domain: engine
version: "1"
steps:
  - { step_id: write, ps_type: test.slow_write, config: { spin: 30000000 } }
`,
  'chain.yml': `
pipeline_id: test_chain
name: Chain
description: three short steps in a row
provider: test
domain: engine
version: "1"
steps:
  - { step_id: a, ps_type: test.work, config: { ms: 5 } }
  - { step_id: b, ps_type: test.work, depends_on: [a], config: { ms: 5 } }
  - { step_id: c, ps_type: test.work, depends_on: [b], config: { ms: 5 } }
`,
  'slow.yml': `
pipeline_id: test_slow
name: Slow
description: one long step, for cancel and recovery
provider: test
domain: engine
version: "1"
parameters:
  ms: { type: integer, default: 60000 }
steps:
  - { step_id: long, ps_type: test.work, config: { ms: 60000 } }
`,
  'quick.yml': `
pipeline_id: test_quick
name: Quick
description: one short step
provider: test
domain: engine
version: "1"
steps:
  - { step_id: short, ps_type: test.work, config: { ms: 20 } }
`,
  'unknown_var.yml': `
pipeline_id: test_unknown_var
name: Unknown variable
description: names a template variable nobody defines
provider: test
domain: engine
version: "1"
steps:
  - step_id: transform
    ps_type: test.uses_secret
    config: { provider: "p_{no_such_variable}" }
`,
};

async function configsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'engine-configs-'));
  await mkdir(join(dir, 'test', 'engine'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { TEST: { status: 'ACTIVE', daily_limit: 1000, monthly_limit: 1000, concurrent_limit: 100 } } }));
  for (const [file, yaml] of Object.entries(PIPELINES)) await writeFile(join(dir, 'test', 'engine', file), yaml);
  await mkdir(join(dir, 'schemas', 'demo'), { recursive: true });
  await writeFile(join(dir, 'schemas', 'demo', 'demo_usage_raw.json'), JSON.stringify({ fields: [{ name: 'd', type: 'STRING' }] }));
  return dir;
}

for (const factory of controlPlaneFactories()) describe(`pipeline execution on ${factory.name}`, () => {
  let cp: ControlPlane;
  let app: App;
  const clock = recordingClock();
  const org = 'engine_org';
  const run = async (pipeline: string, body: Record<string, unknown> = {}) => (await app.requests.request({ orgSlug: org, route: `test/engine/${pipeline}`, body, trigger: 'api', createdBy: 'test' })).run_id;
  const transitions = async (runId: string) => (await app.runs.transitions(org, runId)).map((t) => `${t.from_status ?? '-'}>${t.to_status}`);

  before(async () => {
    cp = await factory.open();
    const dir = await configsDir();
    app = await testApp(cp, { clock, processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: dir, RUN_LEASE_SECONDS: '2', STEP_STOP_GRACE_SECONDS: '1' }, workerOptions: { heartbeatMs: 100, pollMs: 100 } });
    await app.orgs.create(org, org, { plan: 'TEST', status: 'ACTIVE', daily_limit: 1000, monthly_limit: 1000, concurrent_limit: 100 });
    app.worker?.start();
  });
  after(async () => {
    await app.close();
    await cp.close();
  });

  test('steps run in depends_on order, independent ones concurrently', async () => {
    const runId = await run('dag');
    const ended = await waitForRunEnd(app, org, runId);
    assert.equal(ended.status, 'completed');
    assert.equal(ended.records_processed, 4);
    const at = (step: string, event: 'start' | 'end') => journal.find((e) => e.runId === runId && e.stepId === step && e.event === event)?.at as number;
    assert.ok(at('a', 'end') <= at('b', 'start') && at('a', 'end') <= at('c', 'start'), 'b and c wait for a');
    assert.ok(at('b', 'start') < at('c', 'end') && at('c', 'start') < at('b', 'end'), 'b and c overlap');
    assert.ok(at('d', 'start') >= Math.max(at('b', 'end'), at('c', 'end')), 'd waits for b and c');
    assert.deepEqual(await transitions(runId), ['->pending', 'pending>validating', 'validating>running', 'running>completed']);
  });

  test('a failing step is retried with exponential backoff from backoff_seconds', async () => {
    const before = clock.sleeps.length;
    const runId = await run('flaky');
    const ended = await waitForRunEnd(app, org, runId);
    assert.equal(ended.status, 'completed');
    const [step] = await app.runs.steps(org, runId);
    assert.equal(step?.attempts, 3);
    assert.equal(step?.records_processed, 7);
    assert.deepEqual(clock.sleeps.slice(before), [2000, 4000]);
  });

  test('a step failing every attempt fails the run and skips its dependants, not independent branches', async () => {
    const runId = await run('failing');
    const ended = await waitForRunEnd(app, org, runId);
    assert.equal(ended.status, 'failed');
    assert.equal(ended.error_message, 'test.work: attempt 2 failed on purpose');
    const steps = Object.fromEntries((await app.runs.steps(org, runId)).map((s) => [s.step_id, s]));
    assert.equal(steps.broken?.status, 'failed');
    assert.equal(steps.broken?.attempts, 2);
    assert.equal(steps.after_broken?.status, 'skipped');
    assert.equal(steps.independent?.status, 'completed');
  });

  test('a non-retryable error is not retried', async () => {
    const runId = await run('permanent');
    assert.equal((await waitForRunEnd(app, org, runId)).status, 'failed');
    assert.equal((await app.runs.steps(org, runId))[0]?.attempts, 1);
  });

  test('a step that ignores its timeout is waited for, then failed without a retry', async () => {
    const started = Date.now();
    const runId = await run('timeout');
    const ended = await waitForRunEnd(app, org, runId);
    assert.equal(ended.status, 'failed');
    assert.equal(ended.error_message, 'test.hang: did not stop within 1s of being timed out; not retried');
    assert.ok(Date.now() - started < 6000);
  });

  test('a timed-out attempt has stopped before its retry starts', async () => {
    const runId = await run('slow_stop');
    const ended = await waitForRunEnd(app, org, runId);
    assert.equal(ended.status, 'failed');
    assert.equal(ended.error_message, 'test.slow_stop: step sticky timed out after 1s');
    const events = journal.filter((e) => e.runId === runId).map((e) => e.event);
    assert.deepEqual(events, ['start', 'end', 'start', 'end'], 'the second attempt starts only after the first stopped');
    assert.equal((await app.runs.steps(org, runId))[0]?.attempts, 2);
  });

  test('concurrent runs writing overlapping partitions never write at once: one row per day, none duplicated', async () => {
    // Same-range runs first: on an empty table each one's DELETE finds nothing to conflict on.
    const ranges = Array.from({ length: 12 }, (_, i) => (i < 6 ? { start_date: '2026-03-01', end_date: '2026-03-03' } : { start_date: `2026-03-0${i - 5}`, end_date: `2026-03-0${i - 3}` }));
    const ids = await Promise.all(ranges.map((body) => run('slow_write', body)));
    for (const id of ids) assert.equal((await waitForRunEnd(app, org, id, 60_000)).status, 'completed');
    const days = await app.warehouse!.query(`SELECT d, CAST(count(*) AS INTEGER) AS n FROM ${org}_dev.demo_usage_raw WHERE d LIKE '2026-03-%' GROUP BY d ORDER BY d`);
    assert.deepEqual(days, ['01', '02', '03', '04', '05', '06', '07', '08'].map((day) => ({ d: `2026-03-${day}`, n: 1 })));
  });

  test('an unknown template variable is refused at admission, naming it; nothing is queued', async () => {
    const queued = async () => (await cp.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pipeline_runs WHERE org_slug = $1', [org]))[0]?.n;
    const before = await queued();
    await assert.rejects(run('unknown_var'), (error: Error & { field?: string }) => {
      assert.match(error.message, /^Unknown template variable: no_such_variable \(in steps\[0\]\.config\.provider\)/);
      assert.equal(error.field, 'no_such_variable (in steps[0].config.provider)');
      return true;
    });
    assert.equal(await queued(), before);
  });

  test('cancel aborts a running step and ends the run cancelled, releasing the slot', async () => {
    const runId = await run('slow');
    await waitFor(async () => (await app.runs.steps(org, runId))[0]?.status === 'running', 10_000, 'step running');
    const asked = Date.now();
    assert.deepEqual(await app.requests.cancel(org, runId, 'test'), { success: true, status: 'cancelling' });
    const ended = await waitForRunEnd(app, org, runId);
    assert.ok(Date.now() - asked < 3000, 'cancel takes effect within a few heartbeats');
    assert.equal(ended.status, 'cancelled');
    assert.equal((await app.runs.steps(org, runId))[0]?.status, 'cancelled');
    assert.equal((await transitions(runId)).at(-1), 'running>cancelled');
  });

  test('100 runs cancelled at random moments of their transitions: no deadlock, every run ends, every slot is released', async () => {
    const before = (await app.orgs.subscription(org)).running_count;
    const outcomes = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const runId = await run('chain');
      await new Promise((resolve) => setTimeout(resolve, (i * 7919) % 120));
      // A run that ended first is a 409 (ConflictError): the cancel came too late, which is one of the outcomes raced for.
      const cancel = await app.requests.cancel(org, runId, 'test').catch((error: unknown) => {
        if (!(error instanceof ConflictError)) throw error;
        return { success: false, status: 'ended' };
      });
      return { runId, cancel };
    }));
    const ended = await Promise.all(outcomes.map(({ runId }) => waitForRunEnd(app, org, runId, 60_000)));
    for (const run of ended) {
      assert.ok(['cancelled', 'completed'].includes(run.status), `${run.run_id} ended ${run.status}: ${run.error_message}`);
      assert.doesNotMatch(run.error_message ?? '', /deadlock|engine/i);
    }
    assert.ok(ended.some((r) => r.status === 'cancelled'), 'some cancels landed before the end');
    assert.equal((await app.orgs.subscription(org)).running_count, before);
    const queued = await cp.db.query('SELECT 1 FROM run_queue q JOIN pipeline_runs r USING (org_slug, run_id) WHERE r.status IN ($1, $2, $3)', ['completed', 'failed', 'cancelled']);
    assert.equal(queued.length, 0, 'no ended run left in the queue');
  });

  test('a run whose worker died is recovered when its lease expires', async () => {
    await app.worker?.stop();
    const runId = await run('quick');
    // A worker that claims the run, starts it, then dies without a word.
    const dead = (await app.executions.claim('dead-worker', 1000))[0];
    assert.equal(dead?.run_id, runId);
    assert.equal(dead?.run.status, 'running', 'the claim started it');
    app.worker?.start();
    const ended = await waitForRunEnd(app, org, runId, 15_000);
    assert.equal(ended.status, 'completed');
    const list = await transitions(runId);
    assert.deepEqual(list.slice(0, 4), ['->pending', 'pending>validating', 'validating>running', 'running>pending']);
    assert.match((await app.runs.transitions(org, runId))[3]?.reason ?? '', /recovered/);
    // The dead worker's fencing token no longer matches: its late writes are refused.
    await assert.rejects(app.executions.finish(dead!, { from: 'running', status: 'failed', at: new Date(), reason: 'zombie', records: 0 }), /no longer held/);
  });
});
