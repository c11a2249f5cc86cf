import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { warehouseError } from './engine-errors.ts';

/**
 * Runs `fn` on a connection of its own: interrupted when `signal` aborts, DuckDB's errors turned
 * into the warehouse's, and closed whatever happens. The embedded warehouse and BigQuery's
 * scratch DuckDB both run their statements through it.
 */
export async function withConnection<T>(instance: DuckDBInstance, fn: (connection: DuckDBConnection) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const connection = await instance.connect();
  const interrupt = () => connection.interrupt();
  signal?.throwIfAborted();
  signal?.addEventListener('abort', interrupt, { once: true });
  try {
    return await fn(connection);
  } catch (error) {
    throw warehouseError(error);
  } finally {
    signal?.removeEventListener('abort', interrupt);
    connection.closeSync();
  }
}

/** Timestamps are UTC whatever the host's zone, so a date cast never shifts a day. */
export async function useUtc(instance: DuckDBInstance): Promise<void> {
  const setup = await instance.connect();
  await setup.run("SET GLOBAL TimeZone = 'UTC'");
  setup.closeSync();
}
