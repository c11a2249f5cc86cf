/**
 * npm run bench:api (also printed by `npm run bench`): what the API's guards cost on its
 * hottest read, GET /api/v1/pipelines/status/{org}/{run_id} of a completed demo run, with 50
 * connections (autocannon, in a process of its own) for BENCH_SECONDS (10) after a 2-second
 * warm-up, the modes interleaved over BENCH_ROUNDS (3) rounds, the median of each printed.
 * Besides req/s and p99, the server process's CPU time per request (user + system over the
 * measured seconds, divided by the requests answered): on a shared machine req/s and latency
 * move with everyone else's load (printed too), the CPU a request costs much less. The same control plane (PGlite, or BENCH_DATABASE_URL's PostgreSQL) and the
 * same run in every mode:
 *  - off: the route's own handler (the run read and its response schema) on a bare Fastify:
 *    no auth, no rate limits, no security headers, no audit or other hooks;
 *  - server, limits off: the service's server (buildServer) with RATE_LIMIT_ENABLED=false: the
 *    org key's auth, helmet, the request id, every hook the server registers (audit, ...);
 *  - on: the service's server with its rate limits too, counted in memory;
 *  - on, Redis: the same with the counters in Redis (REDIS_URL, or 127.0.0.1:6379; skipped,
 *    saying so, when no Redis answers).
 * The limits are set far above what the run can send, so nothing is refused: every response
 * must be a 200 or the mode fails. Logging is off in every mode (the same for all of them).
 */
import { randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { redisAnswers } from '../test/support/redis.ts';
import { fileURLToPath } from 'node:url';
import { present, runOrThrow } from '../src/api/routes/pipelines.ts';
import { Run } from '../src/api/schemas.ts';
import { buildServer } from '../src/api/server.ts';
import type { App } from '../src/main/app.ts';
import type { ControlPlane } from '../src/store/open-control-plane.ts';
import { openPglite, openPostgres } from '../test/support/control-planes.ts';
import { ROOT_KEY, testApp, waitForRunEnd } from '../test/support/test-app.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 50;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Out of reach of any run of this benchmark: a refusal would fail it. */
const UNREACHABLE_LIMITS = { RATE_LIMIT_REQUESTS_PER_MINUTE: '100000000', RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE: '100000000' };

/** The part of autocannon's result (it ships no types) read here. */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
interface LoadOptions {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
  /** Seconds before a request counts as an error: generous, as a shared machine stalls now and then. */
  timeout: number;
}
const LOAD = fileURLToPath(new URL('autocannon-load.ts', import.meta.url));

/** The load, from a process of its own (autocannon-load.ts), so the server's CPU time is its own. */
function load(options: LoadOptions): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const child = fork(LOAD, [JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(output) as AutocannonResult) : reject(new Error(`the load process exited with ${code}`))));
  });
}

async function controlPlane(): Promise<ControlPlane & { name: string }> {
  const url = process.env.BENCH_DATABASE_URL;
  return url ? { ...(await openPostgres(url)), name: 'PostgreSQL' } : { ...(await openPglite()), name: 'PGlite' };
}

/** One org and one completed demo run, through the API as a user makes them. */
async function seed(cp: ControlPlane): Promise<{ org: string; apiKey: string; runId: string }> {
  const app = await testApp(cp);
  app.worker?.start();
  const server = await buildServer(app);
  try {
    const created = await server.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: { 'x-ca-root-key': ROOT_KEY }, payload: { org_slug: 'bench_api', plan: 'STARTER' } });
    if (created.statusCode !== 201) throw new Error(`creating the org: ${created.statusCode} ${created.body}`);
    const { api_key: apiKey } = created.json<{ api_key: string }>();
    const run = await server.inject({ method: 'POST', url: '/api/v1/pipelines/run/bench_api/demo/usage/daily_cost', headers: { 'x-api-key': apiKey }, payload: { date: '2026-01-05' } });
    if (run.statusCode !== 202) throw new Error(`requesting the run: ${run.statusCode} ${run.body}`);
    const { run_id: runId } = run.json<{ run_id: string }>();
    const ended = await waitForRunEnd(app, 'bench_api', runId, 60_000);
    if (ended.status !== 'completed') throw new Error(`the demo run ended ${ended.status}`);
    return { org: 'bench_api', apiKey, runId };
  } finally {
    await server.close();
    await app.close();
  }
}

/** The status route's handler alone: what the read costs without any guard around it. */
async function bareServer(app: App): Promise<FastifyInstance> {
  const server = Fastify();
  server.get<{ Params: { org: string; run_id: string } }>('/api/v1/pipelines/status/:org/:run_id', {
    schema: { params: Type.Object({ org: Type.String(), run_id: Type.String() }), response: { 200: Run } },
  }, async (request) => present(await runOrThrow(app, request.params.org, request.params.run_id)));
  return server;
}

interface Mode {
  name: string;
  settings: Record<string, string>;
  server(app: App): Promise<FastifyInstance>;
}

async function measure(cp: ControlPlane, target: { org: string; apiKey: string; runId: string }, mode: Mode) {
  const app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0', ...mode.settings } });
  const server = await mode.server(app);
  try {
    await server.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/api/v1/pipelines/status/${target.org}/${target.runId}`;
    const headers = { 'x-api-key': target.apiKey };
    const check = await fetch(url, { headers });
    if (check.status !== 200) throw new Error(`${mode.name}: GET status answered ${check.status} ${await check.text()}`);
    await load({ url, connections: CONNECTIONS, duration: 2, headers, timeout: 30 });
    const cpuBefore = process.cpuUsage();
    const result = await load({ url, connections: CONNECTIONS, duration: SECONDS, headers, timeout: 30 });
    const cpu = process.cpuUsage(cpuBefore);
    if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) throw new Error(`${mode.name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests.total}`);
    return { reqPerSec: result.requests.average, p99: result.latency.p99, cpuUsPerRequest: (cpu.user + cpu.system) / result.requests.total };
  } finally {
    await server.close();
    await app.close();
  }
}

const cp = await controlPlane();
try {
  const target = await seed(cp);
  const modes: Mode[] = [
    { name: 'off (handler only)', settings: {}, server: bareServer },
    { name: 'server, limits off', settings: { RATE_LIMIT_ENABLED: 'false' }, server: buildServer },
    { name: 'on (limits in memory)', settings: UNREACHABLE_LIMITS, server: buildServer },
  ];
  const redis = await redisAnswers(REDIS_URL);
  if (redis) modes.push({ name: 'on (limits in Redis)', settings: { ...UNREACHABLE_LIMITS, REDIS_URL, RATE_LIMIT_REDIS_PREFIX: `bench-api-${randomBytes(4).toString('hex')}:` }, server: buildServer });
  const load = () => loadavg().map((value) => value.toFixed(1)).join(' ');
  console.log(`GET /api/v1/pipelines/status/{org}/{run_id}, ${CONNECTIONS} connections, ${SECONDS} s per mode and round, ${ROUNDS} rounds, control plane ${cp.name}, node ${process.version}, ${cpus().length} cores, load average ${load()}`);
  const rounds = new Map(modes.map((mode) => [mode.name, [] as Awaited<ReturnType<typeof measure>>[]]));
  for (let round = 0; round < ROUNDS; round++) for (const mode of modes) rounds.get(mode.name)?.push(await measure(cp, target, mode));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  const results = modes.map((mode) => {
    const measured = rounds.get(mode.name) ?? [];
    return {
      mode: mode.name,
      reqPerSec: median(measured.map((one) => one.reqPerSec)),
      p99: median(measured.map((one) => one.p99)),
      cpuUs: median(measured.map((one) => one.cpuUsPerRequest)),
      each: measured.map((one) => one.reqPerSec.toFixed(0)).join(' / '),
    };
  });
  const off = results[0];
  console.log(`${'mode (median of rounds)'.padEnd(24)} ${'req/s'.padStart(8)} ${'p99 ms'.padStart(7)} ${'CPU µs/req'.padStart(11)} ${'vs off'.padStart(7)}   req/s per round`);
  for (const result of results) {
    const extra = off ? `+${(result.cpuUs - off.cpuUs).toFixed(0)}` : '';
    console.log(`${result.mode.padEnd(24)} ${result.reqPerSec.toFixed(0).padStart(8)} ${String(result.p99).padStart(7)} ${result.cpuUs.toFixed(0).padStart(11)} ${extra.padStart(7)}   ${result.each}`);
  }
  console.log(`load average after: ${load()}`);
  if (!redis) console.log(`on (limits in Redis): skipped, no Redis answers at ${REDIS_URL}`);
} finally {
  await cp.close();
}
