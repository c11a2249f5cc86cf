/**
 * Issue 10, item 11: one plans import froze the whole API (a 5 MB CSV never answered; the
 * check across rows was quadratic and synchronous). Over a real socket, a 10 MB import is
 * answered while /health keeps answering within 100 ms.
 *
 * A `.serial.ts` file: `npm test` runs it after the concurrent suite, alone, since what it times
 * is this process's event loop, and another suite's browser or databases on the same two cores
 * delayed its probes by 250-330 ms in full runs where it passes alone.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';

const ORG = 'plans_latency';
const HEADER = 'subscription_id,vendor,product,plan_name,status,start_date,end_date,billing_cycle,pricing_model,seats,unit_price,currency,cost_center,team,owner,notes';
/** Under the route's 10 MiB body limit. */
const TARGET_BYTES = 10 * 1_048_576 - 4096;

/** Valid rows: each subscription has two consecutive periods, so the checks across rows have work to do. */
function plansCsv(): { csv: string; rows: number } {
  const lines = [HEADER];
  let bytes = HEADER.length + 1;
  for (let i = 0; bytes < TARGET_BYTES; i += 1) {
    const n = Math.floor(i / 2);
    const id = `SUB-${String(n).padStart(7, '0')}`;
    const period = i % 2 === 0 ? '2025-01-01,2025-12-31' : '2026-01-01,';
    const line = `${id},Vendor ${n % 97},Product ${n % 997},Team,active,${period},monthly,per_seat,${(i % 50) + 1},12.50,USD,CC-${i % 13},Team ${i % 7},owner${i % 31}@example.com,row ${i} of a generated plans file`;
    if (bytes + line.length + 1 > TARGET_BYTES) break;
    lines.push(line);
    bytes += line.length + 1;
  }
  return { csv: lines.join('\n') + '\n', rows: lines.length - 1 };
}

let cp: ControlPlane;
let app: App;
let server: FastifyInstance;
let base: string;
before(async () => {
  cp = await openPglite();
  app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0' } });
  await app.orgs.create(ORG, ORG, app.plans.TRIAL!);
  server = await buildServer(app);
  await server.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
});
after(async () => {
  await server?.close();
  await app?.close();
  await cp?.close();
});

/** Sequential /health calls every 10 ms until `until()`; the latency of each, in ms. */
async function probeHealth(until: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  while (!until()) {
    const at = performance.now();
    const health = await fetch(`${base}/health`);
    await health.arrayBuffer();
    latencies.push(performance.now() - at);
    assert.equal(health.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return latencies;
}

test('a 10 MB plans import is answered, and delays /health by less than 100 ms all along (one outlier allowed)', { timeout: 120_000 }, async () => {
  const { csv, rows } = plansCsv();
  // Built before the clock starts: the client shares this process, and encoding 10 MB is its work, not the server's.
  const body = Buffer.from(csv);
  assert.ok(body.length > 9.9 * 1_048_576, 'the file is 10 MB');
  const { api_key } = await app.orgs.createKey(ORG);
  // What /health takes on this machine now, with no import (the two cores may be shared).
  const baselineEnd = performance.now() + 1500;
  const baseline = await probeHealth(() => performance.now() > baselineEnd);

  let done = false;
  const started = performance.now();
  const importing = fetch(`${base}/api/v1/subscriptions/plans/${ORG}`, { method: 'PUT', headers: { 'x-api-key': api_key, 'content-type': 'text/csv' }, body })
    .then(async (response) => ({ status: response.status, body: await response.text() }))
    .finally(() => void (done = true));
  const latencies = await probeHealth(() => done);
  const result = await importing;
  const seconds = (performance.now() - started) / 1000;
  assert.equal(result.status, 200, result.body.slice(0, 500));
  assert.deepEqual(JSON.parse(result.body), { org_slug: ORG, rows });
  const worst = Math.max(...latencies);
  const usual = Math.max(...baseline);
  console.log(`plans import: ${rows} rows, ${(body.length / 1_048_576).toFixed(1)} MB in ${seconds.toFixed(1)} s; /health ${latencies.length} probes, worst ${worst.toFixed(1)} ms (without an import: worst ${usual.toFixed(1)} ms of ${baseline.length})`);
  assert.ok(latencies.length >= 5, `only ${latencies.length} /health probes during the import`);
  // One probe may meet the machine's own noise (the suite runs a browser and databases beside it
  // on two cores); an import that held the event loop would delay its probes again and again.
  const slow = latencies.filter((ms) => ms - usual >= 100);
  assert.ok(slow.length <= 1, `/health took ${slow.map((ms) => ms.toFixed(1)).join(', ')} ms during the import (worst ${worst.toFixed(1)}), ${usual.toFixed(1)} ms without`);
  const [count] = await app.warehouse!.query(`SELECT count(*)::INT AS n FROM ${ORG}_dev.saas_subscription_plans`);
  assert.equal(count?.n, rows);
});
