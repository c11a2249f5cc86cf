/**
 * SQL text helpers for the FOCUS checker. Every check is compiled to DuckDB SQL text; names
 * and values come from the rule file, so they are validated and quoted here, in one place.
 */
import type { Condition } from './focus-rules.ts';

/** How a column is stored decides how a check reads it (typed warehouse table vs CSV text). */
export type ColumnKind = 'string' | 'json' | 'number' | 'timestamp' | 'other';

export interface ColumnInfo {
  name: string;
  type: string;
  kind: ColumnKind;
}

export function columnKind(duckdbType: string): ColumnKind {
  const t = duckdbType.toUpperCase();
  if (t === 'VARCHAR') return 'string';
  if (t === 'JSON') return 'json';
  if (/^(DECIMAL|NUMERIC|DOUBLE|FLOAT|REAL|HUGEINT|UHUGEINT|BIGINT|UBIGINT|INTEGER|UINTEGER|SMALLINT|USMALLINT|TINYINT|UTINYINT)\b/.test(t)) {
    return 'number';
  }
  if (t.startsWith('TIMESTAMP')) return 'timestamp';
  return 'other';
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isColumnName(name: string): boolean {
  return NAME.test(name);
}

export function ident(name: string): string {
  if (!NAME.test(name)) throw new Error(`not a column name: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

export function literal(value: string | number | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  return `'${value.replaceAll("'", "''")}'`;
}

export function listLiteral(values: readonly string[]): string {
  return `[${values.map(literal).join(', ')}]::VARCHAR[]`;
}

/** The table's columns, and SQL views of a column that work for typed and text storage. */
export class ColumnSet {
  readonly byName: ReadonlyMap<string, ColumnInfo>;
  constructor(columns: readonly ColumnInfo[]) {
    this.byName = new Map(columns.map((c) => [c.name, c]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  kind(name: string): ColumnKind | undefined {
    return this.byName.get(name)?.kind;
  }

  /** The column itself, or NULL when absent: FOCUS treats a missing column as all null. */
  ref(name: string): string {
    return this.has(name) ? ident(name) : 'NULL';
  }

  /** Text of the value (CSV text as read, typed values as DuckDB renders them). */
  text(name: string): string {
    const k = this.kind(name);
    return k === 'string' || k === undefined ? this.ref(name) : `CAST(${ident(name)} AS VARCHAR)`;
  }

  /** Numeric value; DOUBLE so products of DECIMAL(38,9) columns cannot overflow. */
  number(name: string): string {
    return this.kind(name) === 'number' ? `CAST(${ident(name)} AS DOUBLE)` : `TRY_CAST(${this.text(name)} AS DOUBLE)`;
  }

  /**
   * How much rounding the value to its stated precision may have changed it: half a unit in the
   * last place of a DECIMAL column's scale. Values of other types (a CSV's text, a Parquet
   * DOUBLE) state no precision and are taken as written, unless `written` is given: then half a
   * unit in the last decimal place written (E notation included: `1.5E-7` has 8), but never more
   * than `written` (a cost written `2.4` may have lost its trailing zeros, not its cents).
   */
  halfUlp(name: string, written?: number): string {
    const type = this.byName.get(name)?.type.toUpperCase() ?? '';
    const decimal = /^(?:DECIMAL|NUMERIC)\(\s*\d+\s*,\s*(\d+)\s*\)/.exec(type);
    if (decimal) return `5e-${Number(decimal[1]) + 1}`;
    if (written === undefined || (this.kind(name) === 'number' && !/^(DOUBLE|FLOAT|REAL)/.test(type))) return '0';
    const t = `trim(${this.text(name)})`;
    const places = `(coalesce(length(regexp_extract(${t}, '\\.([0-9]*)', 1)), 0) - coalesce(TRY_CAST(regexp_extract(${t}, '[eE]([-+]?[0-9]+)$', 1) AS INTEGER), 0))`;
    return `least(${literal(written)}, 0.5 * pow(10, -${places}))`;
  }

  timestamp(name: string): string {
    return this.kind(name) === 'timestamp' ? ident(name) : `TRY_CAST(${this.text(name)} AS TIMESTAMPTZ)`;
  }

  /** Parsed JSON, or NULL when the text is not valid JSON (so a bad row cannot abort the scan). */
  json(name: string): string {
    if (this.kind(name) === 'json') return ident(name);
    const t = this.text(name);
    return `CASE WHEN json_valid(${t}) THEN CAST(${t} AS JSON) END`;
  }
}

/** A null-safe boolean: rows where the condition is unknown count as not matching. */
export function conditionSql(c: Condition, cols: ColumnSet): string {
  if ('all' in c) return c.all.length === 0 ? 'TRUE' : `(${c.all.map((x) => conditionSql(x, cols)).join(' AND ')})`;
  if ('any' in c) return c.any.length === 0 ? 'FALSE' : `(${c.any.map((x) => conditionSql(x, cols)).join(' OR ')})`;
  const value = (v: string | number, col: string) =>
    typeof v === 'number' ? `${cols.number(col)} = ${literal(v)}` : `${cols.text(col)} = ${literal(v)}`;
  if ('is_null' in c) return `(${cols.ref(c.column)} IS ${c.is_null ? '' : 'NOT '}NULL)`;
  if ('equals' in c) return `coalesce(${value(c.equals, c.column)}, FALSE)`;
  // "is not X" includes null (FOCUS model convention), hence coalesce to TRUE.
  if ('not_equals' in c) return `coalesce(NOT (${value(c.not_equals, c.column)}), TRUE)`;
  return `coalesce(${cols.text(c.column)} IN (${c.in.map(literal).join(', ')}), FALSE)`;
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
