import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { apiProcessors } from '../../src/processors/genai/api-processors.ts';
import { procedureExecutor } from '../../src/processors/generic/procedure-executor.ts';
import { localBqTransformer } from '../../src/processors/generic/local-bq-transformer.ts';
import { processorRegistry } from '../../src/processors/registry.ts';
import type { Processor } from '../../src/processors/types.ts';
import { systemClock, type Clock } from '../../src/shared/clock.ts';
import { genaiApp, type GenaiApp } from './support/genai-app.ts';
import { deepseekRoutes } from './support/provider-apis.ts';
import { replayServer, type ReplayServer } from './support/replay-server.ts';

const KEY = 'sk-DEEPSEEK-SNAPSHOT-KEY-0123456789';

describe('DeepSeek balance snapshots accumulate, one per snapshot time', () => {
  let server: ReplayServer;
  let genai: GenaiApp;
  /** The balance the server answers now, changed between runs as the account is used. */
  const balance = { is_available: true, balance_infos: [] as object[] };
  const setBalance = (cny: string, usd: string) => {
    balance.balance_infos = [
      { currency: 'CNY', total_balance: cny, granted_balance: '0.00', topped_up_balance: cny },
      { currency: 'USD', total_balance: usd, granted_balance: '1.00', topped_up_balance: usd },
    ];
  };
  // The time the processor reads the balance at; the rest of the app runs on the real clock.
  let now = new Date();
  const readingClock: Clock = { now: () => new Date(now), sleep: (ms, signal) => systemClock.sleep(ms, signal) };

  before(async () => {
    server = await replayServer(deepseekRoutes({ apiKey: KEY, balance }));
    const processors = processorRegistry([localBqTransformer, procedureExecutor, ...apiProcessors({ clock: readingClock })] as Processor[]);
    genai = await genaiApp({ org: 'snap_org', processors });
    await genai.app.credentials.set(genai.org, { provider: 'deepseek', secret: KEY, metadata: { base_url: server.url, requests_per_second: 100 } });
  });
  after(async () => {
    await genai?.close();
    await server?.close();
  });

  const snapshot = async (at: string, body: Record<string, unknown>) => {
    now = new Date(at);
    const { run, runId } = await genai.run('genai/payg/deepseek', body);
    assert.equal(run.status, 'completed', run.error_message ?? '');
    return runId;
  };
  const rows = () =>
    genai.query(`SELECT CAST(snapshot_date AS VARCHAR) AS day, strftime(snapshot_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M') AS at, currency, CAST(total_balance AS VARCHAR) AS total,
                        CAST(x_pipeline_run_date AS VARCHAR) AS run_date
                   FROM snap_org_dev.genai_deepseek_balance_raw ORDER BY snapshot_at, currency`);

  test('runs at different times over overlapping ranges keep every snapshot; a re-run at the same time replaces its own', async () => {
    setBalance('50.00', '5.00');
    await snapshot('2026-03-01T09:00:00Z', { date: '2026-03-01' });
    setBalance('110.00', '20.00');
    await snapshot('2026-03-02T08:00:00Z', { start_date: '2026-03-01', end_date: '2026-03-03' });
    setBalance('90.00', '18.50');
    await snapshot('2026-03-02T20:00:00Z', { date: '2026-03-02' });
    const row = (day: string, at: string, currency: string, total: string) => ({ day, at, currency, total, run_date: day });
    const expected = [
      row('2026-03-01', '2026-03-01T09:00', 'CNY', '50.000000000'),
      row('2026-03-01', '2026-03-01T09:00', 'USD', '5.000000000'),
      row('2026-03-02', '2026-03-02T08:00', 'CNY', '110.000000000'),
      row('2026-03-02', '2026-03-02T08:00', 'USD', '20.000000000'),
      row('2026-03-02', '2026-03-02T20:00', 'CNY', '90.000000000'),
      row('2026-03-02', '2026-03-02T20:00', 'USD', '18.500000000'),
    ];
    assert.deepEqual(await rows(), expected, 'the 3-day run left the snapshot of 03-01; the 03-02 run left the morning one');

    // The same snapshot time again (a retried step, a re-run), now over the whole range: no duplicate.
    setBalance('89.00', '18.50');
    await snapshot('2026-03-02T20:00:00Z', { start_date: '2026-03-01', end_date: '2026-03-02' });
    assert.deepEqual(await rows(), [...expected.slice(0, 4), row('2026-03-02', '2026-03-02T20:00', 'CNY', '89.000000000'), expected[5]]);
  });

  test('a backfill of past days files today’s reading under the range’s last day, keeping the snapshots already there', async () => {
    const before = (await rows()).length;
    setBalance('70.00', '10.00');
    await snapshot('2026-03-20T07:00:00Z', { start_date: '2026-03-01', end_date: '2026-03-02' });
    const after = await rows();
    assert.equal(after.length, before + 2);
    assert.deepEqual(after.filter((r) => r.at === '2026-03-20T07:00').map((r) => r.day), ['2026-03-02', '2026-03-02']);
  });
});
