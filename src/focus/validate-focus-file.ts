/**
 * Logic of `pipeline validate-focus-file <file> [--provider p] [--json]`: check a FOCUS CSV or
 * Parquet file and render the outcome for a person (text) or a program (JSON). CLI wiring only
 * has to print `report` and exit with `exitCode`.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import type { RuleResult, SqlRunner } from './check-focus-table.ts';
import { checkFocusFile } from './check-focus-file.ts';
import { duckDbSqlRunner } from './duckdb-sql-runner.ts';

export interface ValidateFocusFileOptions {
  provider?: string;
  json?: boolean;
  /** Also list skipped rules with their reasons (text report only). */
  verbose?: boolean;
  /** Runner to use; by default a private in-memory DuckDB is opened and closed. */
  sql?: SqlRunner;
}

export interface FocusSummary {
  must: { passed: number; failed: number };
  should: { passed: number; failed: number };
  skipped: number;
}

export interface ValidateFocusFileOutcome {
  results: RuleResult[];
  summary: FocusSummary;
  /** True when no MUST rule failed. */
  conformant: boolean;
  report: string;
  exitCode: 0 | 1;
}

export async function validateFocusFile(path: string, opts: ValidateFocusFileOptions = {}): Promise<ValidateFocusFileOutcome> {
  const results = opts.sql ? await checkFocusFile(opts.sql, path, { provider: opts.provider }) : await withMemoryDuckDb((sql) => checkFocusFile(sql, path, { provider: opts.provider }));
  const summary = summarize(results);
  const conformant = summary.must.failed === 0;
  const report = opts.json
    ? JSON.stringify({ file: path, provider: opts.provider ?? null, conformant, summary, results }, null, 2)
    : renderText(path, opts.provider, results, summary, opts.verbose ?? false);
  return { results, summary, conformant, report, exitCode: conformant ? 0 : 1 };
}

async function withMemoryDuckDb<T>(fn: (sql: SqlRunner) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return await fn(duckDbSqlRunner(conn));
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

export function summarize(results: readonly RuleResult[]): FocusSummary {
  const count = (level: string, status: string) => results.filter((r) => r.level === level && r.status === status).length;
  return {
    must: { passed: count('MUST', 'pass'), failed: count('MUST', 'fail') },
    should: { passed: count('SHOULD', 'pass'), failed: count('SHOULD', 'fail') },
    skipped: results.filter((r) => r.status === 'skipped').length,
  };
}

function renderText(path: string, provider: string | undefined, results: readonly RuleResult[], s: FocusSummary, verbose: boolean): string {
  const lines = [
    `FOCUS 1.3 Cost and Usage conformance: ${path} (provider: ${provider ?? 'not given, applicability inferred from the columns present'})`,
    `MUST: ${s.must.passed} passed, ${s.must.failed} failed. SHOULD: ${s.should.passed} passed, ${s.should.failed} failed. Skipped: ${s.skipped}.`,
    '',
  ];
  // MUST failures first: they decide conformance.
  const failed = results.filter((r) => r.status === 'fail').sort((a, b) => (a.level === b.level ? 0 : a.level === 'MUST' ? -1 : 1));
  for (const r of failed) {
    lines.push(`FAIL ${r.level.padEnd(6)} ${r.rule_id}  ${r.failing_rows} row(s)  ${r.description}`);
    if (r.reason) lines.push(`     ${r.reason}`);
    for (const e of r.examples) lines.push(`     e.g. ${JSON.stringify(e)}`);
  }
  if (verbose) {
    for (const r of results.filter((x) => x.status === 'skipped')) lines.push(`SKIP ${r.level.padEnd(6)} ${r.rule_id}  ${r.reason ?? ''}`);
  }
  if (failed.length > 0 || verbose) lines.push('');
  lines.push(s.must.failed === 0 ? 'Result: conformant (no MUST rule failed).' : `Result: NOT conformant (${s.must.failed} MUST rule(s) failed).`);
  return lines.join('\n');
}
