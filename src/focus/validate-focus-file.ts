/**
 * Logic of `pipeline validate-focus <file> [--provider P | --applicability-criteria LIST|ALL|FILE]
 * [--json] [--verbose]`: check a FOCUS CSV or Parquet file and render the outcome for a person
 * (text) or a program (JSON). CLI wiring only has to print `report` and exit with `exitCode`.
 *
 * Without options each row is checked under its own profile (x_SourceSystem, see
 * applicability.ts), so any export of cost_data_standard_1_3, several providers' rows included,
 * is checked as its converters declared it.
 */
import { readFile, stat } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { type Applicability, describeApplicability } from './applicability.ts';
import type { RuleResult, SqlRunner } from './check-focus-table.ts';
import { checkFocusFileWithApplicability } from './check-focus-file.ts';
import { duckDbSqlRunner } from './duckdb-sql-runner.ts';

export interface ValidateFocusFileOptions {
  /** Every row has this profile of rules-1.3.yml. */
  provider?: string;
  /**
   * Criteria every row declares, as the official validator takes them: names separated by
   * commas, or ALL; or a file of names (separated by commas or lines, # comments).
   */
  applicabilityCriteria?: string;
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
  const check = {
    provider: opts.provider,
    applicabilityCriteria: opts.applicabilityCriteria === undefined ? undefined : await readCriteriaArgument(opts.applicabilityCriteria),
  };
  const { results, applicability } = opts.sql
    ? await checkFocusFileWithApplicability(opts.sql, path, check)
    : await withMemoryDuckDb((sql) => checkFocusFileWithApplicability(sql, path, check));
  const summary = summarize(results);
  const conformant = summary.must.failed === 0;
  const report = opts.json
    ? JSON.stringify({ file: path, provider: opts.provider ?? null, applicability: applicabilityJson(applicability), conformant, summary, results }, null, 2)
    : renderText(path, applicability, results, summary, opts.verbose ?? false);
  return { results, summary, conformant, report, exitCode: conformant ? 0 : 1 };
}

/** The names of a list argument, or of the file it names. */
export async function readCriteriaArgument(value: string): Promise<string[]> {
  const isFile = await stat(value).then((s) => s.isFile(), () => false);
  const text = isFile ? (await readFile(value, 'utf8')).replace(/#.*$/gm, '') : value;
  return text.split(/[\s,]+/).filter((name) => name !== '');
}

function applicabilityJson(a: Applicability) {
  if (a.mode === 'criteria') return { mode: a.mode, criteria: [...(a.groups[0].declared ?? [])] };
  if (a.mode === 'provider') return { mode: a.mode, provider: a.provider };
  return { mode: a.mode, profiles: a.groups.map((g) => ({ profile: g.profile ?? null, rows: g.rows ?? 0, ...(g.values ? { values: g.values } : {}) })) };
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

function renderText(path: string, applicability: Applicability, results: readonly RuleResult[], s: FocusSummary, verbose: boolean): string {
  const lines = [
    `FOCUS 1.3 Cost and Usage conformance: ${path}`,
    `Applicability: ${describeApplicability(applicability)}`,
    `MUST: ${s.must.passed} passed, ${s.must.failed} failed. SHOULD: ${s.should.passed} passed, ${s.should.failed} failed. Skipped: ${s.skipped}.`,
    '',
  ];
  // MUST failures first: they decide conformance.
  const failed = results.filter((r) => r.status === 'fail').sort((a, b) => (a.level === b.level ? 0 : a.level === 'MUST' ? -1 : 1));
  for (const r of failed) {
    const among = r.profiles ? ` (checked on the rows of ${r.profiles.map((p) => p ?? 'no known profile').join(', ')})` : '';
    lines.push(`FAIL ${r.level.padEnd(6)} ${r.rule_id}  ${r.failing_rows} row(s)${among}  ${r.description}`);
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
