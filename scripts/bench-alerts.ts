/**
 * npm run bench:alerts: every cost rule of 1,000 orgs evaluated over 90 days x 50 services of
 * FOCUS rows each (issue 13, item 4), through evaluateAlerts itself: one DuckDB dataset per org
 * (as the service keeps them), the rules and alerts in the embedded control plane (PGlite; set
 * BENCH_DATABASE_URL for PostgreSQL).
 *
 * Each org has the five rules of docs/alerts.md (a daily threshold, day over day, a monthly
 * budget with its forecast, an anomaly per service and one per sub-account), and a history
 * that trips each of them on its last day (one service spikes), so the first pass writes alerts
 * and events and measures contributors; the second pass, on the same data, must change nothing.
 * Prints the wall time of the generation and of each pass, per-org latency, events written and
 * peak RSS. BENCH_ORGS, BENCH_DAYS, BENCH_SERVICES and BENCH_CONCURRENCY override the sizes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { evaluateAlerts } from '../src/alerts/evaluate-alerts.ts';
import { checkRule } from '../src/alerts/rule-spec.ts';
import { addDays } from '../src/shared/clock.ts';
import { costAlertStore } from '../src/store/cost-alerts.ts';
import { postgresDb, type Db } from '../src/store/db.ts';
import { migrate } from '../src/store/migrate.ts';
import { openDuckDbWarehouse } from '../src/warehouse/duckdb/duckdb-warehouse.ts';
import { loadHistory, steadyRows } from '../test/alerts/focus-history.ts';
import { openPglite } from '../test/support/control-planes.ts';
import { CONFIGS } from '../test/support/test-app.ts';

const ORGS = Number(process.env.BENCH_ORGS ?? 1000);
const DAYS = Number(process.env.BENCH_DAYS ?? 90);
const SERVICES = Number(process.env.BENCH_SERVICES ?? 50);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 2);
const LAST_DAY = '2026-04-15';
const FIRST_DAY = addDays(LAST_DAY, -(DAYS - 1));
const LOADED_AT = new Date('2026-04-17T06:00:00Z');
const NOW = new Date('2026-04-17T12:00:00Z');
const DAILY = SERVICES * 105;

const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))] as number;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Peak RSS sampled while a phase runs (the process's lifetime peak is maxRSS). */
function rssSampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage().rss);
  };
}

async function controlPlane(): Promise<{ db: Db; close(): Promise<void>; name: string }> {
  const url = process.env.BENCH_DATABASE_URL;
  if (!url) {
    const cp = await openPglite();
    return { db: cp.db, close: () => cp.close(), name: 'PGlite' };
  }
  const schema = `bench_alerts_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const db = postgresDb({ connectionString: url, options: `-c search_path=${schema}` });
  await migrate(db);
  return {
    db,
    name: 'PostgreSQL',
    close: async () => {
      await db.close();
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/** Runs `fn` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

const dir = await mkdtemp(join(tmpdir(), 'bench-alerts-'));
const warehouse = await openDuckDbWarehouse({ path: join(dir, 'warehouse.duckdb'), configsDir: CONFIGS, threads: 2, memoryLimit: '2GB' });
const cp = await controlPlane();
const orgs = Array.from({ length: ORGS }, (_, i) => `bench_${String(i + 1).padStart(4, '0')}`);
console.log(`bench:alerts: ${ORGS} orgs x ${DAYS} days (${FIRST_DAY}..${LAST_DAY}) x ${SERVICES} services = ${(ORGS * DAYS * SERVICES).toLocaleString('en-US')} FOCUS rows; control plane ${cp.name}; DuckDB 2 threads`);

// The history: every service about 105 a day; on the last day one service (a different one per org) costs 7 times that.
const generation = Date.now();
const store = costAlertStore(cp.db);
await cp.db.query(`INSERT INTO organizations (org_slug, name) SELECT unnest($1::text[]), 'bench'`, [orgs]);
const rules = [
  { name: 'daily', kind: 'daily_threshold', thresholds: [DAILY * 1.05, DAILY * 2] },
  { name: 'day over day', kind: 'day_over_day', min_spend: DAILY / 2, increase_percent: 5 },
  { name: 'April budget', kind: 'monthly_budget', budget: DAILY * 24, thresholds: [50, 80, 100], forecast_thresholds: [100] },
  { name: 'service anomalies', kind: 'anomaly', group_by: 'service' },
  { name: 'sub-account anomalies', kind: 'anomaly', group_by: 'sub_account' },
].map((rule) => checkRule(rule));
await pool(orgs, CONCURRENCY, async (orgSlug) => {
  for (const rule of rules) await store.createRule(orgSlug, rule);
  const spiked = `svc-${String((orgs.indexOf(orgSlug) % SERVICES) + 1).padStart(2, '0')}`;
  await loadHistory(warehouse, {
    orgSlug,
    start: FIRST_DAY,
    end: LAST_DAY,
    ingestedAt: LOADED_AT,
    rows: `SELECT * REPLACE ('acct-' || CAST(hash(service) % 10 AS VARCHAR) AS sub_account, CASE WHEN service = '${spiked}' AND day = DATE '${LAST_DAY}' THEN cost * 7 ELSE cost END AS cost)
             FROM (${steadyRows(FIRST_DAY, LAST_DAY, { services: SERVICES })}) AS s`,
  });
});
const generated = (Date.now() - generation) / 1000;
console.log(`  generated in ${generated.toFixed(1)} s (${ORGS * rules.length} rules), RSS ${mb(process.memoryUsage().rss)}`);

async function pass(label: string): Promise<{ events: number }> {
  const latencies: number[] = [];
  let events = 0;
  let fired = 0;
  const peak = rssSampler();
  const started = Date.now();
  await pool(orgs, CONCURRENCY, async (orgSlug) => {
    const t0 = performance.now();
    const result = await evaluateAlerts({ warehouse, db: cp.db, orgSlug, env: 'dev', now: NOW });
    latencies.push(performance.now() - t0);
    events += result.events;
    fired += result.fired.length;
  });
  const wall = (Date.now() - started) / 1000;
  console.log(
    `  ${label}: ${wall.toFixed(1)} s wall for ${ORGS} orgs (${(ORGS / wall).toFixed(0)} orgs/s, concurrency ${CONCURRENCY}); per org p50 ${pct(latencies, 50).toFixed(0)} ms, p99 ${pct(latencies, 99).toFixed(0)} ms; ` +
      `${fired} alerts fired, ${events} outbox events; peak RSS in the pass ${mb(peak())}`,
  );
  return { events };
}

const first = await pass('first evaluation');
const second = await pass('second evaluation (same data)');
const [outbox] = await cp.db.query<{ n: number }>("SELECT count(*)::int AS n FROM notification_events WHERE kind = 'cost_alert'");
console.log(`  outbox: ${outbox?.n} cost_alert events; peak RSS of the process ${mb(process.resourceUsage().maxRSS * 1024)}`);
const problems = [
  ...(first.events < ORGS * 5 ? [`the first pass wrote ${first.events} events, expected at least ${ORGS * 5} (every rule kind trips on the spike)`] : []),
  ...(second.events !== 0 ? [`the second pass wrote ${second.events} events on unchanged data`] : []),
];
await warehouse.close();
await cp.close();
await rm(dir, { recursive: true, force: true });
if (problems.length > 0) {
  console.error(`bench:alerts: ${problems.join('; ')}`);
  process.exitCode = 1;
}
