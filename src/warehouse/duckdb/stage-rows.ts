import { DuckDBDataChunk, VARCHAR, type DuckDBConnection } from '@duckdb/node-api';

/** DuckDB's vector size: a data chunk holds at most this many rows. */
const CHUNK_ROWS = 2048;

/**
 * Streams row batches into a connection-local temp table `staged` of text columns, through
 * the appender's data-chunk path (column arrays, no per-row SQL). Only one batch is in memory
 * at a time, so memory stays flat whatever the row count. Values are kept as text (objects as
 * JSON) and typed by the SELECT that reads `staged`.
 */
export async function stageBatches(connection: DuckDBConnection, columns: string[], batches: AsyncIterable<Record<string, unknown>[]>, signal?: AbortSignal): Promise<number> {
  if (columns.length === 0) throw new Error('staging needs at least one column');
  await connection.run(`CREATE OR REPLACE TEMP TABLE staged (${columns.map((column) => `"${column.replace(/"/g, '""')}" VARCHAR`).join(', ')})`);
  const appender = await connection.createAppender('staged', 'main', 'temp');
  const types = columns.map(() => VARCHAR);
  let staged = 0;
  try {
    for await (const batch of batches) {
      signal?.throwIfAborted();
      for (let offset = 0; offset < batch.length; offset += CHUNK_ROWS) {
        const rows = batch.slice(offset, offset + CHUNK_ROWS);
        const chunk = DuckDBDataChunk.create(types, rows.length);
        chunk.setColumns(columns.map((column) => rows.map((row) => asText(row[column]))));
        appender.appendDataChunk(chunk);
      }
      appender.flushSync();
      staged += batch.length;
    }
  } finally {
    appender.closeSync();
  }
  return staged;
}

function asText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}
