/**
 * npm run bench:bigquery: the BigQuery path measured against the local BigQuery server
 * (test/support/bigquery-server.ts), section by section (`node scripts/bench-bigquery.ts load
 * replace` runs those; all by default). Each section prints what it measured; figures that
 * depend on the server's DuckDB evaluation (wall time, bytes processed) describe the local
 * server, not BigQuery, and are labelled so. What is the client's own is exact: the requests it
 * sends and the bytes it puts on the wire.
 *
 * - load: BENCH_ROWS (1,000,000) rows from TypeScript, in batches of 5,000, through
 *   replacePartitionFromBatches: the scratch DuckDB, one Parquet file, one load job, the commit.
 * - replace: the same rows copied by replacePartition (a select over the warehouse's table):
 *   the rows stay in BigQuery, so the requests are a handful and the bytes on the wire tiny.
 * - sources: the scratch path of remote sources (scripts/bench-remote-sources.ts): peak RSS of
 *   the AWS load step reading a CUR 2.0 export from the local S3 server, at BENCH_SOURCE_ROWS
 *   sizes (1,000,000 and 10,000,000), each in a process of its own; it must stay flat.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBigQueryWarehouse } from '../src/warehouse/bigquery/bigquery-warehouse.ts';
import type { Warehouse, WarehouseUsage } from '../src/warehouse/warehouse.ts';
import { startBigQueryServer, type BigQueryTestServer, type RecordedRequest } from '../test/support/bigquery-server.ts';
import { CONFIGS } from '../test/support/test-app.ts';
import { benchRemoteSources } from './bench-remote-sources.ts';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const BATCH = 5000;
const DAYS = 30;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

/** Peak RSS sampled while a section runs. */
function rssSampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage().rss);
  };
}

interface Context {
  server: BigQueryTestServer;
  warehouse: Warehouse;
}

const lineage = (pipelineId: string, runId: string) => ({ orgSlug: 'bench', pipelineId, credentialId: 'default', runId, ingestedAt: new Date('2026-02-01T10:00:00Z') });
const runDates = { start: '2026-01-01', end: `2026-01-${String(DAYS).padStart(2, '0')}` };

/** Rows with the variety of real usage (a pseudo-random quantity and price per row), so the Parquet file's size is not flattered by repetition. */
async function* usageBatches(): AsyncGenerator<Record<string, unknown>[]> {
  let seed = 42;
  // xorshift32: exact in 32-bit integers.
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let offset = 0; offset < ROWS; offset += BATCH) {
    const batch: Record<string, unknown>[] = [];
    for (let i = offset; i < Math.min(offset + BATCH, ROWS); i++) {
      batch.push({ usage_date: `2026-01-${String(1 + (i % DAYS)).padStart(2, '0')}`, team: `team_${next() % 200}`, service: `service_${next() % 1000}`, usage_quantity: (next() / 1000).toFixed(3), unit_price: (next() / 1e12).toFixed(9) });
    }
    yield batch;
  }
}

/** The requests of a section, grouped by what they are, with their bytes each way. */
function wire(requests: readonly RecordedRequest[]) {
  const kind = (r: RecordedRequest) =>
    r.path.startsWith('/upload/') ? 'upload (jobs.insert + file)' : /\/jobs$/.test(r.path) ? 'jobs.insert' : /\/jobs\//.test(r.path) ? 'jobs.get' : /\/queries\//.test(r.path) ? 'jobs.getQueryResults' : /\/tables/.test(r.path) ? `tables.${r.method === 'POST' ? 'insert' : r.method === 'DELETE' ? 'delete' : 'get'}` : 'datasets';
  const groups = new Map<string, { requests: number; sent: number; received: number }>();
  for (const r of requests) {
    const group = groups.get(kind(r)) ?? { requests: 0, sent: 0, received: 0 };
    group.requests++;
    group.sent += r.bytes;
    group.received += r.responseBytes;
    groups.set(kind(r), group);
  }
  return groups;
}

function report(name: string, started: number, requests: readonly RecordedRequest[], usage: WarehouseUsage | undefined, peak: number) {
  const seconds = (performance.now() - started) / 1000;
  const groups = wire(requests);
  const total = [...groups.values()].reduce((sum, g) => ({ requests: sum.requests + g.requests, sent: sum.sent + g.sent, received: sum.received + g.received }), { requests: 0, sent: 0, received: 0 });
  console.log(`\n## ${name}: ${ROWS.toLocaleString('en')} rows`);
  console.log(`requests: ${total.requests}, sent ${mib(total.sent)} (${(total.sent / ROWS).toFixed(1)} B a row), received ${mib(total.received)}`);
  for (const [kind, g] of [...groups.entries()].sort()) console.log(`  ${kind.padEnd(28)} ${String(g.requests).padStart(4)} requests, sent ${mib(g.sent).padStart(11)}, received ${mib(g.received).padStart(10)}`);
  if (usage) console.log(`jobs: ${usage.jobs}; bytes loaded ${mib(usage.bytesLoaded)}; bytes processed ${mib(usage.bytesProcessed)}, billed ${mib(usage.bytesBilled)} (the local server's estimate by BigQuery's size rules, all columns of each table named)`);
  const upload = requests.find((r) => r.path.startsWith('/upload/'));
  if (upload) console.log(`the client's own part, staging the rows in the scratch DuckDB and writing the Parquet file: ${((upload.at - started) / 1000).toFixed(1)} s`);
  console.log(`wall ${seconds.toFixed(1)} s and peak RSS ${mib(peak)}, of the client and the local server together (one process; the server evaluates in DuckDB)`);
}

const SECTIONS: Record<string, (context: Context) => Promise<void>> = {
  async load({ server, warehouse }) {
    server.requests.length = 0;
    const peak = rssSampler();
    const started = performance.now();
    const result = await warehouse.replacePartitionFromBatches({
      dataset: 'bench_dev',
      table: 'demo_usage_raw',
      schema: 'demo/demo_usage_raw',
      lineage: lineage('bench_load', 'run-load'),
      runDates,
      runDateColumn: 'usage_date',
      columns: ['usage_date', 'team', 'service', 'usage_quantity', 'unit_price'],
      batches: usageBatches(),
    });
    if (result.rows !== ROWS) throw new Error(`loaded ${result.rows} rows, expected ${ROWS}`);
    report('load (rows from TypeScript: scratch DuckDB -> Parquet -> load job -> transaction)', started, server.requests, result.usage, peak());
  },

  async replace({ server, warehouse }) {
    server.requests.length = 0;
    const peak = rssSampler();
    const started = performance.now();
    const result = await warehouse.replacePartition({
      dataset: 'bench_dev',
      table: 'demo_usage_raw',
      schema: 'demo/demo_usage_raw',
      lineage: lineage('bench_copy', 'run-copy'),
      runDates,
      runDateColumn: 'usage_date',
      select: { sql: 'SELECT usage_date, team, service, usage_quantity, unit_price FROM `bench_dev.demo_usage_raw` WHERE x_pipeline_id = @source', params: { source: 'bench_load' } },
    });
    if (result.rows !== ROWS) throw new Error(`copied ${result.rows} rows, expected ${ROWS} (run the load section first)`);
    report('replace (a select over the warehouse: the rows never leave BigQuery)', started, server.requests, result.usage, peak());
  },

  async sources() {
    await benchRemoteSources({ sizes: (process.env.BENCH_SOURCE_ROWS ?? '1000000,10000000').split(',').map(Number), dir: join(tmpdir(), 'bench-remote-sources') });
  },
};

const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(SECTIONS);
const unknown = chosen.filter((name) => !(name in SECTIONS));
if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')}; the sections are ${Object.keys(SECTIONS).join(', ')}`);

const server = await startBigQueryServer();
const scratchRoot = await mkdtemp(join(tmpdir(), 'bench-bigquery-'));
const warehouse = await openBigQueryWarehouse({ projectId: server.projectId, location: 'US', configsDir: CONFIGS, apiEndpoint: server.url, scratchRoot });
try {
  for (const name of chosen) await (SECTIONS[name] as (context: Context) => Promise<void>)({ server, warehouse });
} finally {
  await warehouse.close();
  await server.close();
  await rm(scratchRoot, { recursive: true, force: true });
}
