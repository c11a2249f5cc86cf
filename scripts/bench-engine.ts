/**
 * npm run bench: the engine's overhead, on PGlite and (when BENCH_DATABASE_URL or
 * TEST_DATABASE_URL is set) PostgreSQL.
 *  - enqueue -> completed latency of a 3-step no-op pipeline, one run at a time (200 runs)
 *  - accepted POST /run per second, 50 connections for 10 s, over a real socket
 */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServer } from '../src/api/server.ts';
import type { ControlPlane } from '../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../test/support/control-planes.ts';
import { testApp, waitForRunEnd } from '../test/support/test-app.ts';
import { testProcessors } from '../test/support/test-processors.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const CONNECTIONS = 50;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const LIMITS = { plan: 'BENCH', status: 'ACTIVE' as const, daily_limit: 10_000_000, monthly_limit: 10_000_000, concurrent_limit: 1_000_000 };

async function configs(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-configs-'));
  await mkdir(join(dir, 'bench', 'noop'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { BENCH: LIMITS } }));
  await writeFile(
    join(dir, 'bench', 'noop', 'three_steps.yml'),
    `pipeline_id: bench_noop\nname: No-op\ndescription: three steps doing nothing\nprovider: bench\ndomain: noop\nversion: "1"\nsteps:\n  - { step_id: a, ps_type: test.work, config: { ms: 0 } }\n  - { step_id: b, ps_type: test.work, depends_on: [a], config: { ms: 0 } }\n  - { step_id: c, ps_type: test.work, depends_on: [b], config: { ms: 0 } }\n`,
  );
  return dir;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function bench(name: string, controlPlane: ControlPlane, configsDir: string): Promise<void> {
  const app = await testApp(controlPlane, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsDir, WORKER_CONCURRENCY: '8' } });
  await app.orgs.create('bench', 'bench', LIMITS);
  app.worker?.start();
  const latencies: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const { run_id } = await app.requests.request({ orgSlug: 'bench', route: 'bench/noop/three_steps', body: {}, trigger: 'api', createdBy: 'bench' });
    const run = await waitForRunEnd(app, 'bench', run_id);
    if (run.status !== 'completed') throw new Error(`bench run ${run.status}: ${run.error_message}`);
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);

  const key = (await app.orgs.createKey('bench')).api_key;
  const server = await buildServer(app);
  await server.listen({ host: '127.0.0.1', port: 0 });
  const { port } = server.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/api/v1/pipelines/run/bench/bench/noop/three_steps`;
  let accepted = 0;
  let refused = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < until) {
        const response = await fetch(url, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: '{}' });
        await response.arrayBuffer();
        if (response.status === 202) accepted++;
        else refused++;
      }
    }),
  );
  await server.close();
  console.log(
    `${name.padEnd(9)} enqueue->completed (3 no-op steps, ${RUNS} runs): median ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms | ` +
      `POST /run: ${(accepted / SECONDS).toFixed(0)} accepted/s over ${CONNECTIONS} connections for ${SECONDS} s (${refused} not accepted)`,
  );
  await app.close();
}

const dir = await configs();
if (!process.env.TEST_DATABASE_URL && process.env.BENCH_DATABASE_URL) process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL;
for (const factory of controlPlaneFactories()) {
  const controlPlane = await factory.open();
  try {
    await bench(factory.name, controlPlane, dir);
  } finally {
    await controlPlane.close();
  }
}
if (!process.env.TEST_DATABASE_URL) console.log('(set BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test for the PostgreSQL figures)');
