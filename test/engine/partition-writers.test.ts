import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { addDays } from '../../src/shared/clock.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { testApp, waitForRunEnd } from '../support/test-app.ts';

const ROUTE = 'demo/usage/daily_cost';
const LIMITS = { plan: 'TEST', status: 'ACTIVE', daily_limit: 10_000, monthly_limit: 100_000, concurrent_limit: 100 } as const;
const TABLES = ['demo_usage_raw', 'demo_cost_daily_by_team', 'demo_cost_daily_by_service'];

for (const factory of controlPlaneFactories()) {
  describe(`one writer per partition on ${factory.name}`, () => {
    let cp: ControlPlane;
    let app: App;

    before(async () => {
      cp = await factory.open();
      app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '8', STEP_CONCURRENCY: '2' }, workerOptions: { pollMs: 50 } });
      app.worker?.start();
    });
    after(() => app.close());
    after(() => cp.close());

    /** Every row of the org's demo tables but the lineage that names the run. */
    const rows = async (org: string, table: string) =>
      (await app.warehouse!.query(`SELECT * EXCLUDE (x_org_slug, x_run_id, x_ingested_at, x_ingestion_date) FROM ${org}_dev.${table} ORDER BY ALL`)).map((row) => JSON.stringify(row));

    test('20 concurrent runs with overlapping ranges leave exactly the rows of a sequential run, and all complete', async () => {
      const concurrent = `pw_${factory.name}_c`;
      const sequential = `pw_${factory.name}_s`;
      await app.orgs.create(concurrent, concurrent, { ...LIMITS });
      await app.orgs.create(sequential, sequential, { ...LIMITS });
      // Ranges of 1-3 days starting on Jan 1-6: every day of Jan 1-8 written by several runs at once.
      const ranges = Array.from({ length: 20 }, (_, i) => {
        const start = `2026-01-0${1 + (i % 6)}`;
        return { start_date: start, end_date: addDays(start, i % 3) };
      });
      const ids = await Promise.all(ranges.map((body) => app.requests.request({ orgSlug: concurrent, route: ROUTE, body, trigger: 'api', createdBy: 'test' })));
      const ended = await Promise.all(ids.map(({ run_id }) => waitForRunEnd(app, concurrent, run_id, 120_000)));
      for (const run of ended) assert.equal(run.status, 'completed', run.error_message ?? '');

      const reference = await app.requests.request({ orgSlug: sequential, route: ROUTE, body: { start_date: '2026-01-01', end_date: '2026-01-08' }, trigger: 'api', createdBy: 'test' });
      assert.equal((await waitForRunEnd(app, sequential, reference.run_id, 60_000)).status, 'completed');
      for (const table of TABLES) {
        const [got, expected] = [await rows(concurrent, table), await rows(sequential, table)];
        assert.ok(expected.length > 0);
        assert.equal(got.length, expected.length, `${table}: ${got.length} rows against ${expected.length} written sequentially`);
        assert.deepEqual(got, expected, table);
      }
      const locks = await cp.db.query('SELECT 1 FROM partition_locks WHERE org_slug = $1', [concurrent]);
      assert.equal(locks.length, 0, 'every partition lock was released');
    });
  });
}
