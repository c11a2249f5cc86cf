import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runAndFollow } from '../../src/main/cli-run.ts';
import { openPglite } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';
import { testProcessors } from '../support/test-processors.ts';

test('pipeline run shows each failed attempt and its retry delay as it happens, and a skipped step once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'follow-configs-'));
  await mkdir(join(dir, 'follow', 'p'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { TEST: { status: 'ACTIVE', daily_limit: 100, monthly_limit: 1000, concurrent_limit: 10 } } }));
  await writeFile(join(dir, 'follow', 'p', 'flaky.yml'), [
    'pipeline_id: follow_flaky', 'name: flaky', 'description: fails twice, then one that never works', 'provider: follow', 'domain: p', 'version: "1"', 'steps:',
    '  - { step_id: flaky, ps_type: test.work, retry: { max_attempts: 3, backoff_seconds: 0.05 }, config: { ms: 0, fail_times: 2 } }',
    '  - { step_id: broken, ps_type: test.work, depends_on: [flaky], config: { ms: 0, fail_times: 5, permanent: true } }',
    '  - { step_id: after, ps_type: test.work, depends_on: [broken], config: { ms: 0 } }', '',
  ].join('\n'));
  const cp = await openPglite();
  const app = await testApp(cp, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: dir } });
  try {
    await app.orgs.create('acme', 'acme', { plan: 'TEST', status: 'ACTIVE', daily_limit: 100, monthly_limit: 1000, concurrent_limit: 10 });
    app.worker?.start();
    const lines: string[] = [];
    const run = await runAndFollow(app, { orgSlug: 'acme', route: 'follow/p/flaky', body: {}, json: false, out: (line) => lines.push(line), clock: app.clock });
    assert.equal(run.status, 'failed');
    const text = lines.join('\n');
    assert.match(text, /step flaky attempt 1 failed: test\.work: attempt 1 failed on purpose; retrying in 0\.\d s/);
    assert.match(text, /step flaky attempt 2 failed: test\.work: attempt 2 failed on purpose; retrying in 0\.\d s/);
    assert.match(text, /step flaky \[test\.work\] completed/);
    const skipped = lines.find((line) => line.includes('step after'));
    assert.equal(skipped, '  step after [test.work] skipped broken did not complete');
  } finally {
    await app.close();
    await cp.close();
  }
});
