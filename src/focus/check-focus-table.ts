/**
 * Checks a table (or any table expression) against the FOCUS 1.3 rule set, in the SQL of the
 * warehouse that holds it (`dialect`: DuckDB by default, or BigQuery).
 *
 * Cost: one DESCRIBE, one GROUP BY of the rows' profiles (x_SourceSystem; not when the caller
 * names the provider or the criteria), one scan that counts every row rule's violations
 * (SUM(CASE ...)), one query per dataset-level rule (GROUP BY), and, only when something failed,
 * one query that fetches a few example rows per failing rule. Rules never loop over rows in
 * TypeScript. Per-row applicability (applicability.ts) adds a row condition to the rules that
 * apply to some of the present profiles only, so a mixed export is still one scan.
 */
import { InputError } from '../shared/errors.ts';
import { type Applicability, type ApplicabilityOptions, PROFILE_COLUMN, type RuleScope, resolveApplicability, ruleScope } from './applicability.ts';
import { CHECK_FUNCTIONS, type CompiledCheck } from './check-functions.ts';
import { type FocusRule, type FocusRuleSet, type RuleLevel, loadCurrencyCodes, loadFocusRuleSet } from './focus-rules.ts';
import { DUCKDB_FOCUS_SQL, type FocusSqlDialect } from './sql-dialect.ts';
import { ColumnSet, columnKind, conditionColumns, conditionSql } from './sql-text.ts';

export interface SqlRunner {
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
}

export interface RuleResult {
  rule_id: string;
  status: 'pass' | 'fail' | 'skipped';
  level: RuleLevel;
  description: string;
  /** Rows violating the rule; for a schema failure (missing column, wrong type) every row. */
  failing_rows: number;
  /** A few failing rows: identifying columns plus the columns the rule reads. */
  examples: Record<string, unknown>[];
  reason?: string;
  /** The profiles whose rows the rule was checked on, when not every row's (null: rows of no known profile). */
  profiles?: (string | null)[];
}

export interface CheckFocusTableOptions {
  /** Qualified table ("acme_dev.cost_data_standard_1_3") or table expression ("read_parquet('f')"); trusted SQL. */
  table: string;
  /** The SQL the runner speaks; DuckDB's by default. */
  dialect?: FocusSqlDialect;
  /**
   * The table's columns in table order, with their types (DuckDB's or BigQuery's names). Without
   * them the table is described (DuckDB's DESCRIBE), so a BigQuery caller gives its table schema.
   */
  columns?: readonly { name: string; type: string }[];
  /** Row filter, e.g. the rows one run wrote; trusted SQL. */
  where?: string;
  /**
   * Our provider key: every row has its profile (a conversion's own rows). Without it, nor
   * applicabilityCriteria, each row has the profile its x_SourceSystem names.
   */
  provider?: ApplicabilityOptions['provider'];
  /** Criteria every row declares (names of the model, or 'ALL'), instead of the profiles. */
  applicabilityCriteria?: ApplicabilityOptions['applicabilityCriteria'];
  ruleSet?: FocusRuleSet;
  currencyCodes?: readonly string[];
  maxExamples?: number;
}

/** Columns that identify a charge well enough to find it again, shown in every example. */
const EXAMPLE_KEYS = ['x_SourceRecordId', 'BillingAccountId', 'ChargePeriodStart', 'ChargeCategory', 'ServiceName', 'SkuPriceId', 'ResourceId'];

interface Pending {
  index: number;
  rule: FocusRule;
  compiled: Exclude<CompiledCheck, { kind: 'schema' }>;
  filter: string;
  /** Columns the rule reads, its condition and its profile included. */
  reads: string[];
}

export interface FocusTableCheck {
  results: RuleResult[];
  applicability: Applicability;
}

export async function checkFocusTable(sql: SqlRunner, opts: CheckFocusTableOptions): Promise<RuleResult[]> {
  return (await checkFocusTableWithApplicability(sql, opts)).results;
}

export async function checkFocusTableWithApplicability(sql: SqlRunner, opts: CheckFocusTableOptions): Promise<FocusTableCheck> {
  const ruleSet = opts.ruleSet ?? (await loadFocusRuleSet());
  const currencyCodes = opts.currencyCodes ?? (await loadCurrencyCodes());
  const dialect = opts.dialect ?? DUCKDB_FOCUS_SQL;
  const described = opts.columns ?? (await sql.all(`DESCRIBE SELECT * FROM ${opts.table}`)).map((r) => ({ name: String(r.column_name), type: String(r.column_type) }));
  const order = described.map((c) => c.name);
  const cols = new ColumnSet(described.map((c) => ({ ...c, kind: columnKind(c.type) })), dialect);
  const source = `(SELECT * FROM ${opts.table}${opts.where ? ` WHERE ${opts.where}` : ''})`;
  const applicability = await resolveApplicability(sql, source, cols, ruleSet, opts);
  const focusColumns = new Set(ruleSet.columns);

  const results: RuleResult[] = [];
  const schemaFailures: { index: number; rows?: number | undefined }[] = [];
  const pending: Pending[] = [];
  ruleSet.rules.forEach((rule, index) => {
    const base: RuleResult = { rule_id: rule.id, status: 'skipped', level: rule.level, description: rule.description, failing_rows: 0, examples: [] };
    results.push(base);
    const scope: RuleScope = rule.skipped === undefined ? ruleScope(rule, applicability, cols) : {};
    const skip = rule.skipped ?? scope.skip ?? missingColumns(rule, cols);
    if (skip) return void (base.reason = skip);
    if (scope.profiles) base.profiles = scope.profiles;
    const fn = CHECK_FUNCTIONS[rule.check as string];
    if (!fn) throw new InputError(`rule ${rule.id}: unknown check function ${String(rule.check)}`);
    const compiled = fn.compile({ args: rule.args ?? {}, cols, order, focusColumns, currencyCodes });
    if (compiled.kind === 'schema') {
      base.status = compiled.failed ? 'fail' : 'pass';
      if (compiled.failed) {
        base.reason = compiled.detail;
        schemaFailures.push({ index, rows: scope.rows });
      }
      return;
    }
    const conditions = [scope.condition, rule.when ? conditionSql(rule.when, cols) : undefined].filter((c) => c !== undefined);
    const filter = conditions.length > 0 ? conditions.join(' AND ') : 'TRUE';
    const reads = [...fn.columns(rule.args ?? {}), ...conditionColumns(rule.when), ...(scope.condition ? [PROFILE_COLUMN] : [])];
    pending.push({ index, rule, compiled, filter, reads: [...new Set(reads)] });
  });

  const perValue = (p: Pending) => dialect.groupsJson && p.compiled.kind === 'row' && p.compiled.perValue === true;
  const rowRules = pending.filter((p) => p.compiled.kind === 'row' && !perValue(p));
  const predicate = (p: Pending) => `(${p.filter}) AND (${(p.compiled as { violation: string }).violation})`;
  // sum(CASE ...) rather than count(*) FILTER (WHERE ...): measured 25% faster over 156 rules.
  const counts = await sql.all(
    `SELECT count(*) AS n${rowRules.map((p, i) => `, sum(CASE WHEN ${predicate(p)} THEN 1 ELSE 0 END) AS f${i}`).join('')} FROM ${source}`,
  );
  const totalRows = Number(counts[0]?.n ?? 0);
  // A missing column fails the rows whose profile demands it.
  for (const { index, rows } of schemaFailures) (results[index] as RuleResult).failing_rows = rows ?? totalRows;

  const failingRowRules: Pending[] = [];
  rowRules.forEach((p, i) => {
    const failing = Number(counts[0]?.[`f${i}`] ?? 0);
    settle(results[p.index] as RuleResult, failing, []);
    if (failing > 0) failingRowRules.push(p);
  });
  // A costly predicate (JSON parsing) is evaluated once per distinct value of the columns it
  // reads, each value weighted by its rows: a load's Tags hold far fewer distinct objects than rows.
  for (const p of pending.filter(perValue)) {
    const read = p.reads.map((c) => dialect.ident(c));
    const [r] = await sql.all(
      `SELECT coalesce(sum(n), 0) AS failing_rows FROM (SELECT ${read.join(', ')}, count(*) AS n FROM ${source} GROUP BY ${read.map((_, i) => i + 1).join(', ')}) WHERE ${predicate(p)}`,
    );
    const failing = Number(r?.failing_rows ?? 0);
    settle(results[p.index] as RuleResult, failing, []);
    if (failing > 0) failingRowRules.push(p);
  }
  await attachExamples(sql, source, cols, failingRowRules, results, opts.maxExamples ?? 3);

  for (const p of pending.filter((x) => x.compiled.kind === 'dataset')) {
    const query = (p.compiled as { query: (s: string) => string }).query(`(SELECT * FROM ${source} WHERE ${p.filter})`);
    const [r] = await sql.all(query);
    settle(results[p.index] as RuleResult, Number(r?.failing_rows ?? 0), parseJsonList(r?.examples));
  }
  return { results, applicability };
}

function settle(result: RuleResult, failing: number, examples: Record<string, unknown>[]): void {
  result.status = failing > 0 ? 'fail' : 'pass';
  result.failing_rows = failing;
  result.examples = examples;
}

/** One UNION ALL query; each branch stops after a few hits, so it is cheap when rules fail often. */
async function attachExamples(sql: SqlRunner, source: string, cols: ColumnSet, failing: Pending[], results: RuleResult[], limit: number): Promise<void> {
  if (failing.length === 0 || limit <= 0) return;
  const branches = failing.map((p) => {
    // The offending columns first, so a reader sees the bad value before the identifying keys.
    const wanted = [...p.reads, ...EXAMPLE_KEYS];
    const shown = [...new Set(wanted)].filter((c) => cols.has(c)).slice(0, 10);
    const fields = shown.length ? shown.map((c) => [c, cols.sql.ident(c)] as const) : [['row', "'n/a'"] as const];
    const filter = `(${p.filter}) AND (${(p.compiled as { violation: string }).violation})`;
    return `SELECT ${p.index} AS r, ${cols.sql.recordJson(fields)} AS e FROM (SELECT * FROM ${source} WHERE ${filter} LIMIT ${limit})`;
  });
  for (const row of await sql.all(branches.join(' UNION ALL '))) {
    (results[Number(row.r)] as RuleResult).examples.push(JSON.parse(String(row.e)) as Record<string, unknown>);
  }
}

function parseJsonList(value: unknown): Record<string, unknown>[] {
  if (value === null || value === undefined) return [];
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  return Array.isArray(parsed) ? (parsed as Record<string, unknown>[]) : [];
}

function missingColumns(rule: FocusRule, cols: ColumnSet): string | undefined {
  const missing = CHECK_FUNCTIONS[rule.check as string]?.columns(rule.args ?? {}).filter((c) => !cols.has(c)) ?? [];
  return missing.length > 0 ? `column ${missing.join(', ')} absent` : undefined;
}
