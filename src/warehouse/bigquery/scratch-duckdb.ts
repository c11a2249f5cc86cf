import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { useUtc, withConnection } from '../duckdb/connections.ts';

/**
 * The private DuckDB of one process on the BigQuery path: rows from TypeScript are staged and
 * written to Parquet here before a load job, and exports are formatted here. It is in memory,
 * spilling to a folder of its own (created under `root`, the OS temp folder by default, and
 * removed on close), so any number of worker processes run side by side: none of them holds a
 * file another needs.
 */
export interface ScratchDuckDb {
  /** The scratch folder: load files and DuckDB's spill files live here and nowhere else. */
  readonly dir: string;
  withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>, signal?: AbortSignal): Promise<T>;
  close(): void;
}

export async function openScratchDuckDb(options: { root?: string | undefined; memoryLimit?: string | undefined; threads?: number | undefined } = {}): Promise<ScratchDuckDb> {
  const root = options.root ?? tmpdir();
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, 'bigquery-scratch-'));
  const config: Record<string, string> = { temp_directory: join(dir, 'spill') };
  if (options.memoryLimit) config.memory_limit = options.memoryLimit;
  if (options.threads) config.threads = String(options.threads);
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(':memory:', config);
    await useUtc(instance);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    withConnection: (fn, signal) => withConnection(instance, fn, signal),
    close() {
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A path inside the scratch folder, quoted for DuckDB's COPY (the folder is ours, the name a hash). */
export function scratchFile(scratch: ScratchDuckDb, name: string): { path: string; sql: string } {
  const path = join(scratch.dir, name);
  return { path, sql: `'${path.replace(/'/g, "''")}'` };
}
