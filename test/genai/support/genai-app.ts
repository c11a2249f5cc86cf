import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from '../../../src/main/app.ts';
import type { ProcessorRegistry } from '../../../src/processors/registry.ts';
import type { ControlPlane } from '../../../src/store/open-control-plane.ts';
import type { Warehouse } from '../../../src/warehouse/warehouse.ts';
import { openPglite } from '../../support/control-planes.ts';
import { CONFIGS, testApp, waitForRunEnd } from '../../support/test-app.ts';

export interface GenaiApp {
  app: App;
  org: string;
  configsDir: string;
  run(route: string, body: Record<string, unknown>, timeoutMs?: number): Promise<{ runId: string; run: NonNullable<Awaited<ReturnType<App['runs']['get']>>> }>;
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * A configs folder for one test: the repo's GenAI pipelines with the data they need (schemas,
 * FOCUS rules, procedures, pricing), copied, then some files replaced or added (a pipeline with
 * a short timeout, an org's overrides). Other teams' pipelines are left out, so they cannot
 * break these tests.
 */
export async function genaiConfigs(replaced: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'genai-configs-'));
  for (const entry of ['schemas', 'focus', 'system', 'pricing', 'genai']) await cp(join(CONFIGS, entry), join(dir, entry), { recursive: true });
  for (const [file, text] of Object.entries(replaced)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  return dir;
}

export async function genaiApp(options: { org?: string; configsDir?: string; settings?: Record<string, string>; warehouse?: Warehouse; processors?: ProcessorRegistry } = {}): Promise<GenaiApp> {
  const org = options.org ?? 'genai_org';
  const configsDir = options.configsDir ?? (await genaiConfigs());
  const controlPlane: ControlPlane = await openPglite();
  const app = await testApp(controlPlane, { settings: { PIPELINE_CONFIGS_DIR: configsDir, ...options.settings }, ...(options.warehouse ? { warehouse: options.warehouse } : {}), ...(options.processors ? { processors: options.processors } : {}) });
  await app.orgs.create(org, org, { plan: 'T', status: 'ACTIVE', daily_limit: 1000, monthly_limit: 10000, concurrent_limit: 5 });
  app.worker?.start();
  return {
    app,
    org,
    configsDir,
    async run(route, body, timeoutMs = 45_000) {
      const { run_id } = await app.requests.request({ orgSlug: org, route, body, trigger: 'api', createdBy: 'test' });
      const run = await waitForRunEnd(app, org, run_id, timeoutMs);
      return { runId: run_id, run };
    },
    query: async <T>(sql: string) => (await app.warehouse!.query(sql)) as T[],
    async close() {
      await app.close();
      await controlPlane.close();
    },
  };
}
