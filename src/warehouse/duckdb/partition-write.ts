import type { DuckDBConnection, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api';
import { ProcessorError } from '../../shared/errors.ts';
import type { PartitionWrite, SqlParams } from '../warehouse.ts';

/**
 * The partition replace, inside the caller's transaction: the setup statements, then DELETE of
 * the composite key over the run's date range, then INSERT of the select's rows by name with
 * the lineage columns. Returns the rows inserted.
 */
export async function writePartition(connection: DuckDBConnection, write: PartitionWrite): Promise<number> {
  const target = `${write.dataset}.${write.table}`;
  const { lineage, runDates } = write;
  const key = {
    x_org_slug: lineage.orgSlug,
    x_pipeline_id: lineage.pipelineId,
    x_credential_id: lineage.credentialId,
    x_range_start: runDates.start,
    x_range_end: runDates.end,
  };
  // The row's date is computed once: a TIMESTAMPTZ to DATE cast goes through ICU's calendar,
  // about 70 ns a value.
  const runDate = write.runDateColumn ? `CAST("${write.runDateColumn}" AS DATE)` : 'CAST($x_range_start AS DATE)';
  // A row dated outside the replaced range would survive the next re-run's DELETE and be
  // duplicated, so it aborts the whole write (DuckDB's error() raises inside the INSERT).
  const checkedRunDate = `CASE WHEN __run_date BETWEEN CAST($x_range_start AS DATE) AND CAST($x_range_end AS DATE) THEN __run_date
    ELSE error('row x_pipeline_run_date ' || coalesce(CAST(__run_date AS VARCHAR), 'NULL') || ' is outside the run range ' || $x_range_start || '..' || $x_range_end) END`;
  const insert = `INSERT INTO ${target} BY NAME
    SELECT rows.* EXCLUDE (__run_date),
           $x_org_slug AS x_org_slug, $x_pipeline_id AS x_pipeline_id, $x_credential_id AS x_credential_id,
           ${checkedRunDate} AS x_pipeline_run_date, $x_run_id AS x_run_id,
           CAST($x_ingested_at AS TIMESTAMPTZ) AS x_ingested_at, CAST(CAST($x_ingested_at AS TIMESTAMPTZ) AS DATE) AS x_ingestion_date
      FROM (SELECT *, ${runDate} AS __run_date FROM (${write.select.sql}) AS converted) AS rows`;
  for (const statement of write.setup ?? []) await runBound(connection, statement.sql, statement.params ?? {});
  await runBound(
    connection,
    `DELETE FROM ${target} WHERE x_org_slug = $x_org_slug AND x_pipeline_id = $x_pipeline_id AND x_credential_id = $x_credential_id
      AND x_pipeline_run_date BETWEEN CAST($x_range_start AS DATE) AND CAST($x_range_end AS DATE)`,
    key,
  );
  const rows = await runBound(connection, insert, { ...write.select.params, ...key, x_run_id: lineage.runId, x_ingested_at: lineage.ingestedAt.toISOString() });
  if (write.verify) {
    const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;
    const inserted = `x_org_slug = ${quote(lineage.orgSlug)} AND x_pipeline_id = ${quote(lineage.pipelineId)} AND x_credential_id = ${quote(lineage.credentialId)} AND x_run_id = ${quote(lineage.runId)}`;
    await write.verify({
      table: target,
      rows: inserted,
      parts: await rowidRanges(connection, target, inserted),
      all: async (sql, params) => (await connection.runAndReadAll(sql, params as DuckDBValue[] | undefined)).getRowObjectsJson() as Record<string, unknown>[],
      query: async (sql, params = {}) => (await (await bind(connection, sql, params)).runAndReadAll()).getRowObjectsJson() as Record<string, unknown>[],
    });
  }
  return rows;
}

/** The rows' rowid span cut into one range per DuckDB thread (see VerifyContext.parts). */
async function rowidRanges(connection: DuckDBConnection, table: string, rows: string): Promise<string[]> {
  const reader = await connection.runAndReadAll(
    `SELECT min(rowid) AS low, max(rowid) AS high, CAST(current_setting('threads') AS BIGINT) AS threads FROM ${table} WHERE ${rows}`,
  );
  const [low, high, threads] = (reader.getRows()[0] ?? []) as [bigint | null, bigint | null, bigint];
  if (low === null || high === null) return [];
  const size = (high - low) / threads + 1n;
  return Array.from({ length: Number(threads) }, (_, i) => low + BigInt(i) * size)
    .filter((start) => start <= high)
    .map((start) => `rowid BETWEEN ${start} AND ${start + size - 1n}`);
}

/** Prepares one statement and binds only the named parameters it uses, so callers can pass a shared set. */
export async function bind(connection: DuckDBConnection, sql: string, params: SqlParams): Promise<DuckDBPreparedStatement> {
  const prepared = await connection.prepare(sql);
  const values: Record<string, string | number | boolean | null> = {};
  for (let i = 1; i <= prepared.parameterCount; i++) {
    const name = prepared.parameterName(i);
    if (!(name in params)) throw new ProcessorError(`SQL parameter $${name} has no value`, { retryable: false });
    values[name] = params[name] ?? null;
  }
  if (prepared.parameterCount > 0) prepared.bind(values);
  return prepared;
}

export async function runBound(connection: DuckDBConnection, sql: string, params: SqlParams): Promise<number> {
  const prepared = await bind(connection, sql, params);
  const result = await prepared.run();
  return Number(result.rowsChanged);
}
