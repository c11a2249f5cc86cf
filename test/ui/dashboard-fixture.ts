import { copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import { processorRegistry } from '../../src/processors/registry.ts';
import { defineProcessor, type Processor } from '../../src/processors/types.ts';
import { addDays, isoDate } from '../../src/shared/clock.ts';
import { ProcessorError } from '../../src/shared/errors.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';
import { loadHistory, steadyRows } from '../alerts/focus-history.ts';
import { slackReceiver } from '../notifications/receivers.ts';
import { openPglite } from '../support/control-planes.ts';
import { CONFIGS, ROOT_KEY, testApp, waitForRunEnd } from '../support/test-app.ts';
import { testProcessors } from '../support/test-processors.ts';

export const FAILED_RULE = 'BilledCost-C-004-M';
export const FAILED_ERROR = `uitest.focus_check: FOCUS rule ${FAILED_RULE} failed on 2 rows`;
/** A value only the failed rule's example rows hold: seen on the page, it came from them. */
export const EXAMPLE_RESOURCE = 'i-0badc0ffee0001';

/** A conversion whose FOCUS check fails: a MUST rule with its example rows, as verify-conversion records them. */
const failingCheck = defineProcessor({
  type: 'uitest.focus_check',
  description: 'test processor: a FOCUS check that fails',
  configSchema: Type.Object({}),
  async run(_config, context) {
    context.logger.info({ rows: 12 }, 'checking FOCUS rules');
    context.recordQuality([
      { check_kind: 'focus_rule', rule_id: 'ChargeCategory-C-001-M', level: 'MUST', status: 'pass', description: 'ChargeCategory MUST be present', failing_rows: 0 },
      {
        check_kind: 'focus_rule', rule_id: FAILED_RULE, level: 'MUST', status: 'fail', description: 'BilledCost MUST NOT be negative for Usage charges', failing_rows: 2,
        details: { examples: [{ ResourceId: EXAMPLE_RESOURCE, BilledCost: '-3.5', ChargeCategory: 'Usage' }, { ResourceId: 'i-0badc0ffee0002', BilledCost: '-1.25', ChargeCategory: 'Usage' }] },
      },
    ]);
    throw new ProcessorError(`FOCUS rule ${FAILED_RULE} failed on 2 rows`, { retryable: false });
  },
});

/** Pipelines of the dashboard's test org: one that completes, one whose FOCUS check fails after a retried extract. */
async function configsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ui-configs-'));
  await mkdir(join(dir, 'system'), { recursive: true });
  await mkdir(join(dir, 'uitest', 'cost'), { recursive: true });
  await copyFile(join(CONFIGS, 'system', 'plans.json'), join(dir, 'system', 'plans.json'));
  await writeFile(join(dir, 'uitest', 'cost', 'steady.yml'), [
    'pipeline_id: uitest_cost_steady', 'name: steady', 'description: always completes', 'provider: uitest', 'domain: cost', 'version: "1"', 'schedule: "0 6 * * *"', 'steps:',
    '  - { step_id: extract, ps_type: test.work, config: { ms: 20, rows: 40 } }',
    '  - { step_id: load, ps_type: test.work, depends_on: [extract], config: { ms: 20, rows: 40 } }', '',
  ].join('\n'));
  await writeFile(join(dir, 'uitest', 'cost', 'slow.yml'), [
    'pipeline_id: uitest_cost_slow', 'name: slow', 'description: under way for a few seconds', 'provider: uitest', 'domain: cost', 'version: "1"', 'steps:',
    '  - { step_id: wait, ps_type: test.work, config: { ms: 3000 } }', '',
  ].join('\n'));
  await writeFile(join(dir, 'uitest', 'cost', 'convert.yml'), [
    'pipeline_id: uitest_cost_convert', 'name: convert', 'description: its FOCUS check fails', 'provider: uitest', 'domain: cost', 'version: "1"', 'steps:',
    '  - { step_id: extract, ps_type: test.work, retry: { max_attempts: 3, backoff_seconds: 0.1 }, config: { ms: 30, fail_times: 1, rows: 12 } }',
    '  - { step_id: check_focus, ps_type: uitest.focus_check, depends_on: [extract], config: {} }',
    '  - { step_id: publish, ps_type: test.work, depends_on: [check_focus], config: { ms: 0 } }', '',
  ].join('\n'));
  return dir;
}

export interface Dashboard {
  base: string;
  org: string;
  apiKey: string;
  rootKey: string;
  completedRun: string;
  failedRun: string;
  /** Requests a run of one of the org's pipelines (`uitest/cost/slow`...) and returns its id. */
  startRun(route: string): Promise<string>;
  close(): Promise<void>;
}

async function post(base: string, path: string, headers: Record<string, string>, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

/**
 * A real server on a free port (real control plane, DuckDB warehouse and worker) with an org
 * that has a completed and a failed run, 40 days of FOCUS rows from two providers, a cost rule
 * that was evaluated, a Slack channel (a local receiver) sent a test message, and a backfill.
 */
export async function startDashboard(): Promise<Dashboard> {
  const controlPlane: ControlPlane = await openPglite();
  const warehouse: Warehouse = await openDuckDbWarehouse({ path: ':memory:', configsDir: CONFIGS, threads: 2 });
  const base = testProcessors();
  const processors = processorRegistry([...base.types().map((type) => base.get(type) as Processor), failingCheck as Processor]);
  const slack = await slackReceiver();
  let app: App | undefined;
  let server: FastifyInstance | undefined;
  try {
    app = await testApp(controlPlane, { warehouse, processors, settings: { PIPELINE_CONFIGS_DIR: await configsDir() } });
    app.worker?.start();
    server = await buildServer(app);
    await server.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    const root = { 'x-ca-root-key': ROOT_KEY };
    const org = 'ui_acme';
    const { api_key: apiKey } = (await post(url, '/api/v1/admin/orgs', root, { org_slug: org, plan: 'STARTER' })) as { api_key: string };
    const key = { 'x-api-key': apiKey };
    const startRun = async (route: string) => String((await post(url, `/api/v1/pipelines/run/${org}/${route}`, key, { date: '2026-01-05' })).run_id);
    const completedRun = await startRun('uitest/cost/steady');
    const failedRun = await startRun('uitest/cost/convert');
    for (const runId of [completedRun, failedRun]) await waitForRunEnd(app, org, runId);

    const today = isoDate(app.clock.now());
    const start = addDays(today, -39);
    const ingestedAt = new Date(Date.now() - 6 * 3_600_000);
    await loadHistory(warehouse, { orgSlug: org, sourceSystem: 'aws', providerName: 'AWS', start, end: today, ingestedAt, rows: steadyRows(start, today, { services: 3, base: 40 }) });
    await loadHistory(warehouse, { orgSlug: org, sourceSystem: 'gcp', providerName: 'Google Cloud', pipelineId: 'gcp_cost_billing', start, end: today, ingestedAt, rows: steadyRows(start, today, { services: 2, base: 25 }) });
    await post(url, `/api/v1/alerts/${org}/rules`, key, { name: 'Daily spend over 100', kind: 'daily_threshold', thresholds: [100], group_by: 'provider' });
    await post(url, `/api/v1/alerts/${org}/evaluate`, key, {});
    const put = await fetch(`${url}/api/v1/notifications/${org}/channels/team-slack`, { method: 'PUT', headers: { ...key, 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'slack', url: slack.url }) });
    if (put.status !== 201) throw new Error(`PUT channel: ${put.status} ${await put.text()}`);
    await post(url, `/api/v1/notifications/${org}/test`, key, { channel: 'team-slack' });
    await post(url, `/api/v1/pipelines/backfill/${org}/uitest/cost/steady`, key, { start_date: '2026-01-01', end_date: '2026-01-03', max_concurrent: 1 });

    const opened = { app, server };
    return {
      base: url, org, apiKey, rootKey: ROOT_KEY, completedRun, failedRun, startRun,
      async close() {
        await opened.server.close();
        await opened.app.close();
        await warehouse.close();
        await controlPlane.close();
        await slack.close();
      },
    };
  } catch (error) {
    await server?.close();
    await app?.close();
    await warehouse.close();
    await controlPlane.close();
    await slack.close();
    throw error;
  }
}
