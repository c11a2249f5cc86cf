/**
 * The scratch path of remote sources, measured: peak RSS and time of the AWS pipeline's load step
 * (cloud.billing_export) reading a CUR 2.0 export of N rows from s3:// into the step's DuckDB,
 * at several sizes, to show the memory stays flat in the file size. Run by `npm run
 * bench:bigquery sources` (its section), or alone: node scripts/bench-remote-sources.ts
 * [rows,rows...=1000000,10000000] [--dir DIR].
 *
 * 1. Writes the export with DuckDB (bench-cloud.ts's CUR 2.0 generator over range(), no
 *    JavaScript row loop), then splits it into Parquet parts of at most 64 MiB, as Data Exports
 *    writes them; reused when DIR already holds them.
 * 2. Serves the parts from the local S3 server (test/support/s3-server.ts: SigV4 checked, objects
 *    streamed from disk) in a child process of its own, so its memory is not counted.
 * 3. For each size, in a fresh child process: the org's access keys sealed in a real control plane,
 *    the load step run through the engine's context with a file-backed DuckDB warehouse: list,
 *    download to the run's scratch folder, stage the views, read every row once (the step's
 *    count). Prints the process's peak RSS (getrusage), the bytes downloaded and the times.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const CONFIGS = join(ROOT, 'configs');
const KEY = { access_key_id: 'AKIABENCH00000000001', secret_access_key: 'bench-secret-access-key' };
const BUCKET = 'bench-cur';
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

export interface Options {
  sizes: number[];
  dir: string;
}

function options(argv: string[]): Options & { phase?: string; rows?: number; endpoint?: string } {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const positional = argv.find((arg, i) => !arg.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  return {
    sizes: (positional ?? '1000000,10000000').split(',').map(Number),
    dir: get('--dir') ?? join(tmpdir(), 'bench-remote-sources'),
    phase: get('--phase'),
    rows: get('--rows') ? Number(get('--rows')) : undefined,
    endpoint: get('--endpoint'),
  };
}

/** The export of `rows` rows as Parquet parts in DIR/cur-{rows}/; their names, sorted. */
async function generate(dir: string, rows: number): Promise<string[]> {
  const parts = join(dir, `cur-${rows}`);
  if (existsSync(join(parts, 'done'))) return readdirSync(parts).filter((name) => name.endsWith('.parquet')).sort();
  rmSync(parts, { recursive: true, force: true });
  mkdirSync(parts, { recursive: true });
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const { curSql } = await import('./bench-cloud.ts');
  const instance = await DuckDBInstance.create(':memory:', { threads: '2', memory_limit: '1GB' });
  const connection = await instance.connect();
  const whole = join(parts, 'whole.tmp');
  const t = performance.now();
  await connection.run("SET TimeZone = 'UTC'");
  await connection.run(curSql(rows, whole));
  await connection.run(`COPY (SELECT * FROM read_parquet('${whole}')) TO '${join(parts, 'data')}' (FORMAT parquet, ROW_GROUP_SIZE 122880, FILE_SIZE_BYTES '64MiB', FILENAME_PATTERN 'bench-{i}')`);
  connection.closeSync();
  instance.closeSync();
  rmSync(whole);
  for (const name of readdirSync(join(parts, 'data'))) execFileSync('mv', [join(parts, 'data', name), join(parts, name)]);
  rmSync(join(parts, 'data'), { recursive: true });
  execFileSync('touch', [join(parts, 'done')]);
  console.log(`generated ${rows.toLocaleString('en')} CUR 2.0 rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return readdirSync(parts).filter((name) => name.endsWith('.parquet')).sort();
}

/** Child: the S3 server, serving every size's parts from disk; prints its endpoint, runs until killed. */
async function serverPhase(opts: Options): Promise<void> {
  const { startS3Server } = await import('../test/support/s3-server.ts');
  const s3 = await startS3Server();
  s3.grant(KEY.access_key_id, KEY.secret_access_key, [BUCKET]);
  for (const rows of opts.sizes) {
    const parts = join(opts.dir, `cur-${rows}`);
    for (const name of readdirSync(parts).filter((n) => n.endsWith('.parquet'))) {
      await s3.putFile(BUCKET, `cur2/bench-${rows}/data/BILLING_PERIOD=2026-05/${name}`, join(parts, name));
    }
  }
  console.log(s3.endpoint);
}

/** Child: the load step of the AWS pipeline on s3://, in a process of its own (its peak RSS is the figure). */
async function loadPhase(opts: Options, rows: number, endpoint: string): Promise<Record<string, unknown>> {
  const { readFileSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const { loadSettings } = await import('../src/config/settings.ts');
  const { createApp } = await import('../src/main/app.ts');
  const { silentLogger } = await import('../src/shared/logger.ts');
  const { openDuckDbWarehouse } = await import('../src/warehouse/duckdb/duckdb-warehouse.ts');
  const { resolveTemplates, runVariables } = await import('../src/pipelines/templates.ts');
  const { billingExport } = await import('../src/processors/cloud/billing-export.ts');
  const { runScratch } = await import('../src/sources/scratch.ts');
  const { procedureFileTexts } = await import('../src/procedures/procedure-texts.ts');
  const dataDir = join(opts.dir, `load-data-${rows}`);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const settings = loadSettings({ PIPELINE_DATA_DIR: dataDir, PIPELINE_CONFIGS_DIR: CONFIGS, AWS_ENDPOINT_URL_S3: endpoint, WORKER_CONCURRENCY: '0' });
  const warehouse = await openDuckDbWarehouse({ path: join(dataDir, 'warehouse.duckdb'), configsDir: CONFIGS, threads: 2, memoryLimit: '1GB' });
  const app = await createApp(settings, { logger: silentLogger(), execute: false, warehouse });
  await app.orgs.create('bench', 'bench', { plan: 'T', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 1 });
  await app.credentials.set('bench', { provider: 'aws', secret: JSON.stringify(KEY) });
  const [startDate, endDate, runId] = ['2026-05-01', '2026-05-31', `bench-${rows}`];
  const uri = `s3://${BUCKET}/cur2/bench-${rows}/data/**/*.parquet`;
  const variables = runVariables({
    orgSlug: 'bench', env: 'dev', projectId: 'local', runId, pipelineId: 'aws_cost_billing', credentialId: 'default',
    startDate, endDate, requestedOn: endDate, parameters: { source_uri: uri, format: 'auto' },
  });
  const pipeline = parse(readFileSync(join(CONFIGS, 'cloud', 'aws', 'cost', 'billing.yml'), 'utf8')) as { steps: { step_id: string; config: Record<string, unknown> }[] };
  const config = resolveTemplates(pipeline.steps.find((s) => s.step_id === 'load_export')?.config ?? {}, variables);
  const scratch = runScratch({ dataDir, orgSlug: 'bench', runId, claim: 1, maxBytes: settings.sourceScratchMaxBytes });
  const context = {
    orgSlug: 'bench', dataset: 'bench_dev', runId, pipelineId: 'aws_cost_billing', stepId: 'load_export', credentialId: 'default', startDate, endDate, variables,
    lineage: { orgSlug: 'bench', pipelineId: 'aws_cost_billing', credentialId: 'default', runId, ingestedAt: new Date() },
    warehouse, configsDir: CONFIGS, procedures: procedureFileTexts(CONFIGS), sourceRoot: settings.sourceRoot, scratch, providerBaseUrls: settings.providerBaseUrls,
    logger: silentLogger(), signal: new AbortController().signal, credentials: app.credentials.accessFor('bench', 'default'), recordQuality: () => undefined,
  };
  // The process before the step (control plane, warehouse, clients loaded) against its peak while
  // the step runs, sampled every 20 ms: what the step itself adds.
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  const result = await billingExport.run(config as Parameters<typeof billingExport.run>[0], context);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const scratchBytes = readdirSync(scratch.root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((sum, e) => sum + statSync(join(e.parentPath, e.name)).size, 0);
  await scratch.remove();
  await app.close();
  await warehouse.close();
  return { rows: result.details?.rows, files: (result.details?.files as string[]).length, seconds, scratch_bytes: scratchBytes, rss_before: before, rss_step_peak: peak, peak_rss: process.resourceUsage().maxRSS * 1024 };
}

/** Every size measured; the result lines, for bench-bigquery.ts's section. */
export async function benchRemoteSources(opts: Options = options([])): Promise<string[]> {
  for (const rows of opts.sizes) await generate(opts.dir, rows);
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), opts.sizes.join(','), '--phase', 'server', '--dir', opts.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      createInterface({ input: server.stdout! }).once('line', resolve);
      server.once('exit', (code) => reject(new Error(`the S3 server exited (${code})`)));
    });
    const lines: string[] = [];
    for (const rows of opts.sizes) {
      const args = [fileURLToPath(import.meta.url), String(rows), '--phase', 'load', '--rows', String(rows), '--endpoint', endpoint, '--dir', opts.dir];
      const output = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
      const r = JSON.parse(output.trim().split('\n').at(-1) as string) as { rows: number; files: number; seconds: number; scratch_bytes: number; rss_before: number; rss_step_peak: number; peak_rss: number };
      lines.push(
        `s3:// load step, ${Number(r.rows).toLocaleString('en')} CUR 2.0 rows in ${r.files} Parquet objects (${mib(r.scratch_bytes)} downloaded to scratch): ` +
          `${r.seconds.toFixed(1)} s (${mib(r.scratch_bytes / r.seconds)}/s); RSS ${mib(r.rss_before)} before the step, peak ${mib(r.rss_step_peak)} during it ` +
          `(+${mib(r.rss_step_peak - r.rss_before)}); process high-water ${mib(r.peak_rss)}`,
      );
      console.log(lines.at(-1));
    }
    return lines;
  } finally {
    server.kill();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opts = options(process.argv.slice(2));
  if (opts.phase === 'server') await serverPhase(opts);
  else if (opts.phase === 'load') console.log(JSON.stringify(await loadPhase(opts, opts.rows!, opts.endpoint!)));
  else await benchRemoteSources(opts);
}
