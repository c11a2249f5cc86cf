/**
 * Benchmark of the GenAI pipeline end to end: N OpenAI usage results, served in pages by a local
 * server speaking OpenAI's wire format (a separate process, so its memory is not counted), through
 * genai/payg/openai into FOCUS rows, on the real engine (PGlite control plane, a DuckDB file
 * warehouse). DuckDB's buffer pool is capped at 256 MB (BENCH_DUCKDB_MEMORY to change it): the
 * staged rows of a step are DuckDB's to hold and it spills them to disk past its limit, so what
 * is left to grow with the row count is our own (JavaScript) side, which must not.
 *
 * Run: npx node scripts/bench-genai.ts [rows=1000000] [more row counts...]
 *      (each count runs in a fresh process, so its peak RSS is its own)
 *
 * The usage is 30 days of completions (N/30 results per daily bucket, 5,000 results a page,
 * 8 models, 50 projects, a key per result, a fifth of them batch), with OpenAI's costs for the
 * first 15 days. Prints rows per second and peak RSS; the RSS must not grow with the row count.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuckDbWarehouse } from '../src/warehouse/duckdb/duckdb-warehouse.ts';
import { genaiApp } from '../test/genai/support/genai-app.ts';
import { openaiRoutes } from '../test/genai/support/provider-apis.ts';
import { replayServer } from '../test/genai/support/replay-server.ts';
import { CONFIGS } from '../test/support/test-app.ts';

const ADMIN_KEY = 'sk-admin-bench-0123456789';
const DAYS = 30;
const MODELS = ['gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'gpt-4.1-2025-04-14', 'gpt-4.1-mini-2025-04-14', 'o3-2025-04-16', 'o4-mini-2025-04-16', 'gpt-5-2025-08-07', 'gpt-5-mini-2025-08-07'];
const START = '2026-05-01';
const END = '2026-05-30';

async function serve(rows: number): Promise<void> {
  const perDay = Math.ceil(rows / DAYS);
  const dayIndex = (day: string) => Math.round((Date.parse(day) - Date.parse(START)) / 86_400_000);
  let cached: { day: string; results: object[] } | undefined;
  const usage = (endpoint: string, day: string) => {
    if (endpoint !== 'completions') return [];
    if (cached?.day === day) return cached.results;
    const base = dayIndex(day) * perDay;
    const count = Math.max(0, Math.min(perDay, rows - base));
    const results = Array.from({ length: count }, (_, j) => {
      const i = base + j;
      return {
        input_tokens: 1000 + (i % 997), output_tokens: 200 + (i % 101), input_cached_tokens: i % 3 === 0 ? 100 : 0, input_audio_tokens: 0, output_audio_tokens: 0,
        num_model_requests: 1 + (i % 5), project_id: `proj_${i % 50}`, user_id: null, api_key_id: `key_${i}`, model: MODELS[i % MODELS.length], batch: i % 5 === 0,
      };
    });
    cached = { day, results };
    return results;
  };
  const costs = (day: string) =>
    dayIndex(day) >= 15
      ? []
      : MODELS.flatMap((model, m) => Array.from({ length: 50 }, (_, p) => [
          { amount: { value: (1 + ((m + p) % 7) / 10).toFixed(2), currency: 'usd' }, line_item: `${model}, input`, project_id: `proj_${p}`, api_key_id: null, quantity: null, quantity_unit: null },
          { amount: { value: 0.5 + ((m * p) % 5) / 10, currency: 'usd' }, line_item: `${model}, output`, project_id: `proj_${p}`, api_key_id: null, quantity: null, quantity_unit: null },
        ]).flat());
  const server = await replayServer(openaiRoutes({ adminKey: ADMIN_KEY, usage, costs, pageResults: 5000 }));
  process.stdout.write(`${server.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void server.close().then(() => process.exit(0)));
}

async function measure(rows: number, url: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-genai-'));
  const warehouse = await openDuckDbWarehouse({ path: join(dir, 'warehouse.duckdb'), configsDir: CONFIGS, threads: 2, memoryLimit: process.env.BENCH_DUCKDB_MEMORY ?? '256MB' });
  const genai = await genaiApp({ org: 'bench', warehouse });
  await genai.app.credentials.set(genai.org, { provider: 'openai', secret: ADMIN_KEY, metadata: { base_url: `${url}/v1`, requests_per_second: 1000 } });
  const baseline = process.memoryUsage.rss();
  let sampledPeak = 0;
  let heapPeak = 0;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    sampledPeak = Math.max(sampledPeak, usage.rss);
    heapPeak = Math.max(heapPeak, usage.heapUsed + usage.external);
  }, 100);
  const started = performance.now();
  const { run, runId } = await genai.run('genai/payg/openai', { start_date: START, end_date: END }, 1_800_000);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (run.status !== 'completed') throw new Error(`run ${run.status}: ${run.error_message}`);
  const steps = await genai.app.runs.steps(genai.org, runId);
  const [counts] = await genai.query<{ raw: number; daily: number; focus: number }>(
    `SELECT (SELECT count(*) FROM bench_dev.genai_openai_usage_raw)::INT AS raw, (SELECT count(*) FROM bench_dev.genai_payg_usage_daily)::INT AS daily, (SELECT count(*) FROM bench_dev.cost_data_standard_1_3)::INT AS focus`,
  );
  const failed = (await genai.app.runs.quality(genai.org, runId)).filter((q) => q.status === 'fail').length;
  process.stdout.write(
    `${JSON.stringify({
      rows,
      raw_rows: counts?.raw,
      daily_rows: counts?.daily,
      focus_rows: counts?.focus,
      failed_checks: failed,
      seconds: Number(seconds.toFixed(1)),
      rows_per_second: Math.round(rows / seconds),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      sampled_peak_rss_mb: Math.round(sampledPeak / 1024 / 1024),
      baseline_rss_mb: Math.round(baseline / 1024 / 1024),
      js_heap_peak_mb: Math.round(heapPeak / 1024 / 1024),
      steps: Object.fromEntries(steps.map((step) => [step.step_id, step.duration_ms])),
    })}\n`,
  );
  await genai.close();
  await warehouse.close();
}

function child(args: string[], onLine?: (line: string) => void): { done: Promise<string>; stop: () => void } {
  const process_ = spawn(process.execPath, [import.meta.filename, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const done = new Promise<string>((resolve, reject) => {
    process_.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (onLine && out.includes('\n')) onLine(out.split('\n')[0] ?? '');
    });
    process_.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args[0]} exited with ${code}`))));
  });
  return { done, stop: () => process_.stdin.end() };
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === '--serve') return serve(Number(rest[0]));
  if (mode === '--measure') return measure(Number(rest[0]), String(rest[1]));
  const sizes = (mode ? [mode, ...rest] : ['100000', '300000', '1000000']).map(Number);
  const results: Record<string, unknown>[] = [];
  for (const rows of sizes) {
    const url = await new Promise<string>((resolve) => {
      const server = child(['--serve', String(rows)], (line) => resolve(line));
      results.push({ stop: server.stop });
    });
    const stop = (results.pop() as { stop: () => void }).stop;
    const output = await child(['--measure', String(rows), url]).done;
    stop();
    const result = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    results.push(result);
    console.log(JSON.stringify(result));
  }
  console.log('\nrows       seconds  rows/s    peak RSS MB  FOCUS rows');
  for (const r of results) console.log(`${String(r.rows).padEnd(10)} ${String(r.seconds).padEnd(8)} ${String(r.rows_per_second).padEnd(9)} ${String(r.peak_rss_mb).padEnd(12)} ${r.focus_rows}`);
}

await main();
