/**
 * The real engine for the cloud pipeline tests: PGlite control plane, in-memory DuckDB
 * warehouse, the repository's configs, one org; runs a pipeline and reads what it wrote.
 * Export files of the tests are written by DuckDB itself (COPY ... TO), from SQL, into the org's
 * source folder below a temporary PIPELINE_SOURCE_ROOT; runs name them relative to that folder.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { REPO, testApp, waitForRunEnd } from '../support/test-app.ts';

export const SAMPLES = join(REPO, '..', 'shared', 'providers', 'cloud', 'samples');
export const OPENDATA = join(REPO, '..', 'shared', 'providers', 'cloud', 'opendata');
export const SPEC_EXAMPLES = join(REPO, '..', 'shared', 'focus', 'samples', 'reference', 'spec-examples');
export const skipWithoutShared = (path: string) => (existsSync(path) ? false : `${path} is absent (the shared research folder)`);

export interface CloudHarness {
  app: App;
  org: string;
  /** PIPELINE_SOURCE_ROOT of the app: a temporary folder. */
  sourceRoot: string;
  /** `{sourceRoot}/{org}`: the only folder the org's runs may read. */
  orgFolder: string;
  /** A new folder in the org's source folder, by its absolute path (for writing fixtures). */
  folder(name: string): Promise<string>;
  /** `path` (inside the org's folder) as a run names it: relative to the org's folder. */
  uri(path: string): string;
  /** Copies a file from outside the org's folder (../shared) into it, as `as`; returns `as`, the name runs give. */
  place(file: string, as?: string): Promise<string>;
  run(route: string, body: Record<string, unknown>): Promise<{ status: string; error: string | null; runId: string }>;
  /** The FOCUS rows one run wrote, as JSON values (decimals as strings), ordered. */
  focusRows(runId: string, orderBy?: string): Promise<Record<string, unknown>[]>;
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function openCloudHarness(org = 'cloud_org', settings: Record<string, string> = {}): Promise<CloudHarness> {
  const sourceRoot = settings.PIPELINE_SOURCE_ROOT ?? (await scratchDir('sources'));
  const orgFolder = join(sourceRoot, org);
  await mkdir(orgFolder, { recursive: true });
  const cp: ControlPlane = await openPglite();
  const app = await testApp(cp, { settings: { PIPELINE_SOURCE_ROOT: sourceRoot, ...settings } });
  await app.orgs.create(org, org, { plan: 'T', status: 'ACTIVE', daily_limit: 1000, monthly_limit: 10000, concurrent_limit: 4 });
  app.worker?.start();
  const warehouse = app.warehouse!;
  return {
    app,
    org,
    sourceRoot,
    orgFolder,
    async folder(name) {
      const path = join(orgFolder, name);
      await mkdir(path, { recursive: true });
      return path;
    },
    uri: (path) => relative(orgFolder, path),
    async place(file, as = basename(file)) {
      await mkdir(dirname(join(orgFolder, as)), { recursive: true });
      await copyFile(file, join(orgFolder, as));
      return as;
    },
    async run(route, body) {
      const { run_id } = await app.requests.request({ orgSlug: org, route, body, trigger: 'api', createdBy: 'test' });
      const run = await waitForRunEnd(app, org, run_id, 60_000);
      return { status: run.status, error: run.error_message ?? null, runId: run_id };
    },
    focusRows: (runId, orderBy = 'ChargePeriodStart, x_SourceRecordId') =>
      warehouse.query(`SELECT * FROM ${org}_dev.cost_data_standard_1_3 WHERE x_run_id = $run ORDER BY ${orderBy}`, { run: runId }),
    query: (sql) => warehouse.query(sql),
    async close() {
      await app.close();
      await cp.close();
    },
  };
}

/** Runs SQL in a scratch DuckDB (COPY ... TO writes the export files of a test). */
export async function duckdb(...statements: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    for (const sql of statements) await connection.run(sql);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

export async function scratchDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `${prefix}-`));
}

/** Quality results of a run by rule id. */
export async function qualityOf(h: CloudHarness, runId: string) {
  const results = await h.app.runs.quality(h.org, runId);
  return { results, byRule: new Map(results.map((r) => [r.rule_id, r])), failedMust: results.filter((r) => r.level === 'MUST' && r.status === 'fail') };
}
