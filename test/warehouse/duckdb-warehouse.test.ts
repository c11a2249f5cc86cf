import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LINEAGE_FIELDS } from '../../src/warehouse/table-schema.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import type { PartitionWrite, Warehouse } from '../../src/warehouse/warehouse.ts';
import { CONFIGS } from '../support/test-app.ts';

const lineage = { orgSlug: 'acme', pipelineId: 'demo_usage_daily_cost', credentialId: 'default', runId: 'run-1', ingestedAt: new Date('2026-02-01T10:00:00Z') };
const usage = (days: string, factor = 1): PartitionWrite['select'] => ({
  sql: `SELECT CAST(d AS DATE) AS usage_date, 'team_a' AS team, 'compute' AS service, CAST($factor AS DECIMAL(38, 9)) AS usage_quantity, 0.045 AS unit_price
          FROM generate_series(CAST($start AS DATE), CAST($end AS DATE), INTERVAL 1 DAY) AS t(d)`,
  params: { factor, start: days.split('..')[0] as string, end: days.split('..')[1] as string },
});

describe('DuckDB warehouse', () => {
  let warehouse: Warehouse;
  const write = (overrides: Partial<PartitionWrite> = {}): PartitionWrite => ({
    dataset: 'acme_dev',
    table: 'demo_usage_raw',
    schema: 'demo/demo_usage_raw',
    lineage,
    runDates: { start: '2026-01-01', end: '2026-01-03' },
    runDateColumn: 'usage_date',
    select: usage('2026-01-01..2026-01-03'),
    ...overrides,
  });
  const rows = async () => warehouse.query('SELECT usage_date::VARCHAR AS d, usage_quantity::VARCHAR AS q, x_run_id FROM acme_dev.demo_usage_raw ORDER BY usage_date');

  before(async () => {
    warehouse = await openDuckDbWarehouse({ path: ':memory:', configsDir: CONFIGS, threads: 2 });
  });
  after(() => warehouse.close());

  test('tables come from their schema file with the seven lineage columns last, in order', async () => {
    await warehouse.ensureTable('acme_dev', 'demo_usage_raw', 'demo/demo_usage_raw');
    const columns = (await warehouse.query("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'acme_dev' AND table_name = 'demo_usage_raw' ORDER BY ordinal_position")) as { column_name: string; data_type: string }[];
    assert.deepEqual(columns.slice(-7).map((c) => c.column_name), LINEAGE_FIELDS.map((f) => f.name));
    assert.equal(columns.find((c) => c.column_name === 'usage_quantity')?.data_type, 'DECIMAL(38,9)', 'money is exact decimal');
  });

  test('a verification sees the uncommitted rows, and its parts cover each of them exactly once', async () => {
    let seen: { rows: number; perPart: number[]; parts: number } | undefined;
    await warehouse.replacePartition(
      write({
        dataset: 'verify_dev',
        runDates: { start: '2026-01-01', end: '2026-01-31' },
        select: usage('2026-01-01..2026-01-31'),
        verify: async (check) => {
          const count = async (filter: string) => Number((await check.all(`SELECT count(*) AS n FROM ${check.table} WHERE ${check.rows} AND ${filter}`))[0]?.n);
          seen = { rows: await count('TRUE'), perPart: await Promise.all(check.parts.map(count)), parts: check.parts.length };
        },
      }),
    );
    assert.equal(seen?.rows, 31);
    assert.equal(seen?.parts, 2, 'one part per DuckDB thread');
    assert.equal(seen?.perPart.reduce((a, b) => a + b, 0), 31);
    assert.ok(seen?.perPart.every((n) => n > 0));
  });

  test('a re-run replaces its partition: identical rows, no duplicates', async () => {
    await warehouse.replacePartition(write());
    const first = await rows();
    await warehouse.replacePartition(write({ lineage: { ...lineage, runId: 'run-2' } }));
    const second = await rows();
    assert.equal(second.length, 3);
    assert.deepEqual(second.map((r) => [r.d, r.q]), first.map((r) => [r.d, r.q]));
    assert.ok(second.every((r) => r.x_run_id === 'run-2'));
  });

  test('only the run range of the same key is replaced; other orgs and days stay', async () => {
    await warehouse.replacePartition(write({ lineage: { ...lineage, orgSlug: 'other' } }));
    await warehouse.replacePartition(write({ runDates: { start: '2026-01-02', end: '2026-01-02' }, select: usage('2026-01-02..2026-01-02', 5) }));
    const all = await warehouse.query("SELECT x_org_slug, usage_date::VARCHAR AS d, usage_quantity::DOUBLE AS q FROM acme_dev.demo_usage_raw ORDER BY x_org_slug, usage_date");
    assert.deepEqual(all.filter((r) => r.x_org_slug === 'acme').map((r) => [r.d, r.q]), [['2026-01-01', 1], ['2026-01-02', 5], ['2026-01-03', 1]]);
    assert.equal(all.filter((r) => r.x_org_slug === 'other').length, 3);
  });

  test('a failed write leaves the previous rows in place', async () => {
    const before = await warehouse.query("SELECT count(*)::INT AS n FROM acme_dev.demo_usage_raw WHERE x_org_slug = 'acme'");
    await assert.rejects(warehouse.replacePartition(write({ select: { sql: 'SELECT CAST(NULL AS DATE) AS usage_date, 1 AS nope' } })));
    // Rows dated outside the replaced range would dodge the next DELETE: refused, nothing changes.
    await assert.rejects(warehouse.replacePartition(write({ runDates: { start: '2026-01-01', end: '2026-01-01' } })), /outside the run range/);
    assert.deepEqual(await warehouse.query("SELECT count(*)::INT AS n FROM acme_dev.demo_usage_raw WHERE x_org_slug = 'acme'"), before);
  });

  test('a SQL parameter without a value is a clear, non-retryable error', async () => {
    await assert.rejects(warehouse.query('SELECT $missing AS x', {}), (error: Error & { retryable?: boolean }) => error.message === 'SQL parameter $missing has no value' && error.retryable === false);
  });

  test('an aborted signal interrupts a running query', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 100);
    const started = Date.now();
    await assert.rejects(warehouse.query('SELECT count(*) FROM range(10000000000) a, range(10) b', {}, controller.signal));
    assert.ok(Date.now() - started < 5000);
  });

  test('rows from TypeScript stream in batches through the bulk path and replace their partition', async () => {
    async function* pages(count: number, quantity: number) {
      for (let page = 0; page < count; page++) {
        yield Array.from({ length: 5000 }, (_, i) => ({ usage_date: `2026-01-${String(1 + ((page * 5000 + i) % 28)).padStart(2, '0')}`, team: `team_${i % 7}`, service: 'api', usage_quantity: quantity, unit_price: '0.000001875' }));
      }
    }
    const batchWrite = (quantity: number, runId: string) => ({
      dataset: 'bulk_dev', table: 'demo_usage_raw', schema: 'demo/demo_usage_raw', lineage: { ...lineage, runId }, runDates: { start: '2026-01-01', end: '2026-01-31' }, runDateColumn: 'usage_date',
      columns: ['usage_date', 'team', 'service', 'usage_quantity', 'unit_price'], batches: pages(20, quantity),
    });
    assert.deepEqual(await warehouse.replacePartitionFromBatches(batchWrite(2, 'bulk-1')), { rows: 100_000, staged: 100_000 });
    assert.deepEqual(await warehouse.replacePartitionFromBatches(batchWrite(3, 'bulk-2')), { rows: 100_000, staged: 100_000 });
    const [totals] = await warehouse.query('SELECT count(*)::INT AS n, sum(usage_quantity)::VARCHAR AS q, sum(usage_quantity * unit_price)::VARCHAR AS cost, count(DISTINCT x_run_id)::INT AS runs FROM bulk_dev.demo_usage_raw');
    assert.deepEqual(totals, { n: 100_000, q: '300000.000000000', cost: '0.562500000000000000', runs: 1 });
  });

  test('a batch stream that fails midway writes nothing', async () => {
    async function* failing() {
      yield [{ usage_date: '2026-01-01', team: 't', service: 's', usage_quantity: 1, unit_price: 1 }];
      throw new Error('page 2 truncated');
    }
    const before = await warehouse.query('SELECT count(*)::INT AS n FROM bulk_dev.demo_usage_raw');
    await assert.rejects(warehouse.replacePartitionFromBatches({ dataset: 'bulk_dev', table: 'demo_usage_raw', schema: 'demo/demo_usage_raw', lineage, runDates: { start: '2026-01-01', end: '2026-01-31' }, runDateColumn: 'usage_date', columns: ['usage_date', 'team', 'service', 'usage_quantity', 'unit_price'], batches: failing() }), /page 2 truncated/);
    assert.deepEqual(await warehouse.query('SELECT count(*)::INT AS n FROM bulk_dev.demo_usage_raw'), before);
  });

  test("engine errors reach a run in plain words: no SQL text, no cell values, no server paths", async () => {
    const cases: [string, RegExp][] = [
      ['SELECT nope FROM range(1)', /^the step's SQL names a column "nope" that its input does not have$/],
      ["SELECT CAST('secret-cell-42' AS INTEGER)", /^a value could not be converted: Could not convert string '…' to INT32$/],
      ['SELECT * FROM no_such.t', /^table "no_such\.t" does not exist/],
      ["SELECT * FROM read_csv('/srv/other_org/export.csv')", /^No files found/],
    ];
    for (const [sql, expected] of cases) {
      await assert.rejects(warehouse.query(sql), (error: Error & { retryable?: boolean }) => {
        assert.match(error.message, expected);
        assert.doesNotMatch(error.message, /LINE \d|SELECT|secret-cell|\/srv\/| Error: /);
        assert.equal(error.retryable, /read_csv/.test(sql), `${sql}: only the I/O error may pass on a retry`);
        return true;
      });
    }
  });

  test('a write that loses a write-write conflict is tried again and lands once', async () => {
    await warehouse.replacePartition(write({ dataset: 'conflict_dev' }));
    // Eight replaces of the same rows at once: DuckDB fails all but one at their DELETE.
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => warehouse.replacePartition(write({ dataset: 'conflict_dev', select: usage('2026-01-01..2026-01-03', i + 2) }))));
    assert.deepEqual(results.map((r) => r.status), Array(8).fill('fulfilled'));
    const [row] = await warehouse.query('SELECT count(*)::INT AS n FROM conflict_dev.demo_usage_raw');
    assert.equal(row?.n, 3);
  });
});
