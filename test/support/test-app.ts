import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, type Settings } from '../../src/config/settings.ts';
import { createApp, type App, type AppOptions } from '../../src/main/app.ts';
import type { Clock } from '../../src/shared/clock.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openDuckDbWarehouse } from '../../src/warehouse/duckdb/duckdb-warehouse.ts';

export const REPO = join(import.meta.dirname, '..', '..');
export const CONFIGS = join(REPO, 'configs');

export function testSettings(overrides: Record<string, string> = {}): Settings {
  return loadSettings({ PIPELINE_DATA_DIR: mkdtempSync(join(tmpdir(), 'test-data-')), PIPELINE_CONFIGS_DIR: CONFIGS, CA_ROOT_API_KEY: ROOT_KEY, WORKER_CONCURRENCY: '4', ...UNTHROTTLED, ...overrides });
}

/** Rate limits on (their hooks run in every API test) but out of reach: test/api/rate-limits.test.ts sets small ones. */
export const UNTHROTTLED = { RATE_LIMIT_REQUESTS_PER_MINUTE: '100000000', RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE: '100000000' };

export const ROOT_KEY = 'test-root-key-0123456789abcdef0123456789';

/** A real app on the given control plane and an in-memory DuckDB warehouse. */
export async function testApp(controlPlane: ControlPlane, options: Partial<AppOptions> & { settings?: Record<string, string> } = {}): Promise<App> {
  const settings = testSettings(options.settings);
  const warehouse = options.warehouse ?? (await openDuckDbWarehouse({ path: ':memory:', configsDir: settings.configsDir, threads: 2 }));
  const app = await createApp(settings, { logger: silentLogger(), execute: true, ...options, controlPlane, warehouse });
  const close = app.close;
  return {
    ...app,
    async close() {
      await close();
      if (!options.warehouse) await warehouse.close();
    },
  };
}

/** A clock whose sleeps return at once and are recorded: backoff is asserted, not waited for. */
export function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => new Date(),
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      sleeps.push(ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 20_000, label = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function waitForRunEnd(app: App, orgSlug: string, runId: string, timeoutMs = 20_000) {
  return waitFor(async () => {
    const run = await app.runs.get(orgSlug, runId);
    return run && ['completed', 'failed', 'cancelled'].includes(run.status) ? run : undefined;
  }, timeoutMs, `run ${runId} to end`);
}
