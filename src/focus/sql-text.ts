/**
 * SQL text helpers for the FOCUS checker. Every check is compiled to SQL text in the dialect of
 * the warehouse that runs it (sql-dialect.ts); names and values come from the rule file, so they
 * are validated and quoted there, in one place.
 */
import type { Condition } from './focus-rules.ts';
import { DUCKDB_FOCUS_SQL, type FocusSqlDialect } from './sql-dialect.ts';

/** How a column is stored decides how a check reads it (typed warehouse table vs CSV text). */
export type ColumnKind = 'string' | 'json' | 'number' | 'timestamp' | 'other';

export interface ColumnInfo {
  name: string;
  type: string;
  kind: ColumnKind;
}

/** The kind of a DuckDB type (DESCRIBE) or a BigQuery one (the table's schema). */
export function columnKind(type: string): ColumnKind {
  const t = type.toUpperCase();
  if (t === 'VARCHAR' || t === 'STRING') return 'string';
  if (t === 'JSON') return 'json';
  if (/^(DECIMAL|NUMERIC|BIGNUMERIC|DOUBLE|FLOAT64|FLOAT|REAL|HUGEINT|UHUGEINT|BIGINT|UBIGINT|INT64|INTEGER|UINTEGER|SMALLINT|USMALLINT|TINYINT|UTINYINT)\b/.test(t)) {
    return 'number';
  }
  if (t.startsWith('TIMESTAMP')) return 'timestamp';
  return 'other';
}

/** Decimal places a type keeps: DECIMAL(p, s) and NUMERIC(p, s) their scale, BigQuery's NUMERIC 9 and BIGNUMERIC 38. */
function decimalScale(type: string): number | undefined {
  const t = type.toUpperCase();
  const parameterised = /^(?:DECIMAL|NUMERIC|BIGNUMERIC)\(\s*\d+\s*,\s*(\d+)\s*\)/.exec(t);
  if (parameterised) return Number(parameterised[1]);
  if (t === 'NUMERIC') return 9;
  if (t === 'BIGNUMERIC') return 38;
  return undefined;
}

/** The table's columns, and SQL views of a column that work for typed and text storage. */
export class ColumnSet {
  readonly byName: ReadonlyMap<string, ColumnInfo>;
  /** The dialect every check of these columns is written in. */
  readonly sql: FocusSqlDialect;
  constructor(columns: readonly ColumnInfo[], sql: FocusSqlDialect = DUCKDB_FOCUS_SQL) {
    this.byName = new Map(columns.map((c) => [c.name, c]));
    this.sql = sql;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  kind(name: string): ColumnKind | undefined {
    return this.byName.get(name)?.kind;
  }

  /** The column itself, or NULL when absent: FOCUS treats a missing column as all null. */
  ref(name: string): string {
    return this.has(name) ? this.sql.ident(name) : 'NULL';
  }

  /** Text of the value (CSV text as read, typed values as the warehouse renders them). */
  text(name: string): string {
    const k = this.kind(name);
    return k === 'string' || k === undefined ? this.ref(name) : this.sql.text(this.sql.ident(name));
  }

  /** Numeric value; DOUBLE so products of DECIMAL(38,9) columns cannot overflow. */
  number(name: string): string {
    return this.kind(name) === 'number' ? this.sql.double(this.sql.ident(name)) : this.sql.tryDouble(this.text(name));
  }

  /**
   * How much rounding the value to its stated precision may have changed it: half a unit in the
   * last place of a decimal column's scale. Values of other types (a CSV's text, a Parquet
   * DOUBLE) state no precision and are taken as written, unless `written` is given: then half a
   * unit in the last decimal place written (E notation included: `1.5E-7` has 8), but never more
   * than `written` (a cost written `2.4` may have lost its trailing zeros, not its cents).
   */
  halfUlp(name: string, written?: number): string {
    const type = this.byName.get(name)?.type.toUpperCase() ?? '';
    const scale = decimalScale(type);
    if (scale !== undefined) return `5e-${scale + 1}`;
    if (written === undefined || (this.kind(name) === 'number' && !/^(DOUBLE|FLOAT|REAL)/.test(type))) return '0';
    const t = `trim(${this.text(name)})`;
    const places = `(coalesce(length(${this.sql.regexpExtract(t, '\\.([0-9]*)')}), 0) - coalesce(${this.sql.tryInteger(this.sql.regexpExtract(t, '[eE]([-+]?[0-9]+)$'))}, 0))`;
    return `least(${this.sql.literal(written)}, 0.5 * pow(10, -${places}))`;
  }

  timestamp(name: string): string {
    return this.kind(name) === 'timestamp' ? this.sql.ident(name) : this.sql.tryTimestamp(this.text(name));
  }

  /** Parsed JSON, or NULL when the text is not valid JSON (so a bad row cannot abort the scan). */
  json(name: string): string {
    if (this.kind(name) === 'json') return this.sql.ident(name);
    return this.sql.parseJson(this.text(name));
  }
}

/** A null-safe boolean: rows where the condition is unknown count as not matching. */
export function conditionSql(c: Condition, cols: ColumnSet): string {
  if ('all' in c) return c.all.length === 0 ? 'TRUE' : `(${c.all.map((x) => conditionSql(x, cols)).join(' AND ')})`;
  if ('any' in c) return c.any.length === 0 ? 'FALSE' : `(${c.any.map((x) => conditionSql(x, cols)).join(' OR ')})`;
  const value = (v: string | number, col: string) =>
    typeof v === 'number' ? `${cols.number(col)} = ${cols.sql.literal(v)}` : `${cols.text(col)} = ${cols.sql.literal(v)}`;
  if ('is_null' in c) return `(${cols.ref(c.column)} IS ${c.is_null ? '' : 'NOT '}NULL)`;
  if ('equals' in c) return `coalesce(${value(c.equals, c.column)}, FALSE)`;
  // "is not X" includes null (FOCUS model convention), hence coalesce to TRUE.
  if ('not_equals' in c) return `coalesce(NOT (${value(c.not_equals, c.column)}), TRUE)`;
  return `coalesce(${cols.text(c.column)} IN (${c.in.map((v) => cols.sql.literal(v)).join(', ')}), FALSE)`;
}

export function conditionColumns(c: Condition | undefined): string[] {
  if (!c) return [];
  if ('all' in c) return c.all.flatMap(conditionColumns);
  if ('any' in c) return c.any.flatMap(conditionColumns);
  return [c.column];
}

export function describeCondition(c: Condition): string {
  if ('all' in c) return c.all.map(describeCondition).join(' and ');
  if ('any' in c) return `(${c.any.map(describeCondition).join(' or ')})`;
  if ('is_null' in c) return `${c.column} is ${c.is_null ? '' : 'not '}null`;
  if ('equals' in c) return `${c.column} is ${JSON.stringify(c.equals)}`;
  if ('not_equals' in c) return `${c.column} is not ${JSON.stringify(c.not_equals)}`;
  return `${c.column} is one of ${c.in.map((v) => JSON.stringify(v)).join(', ')}`;
}
