/**
 * SqlRunner over a DuckDB connection (@duckdb/node-api). Values come back JSON-friendly:
 * BIGINT and DECIMAL as strings, JSON as text, so results can be logged and stored as they are.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { DuckDBValue } from '@duckdb/node-api';
import type { SqlRunner } from './check-focus-table.ts';

export function duckDbSqlRunner(conn: DuckDBConnection): SqlRunner {
  return {
    async all(sql, params) {
      const reader = await conn.runAndReadAll(sql, params as DuckDBValue[] | undefined);
      return reader.getRowObjectsJson() as Record<string, unknown>[];
    },
  };
}
