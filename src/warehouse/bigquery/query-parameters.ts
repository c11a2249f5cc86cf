import { ProcessorError } from '../../shared/errors.ts';
import type { SqlParams } from '../warehouse.ts';
import type { ResultField } from './bigquery-jobs.ts';

type Value = SqlParams[string] | unknown;

interface QueryParameter {
  name?: string;
  parameterType: { type: string };
  parameterValue: { value?: string };
}

/**
 * The named parameters (`@name`) a statement uses, outside quotes and comments. `@@name` is a
 * system variable, not a parameter.
 */
export function parameterNames(sql: string): Set<string> {
  const names = new Set<string>();
  for (let i = 0; i < sql.length; i++) {
    const char = sql[i] as string;
    if (char === "'" || char === '"' || char === '`') {
      const triple = sql.startsWith(char.repeat(3), i) ? char.repeat(3) : char;
      let end = i + triple.length;
      while (end < sql.length && !sql.startsWith(triple, end)) end += sql[end] === '\\' ? 2 : 1;
      i = end + triple.length - 1;
    } else if (char === '-' && sql[i + 1] === '-') {
      i = sql.indexOf('\n', i) === -1 ? sql.length : sql.indexOf('\n', i);
    } else if (char === '#') {
      i = sql.indexOf('\n', i) === -1 ? sql.length : sql.indexOf('\n', i);
    } else if (char === '/' && sql[i + 1] === '*') {
      i = sql.indexOf('*/', i + 2) === -1 ? sql.length : sql.indexOf('*/', i + 2) + 1;
    } else if (char === '@') {
      if (sql[i + 1] === '@') {
        i++;
        continue;
      }
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))?.[0];
      if (name) names.add(name);
    }
  }
  return names;
}

function parameter(value: Value): QueryParameter {
  if (value === null || value === undefined) return { parameterType: { type: 'STRING' }, parameterValue: {} };
  if (typeof value === 'boolean') return { parameterType: { type: 'BOOL' }, parameterValue: { value: String(value) } };
  if (typeof value === 'bigint') return { parameterType: { type: 'INT64' }, parameterValue: { value: String(value) } };
  if (typeof value === 'number') return { parameterType: { type: Number.isInteger(value) ? 'INT64' : 'FLOAT64' }, parameterValue: { value: String(value) } };
  if (value instanceof Date) return { parameterType: { type: 'TIMESTAMP' }, parameterValue: { value: value.toISOString() } };
  return { parameterType: { type: 'STRING' }, parameterValue: { value: String(value) } };
}

/**
 * The job's query parameters for a statement: the named ones it uses, each typed from its value
 * (a string is STRING: SQL casts it, `CAST(@start_date AS DATE)`, as the DuckDB forms do). Like
 * the DuckDB warehouse, only the parameters the statement names are sent, so callers may pass a
 * shared set (a run's variables), and a name without a value fails before anything runs.
 */
export function namedParameters(sql: string, params: SqlParams = {}): { parameterMode?: 'NAMED'; queryParameters?: QueryParameter[] } {
  const used = [...parameterNames(sql)];
  if (used.length === 0) return {};
  const missing = used.filter((name) => !(name in params));
  if (missing.length > 0) throw new ProcessorError(`SQL parameter @${missing[0]} has no value`, { retryable: false });
  return { parameterMode: 'NAMED', queryParameters: used.map((name) => ({ name, ...parameter(params[name]) })) };
}

export function positionalParameters(values: readonly unknown[] = []): { parameterMode?: 'POSITIONAL'; queryParameters?: QueryParameter[] } {
  return values.length === 0 ? {} : { parameterMode: 'POSITIONAL', queryParameters: values.map(parameter) };
}

/**
 * REST rows (`{f: [{v}]}`, every scalar a string) as plain objects in the shapes the DuckDB
 * warehouse's query() returns: 64-bit integers and decimals as strings (exact), floats as
 * numbers, booleans, dates as `YYYY-MM-DD`, timestamps as ISO strings in UTC.
 */
export function resultRows(fields: readonly ResultField[], rows: readonly { f: { v: unknown }[] }[]): Record<string, unknown>[] {
  return rows.map((row) => record(fields, row));
}

function record(fields: readonly ResultField[], row: { f: { v: unknown }[] }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  fields.forEach((field, i) => {
    out[field.name] = value(field, row.f[i]?.v);
  });
  return out;
}

function value(field: ResultField, raw: unknown): unknown {
  if (raw === null || raw === undefined) return field.mode === 'REPEATED' ? [] : null;
  if (field.mode === 'REPEATED') return (raw as { v: unknown }[]).map((item) => value({ ...field, mode: 'NULLABLE' }, item.v));
  switch (field.type) {
    case 'RECORD':
    case 'STRUCT':
      return record(field.fields ?? [], raw as { f: { v: unknown }[] });
    case 'FLOAT':
    case 'FLOAT64':
      return Number(raw);
    case 'BOOLEAN':
    case 'BOOL':
      return raw === 'true' || raw === true;
    case 'TIMESTAMP':
      return timestamp(String(raw));
    default:
      return String(raw);
  }
}

/** With formatOptions.useInt64Timestamp, microseconds since the epoch; else seconds as a float. */
function timestamp(raw: string): string {
  const micros = /^-?\d+$/.test(raw) ? BigInt(raw) : BigInt(Math.round(Number(raw) * 1e6));
  const millis = Number(micros / 1000n);
  const iso = new Date(millis).toISOString();
  const rest = micros % 1000n;
  return rest === 0n ? iso : iso.replace('Z', `${String(rest < 0n ? -rest : rest).padStart(3, '0')}Z`);
}
