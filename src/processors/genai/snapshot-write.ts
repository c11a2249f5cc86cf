import { ProcessorError } from '../../shared/errors.ts';
import type { Lineage, SqlParams, Warehouse } from '../../warehouse/warehouse.ts';

/** A snapshot is one reading (a balance per currency): a handful of rows, held whole. */
const MAX_SNAPSHOT_ROWS = 1000;

export interface SnapshotWrite {
  dataset: string;
  table: string;
  schema: string;
  lineage: Lineage;
  columns: string[];
  /** The day column, the row's x_pipeline_run_date. */
  dayColumn: string;
  /** The instant the snapshot was taken: its rows replace that instant's rows only. */
  timeColumn: string;
  rows: AsyncIterable<Record<string, unknown>[]>;
}

/**
 * Files a snapshot so that snapshots accumulate, one per snapshot time. A plain partition
 * replace would delete every earlier snapshot of the run's days (a 30-day backfill left one row),
 * so this replaces only the snapshot's own day, and inside that same transaction first copies
 * the day's other snapshots aside to write them back with the new one. Re-filing the same
 * instant replaces it rather than duplicating it. Being a partition replace, it holds the day's
 * partition like every write (one writer at a time, fenced by the run's claim); the lineage
 * columns of a day's rows name the run that last wrote the day, `snapshot_at` when each was read.
 */
export async function replaceSnapshot(warehouse: Warehouse, write: SnapshotWrite, signal: AbortSignal): Promise<{ rows: number }> {
  const rows: Record<string, unknown>[] = [];
  for await (const batch of write.rows) {
    rows.push(...batch);
    if (rows.length > MAX_SNAPSHOT_ROWS) throw new ProcessorError(`a snapshot of ${write.table} has more than ${MAX_SNAPSHOT_ROWS} rows`, { retryable: false });
  }
  if (rows.length === 0) return { rows: 0 };
  const day = single(rows, write.dayColumn, write.table);
  const time = single(rows, write.timeColumn, write.table);

  const target = `${write.dataset}.${write.table}`;
  const columns = write.columns.map((column) => `"${column}"`).join(', ');
  const key: SqlParams = { x_org: write.lineage.orgSlug, x_pipeline: write.lineage.pipelineId, x_credential: write.lineage.credentialId, x_day: day, x_time: time };
  // A temp table is private to the connection the write runs on; typed like the target by CREATE ... AS.
  const keep = {
    sql: `CREATE OR REPLACE TEMP TABLE snapshot_rows AS SELECT ${columns} FROM ${target}
           WHERE x_org_slug = $x_org AND x_pipeline_id = $x_pipeline AND x_credential_id = $x_credential
             AND x_pipeline_run_date = CAST($x_day AS DATE) AND "${write.timeColumn}" <> CAST($x_time AS TIMESTAMPTZ)`,
    params: key,
  };
  // Each value bound, cast to its column's type by the INSERT.
  const insert = `INSERT INTO snapshot_rows BY NAME SELECT ${write.columns.map((column, i) => `$v${i} AS "${column}"`).join(', ')}`;
  const added = rows.map((row) => ({ sql: insert, params: Object.fromEntries(write.columns.map((column, i) => [`v${i}`, bindable(row[column])])) }));
  return warehouse.replacePartition(
    {
      dataset: write.dataset,
      table: write.table,
      schema: write.schema,
      lineage: write.lineage,
      runDates: { start: day, end: day },
      setup: [keep, ...added],
      select: { sql: 'SELECT * FROM snapshot_rows' },
      runDateColumn: write.dayColumn,
    },
    signal,
  );
}

function single(rows: Record<string, unknown>[], column: string, table: string): string {
  const values = new Set(rows.map((row) => String(row[column])));
  const [value] = values;
  if (values.size !== 1 || value === undefined) throw new ProcessorError(`a snapshot of ${table} must have one ${column}, got ${values.size}`, { retryable: false });
  return value;
}

function bindable(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}
