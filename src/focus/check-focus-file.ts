/**
 * Checks a FOCUS file (CSV or Parquet) with the same rules as the warehouse table.
 *
 * CSV is read with every column as text (all_varchar): FOCUS format rules are about the
 * serialised values ('YYYY-MM-DDTHH:mm:ssZ', numeric format), and type auto-detection would turn
 * a non-conforming '2024-10-01 00:00:00' into a valid TIMESTAMP and hide the defect. Empty
 * fields and the literals NULL (used by the official FOCUS 1.0 sample) and null (the spec's
 * worked examples) are read as null.
 */
import { extname } from 'node:path';
import { InputError } from '../shared/errors.ts';
import { type CheckFocusTableOptions, type FocusTableCheck, type RuleResult, type SqlRunner, checkFocusTableWithApplicability } from './check-focus-table.ts';
import { DUCKDB_FOCUS_SQL } from './sql-dialect.ts';

export type CheckFocusFileOptions = Omit<CheckFocusTableOptions, 'table' | 'where'>;

export function focusFileTableExpression(path: string): string {
  const ext = extname(path.replace(/\.gz$/i, '')).toLowerCase();
  // A file is checked in DuckDB, which reads it.
  const literal = (text: string) => DUCKDB_FOCUS_SQL.literal(text);
  if (ext === '.csv') return `read_csv(${literal(path)}, header = true, all_varchar = true, nullstr = ['', 'NULL', 'null'])`;
  if (ext === '.parquet') return `read_parquet(${literal(path)})`;
  throw new InputError(`cannot check ${path}: expected a .csv or .parquet file`, { field: 'path' });
}

/**
 * The file is read once into a temporary table: the checker queries its input several times
 * (the scan, examples per failing rule, GROUP BY rules) and re-parsing a CSV each time made a
 * 1,000-row file take a second instead of a tenth of one.
 */
export async function checkFocusFile(sql: SqlRunner, path: string, opts: CheckFocusFileOptions = {}): Promise<RuleResult[]> {
  return (await checkFocusFileWithApplicability(sql, path, opts)).results;
}

export async function checkFocusFileWithApplicability(sql: SqlRunner, path: string, opts: CheckFocusFileOptions = {}): Promise<FocusTableCheck> {
  const table = `focus_file_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  await sql.all(`CREATE TEMP TABLE ${table} AS SELECT * FROM ${focusFileTableExpression(path)}`);
  try {
    return await checkFocusTableWithApplicability(sql, { ...opts, table });
  } finally {
    await sql.all(`DROP TABLE IF EXISTS ${table}`);
  }
}
