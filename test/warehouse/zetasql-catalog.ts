/**
 * The BigQuery side of the dialect tests: a ZetaSQL catalog of the org dataset built from the
 * table schemas (configs/schemas, BigQuery's own type names) and from the procedures' BigQuery
 * UDFs and table functions, BigQuery's language options, and values moved in and out of ZetaSQL.
 *
 * Tables are entries of the catalog's root named `dataset.table` and read as `` `dataset.table` ``,
 * the form the BigQuery procedures use: the service fills only root tables with rows
 * (EvaluateQuery's table_content), and BigQuery splits a quoted path at its dots itself.
 * Functions live in a sub-catalog named after the dataset (`dataset.fn(...)`), as templated SQL
 * functions inlined by ZetaSQL's rewriters, so the reference implementation evaluates their bodies.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type SqlParams } from '../../src/warehouse/warehouse.ts';

export interface BqColumn {
  name: string;
  /** A BigQuery type: STRING, INT64, FLOAT64, NUMERIC, BIGNUMERIC, BOOL, DATE, TIMESTAMP, JSON, ARRAY<STRING>. */
  type: string;
}

export interface BqTable {
  /** `dataset.table` */
  name: string;
  columns: BqColumn[];
  /** Rows as the DuckDB warehouse returns them (decimals and big integers as text). */
  rows?: Record<string, unknown>[];
}

type Proto = Record<string, unknown>;

/** The rewrites ZetaSQL enables by default, plus inlining of SQL UDFs and TVFs (the evaluator runs only inlined ones). */
const REWRITES = [
  'REWRITE_FLATTEN', 'REWRITE_PROTO_MAP_FNS', 'REWRITE_ARRAY_FILTER_TRANSFORM', 'REWRITE_UNPIVOT', 'REWRITE_PIVOT', 'REWRITE_ARRAY_INCLUDES',
  'REWRITE_TYPEOF_FUNCTION', 'REWRITE_WITH_EXPR', 'REWRITE_NULLIFERROR_FUNCTION', 'REWRITE_LIKE_ANY_ALL', 'REWRITE_BUILTIN_FUNCTION_INLINER',
  'REWRITE_SET_OPERATION_CORRESPONDING', 'REWRITE_GROUPING_SET', 'REWRITE_INLINE_SQL_FUNCTIONS', 'REWRITE_INLINE_SQL_TVFS',
];

/** The statements BigQuery procedures and macros are made of here. */
const STATEMENT_KINDS = ['RESOLVED_QUERY_STMT', 'RESOLVED_CREATE_FUNCTION_STMT', 'RESOLVED_CREATE_TABLE_FUNCTION_STMT'];

/**
 * ZetaSQL's array functions that BigQuery does not offer (the lambda ones, ARRAY_INCLUDES, _FIND,
 * _OFFSET, _SUM, _AVG, _MIN, _MAX, _ZIP, _IS_DISTINCT): left out of the catalog, so a statement
 * calling one fails as it would in BigQuery. Their signature ids, from the package's own proto.
 */
let excluded: string[] | undefined;
function notInBigQuery(): string[] {
  const proto = () => join(dirname(createRequire(import.meta.url).resolve('@fivetrandevelopers/zetasql')), 'zetasql', 'protos', 'zetasql', 'public', 'builtin_function.proto');
  excluded ??= [...readFileSync(proto(), 'utf8').matchAll(/^\s*(FN_ARRAY_(?:FILTER|TRANSFORM|INCLUDES|FIND|OFFSET|SUM|AVG|MIN|MAX|ZIP|IS_DISTINCT)[A-Z0-9_]*)\s*=/gm)].map((m) => m[1] as string);
  return excluded;
}

/**
 * BigQuery's language as ZetaSQL models it: the external product mode (no INT32, UINT64, FLOAT,
 * PROTO or ENUM), every released feature of ZetaSQL's newest version, and the statement kinds above.
 */
export async function bigQueryLanguage(call: (method: string, request: Proto) => Promise<Proto>): Promise<Proto> {
  const maximum = await call('getLanguageOptions', { maximumFeatures: true });
  return { ...maximum, productMode: 'PRODUCT_EXTERNAL', nameResolutionMode: 'NAME_RESOLUTION_DEFAULT', supportedStatementKinds: STATEMENT_KINDS };
}

export function analyzerOptions(language: Proto, params: SqlParams): Proto {
  return {
    languageOptions: language,
    errorMessageMode: 'ERROR_MESSAGE_ONE_LINE',
    defaultTimezone: 'UTC',
    enabledRewrites: REWRITES,
    queryParameters: Object.entries(params).map(([name, value]) => ({ name, type: typeProto(paramType(value)) })),
  };
}

/** A run parameter as the BigQuery warehouse binds it: text, INT64 or FLOAT64 numbers, BOOL. */
function paramType(value: SqlParams[string]): string {
  if (typeof value === 'number') return Number.isInteger(value) ? 'INT64' : 'FLOAT64';
  if (typeof value === 'boolean') return 'BOOL';
  return 'STRING';
}

export function paramValues(params: SqlParams): Proto[] {
  return Object.entries(params).map(([name, value]) => ({ name, value: encode(value, paramType(value)) }));
}

export function typeProto(type: string): Proto {
  const array = /^ARRAY<(.+)>$/.exec(type);
  if (array) return { typeKind: 'TYPE_ARRAY', arrayType: { elementType: typeProto(array[1] as string) } };
  const kind = { STRING: 'TYPE_STRING', INT64: 'TYPE_INT64', FLOAT64: 'TYPE_DOUBLE', NUMERIC: 'TYPE_NUMERIC', BIGNUMERIC: 'TYPE_BIGNUMERIC', BOOL: 'TYPE_BOOL', DATE: 'TYPE_DATE', TIMESTAMP: 'TYPE_TIMESTAMP', JSON: 'TYPE_JSON' }[type];
  if (!kind) throw new Error(`no ZetaSQL type for ${type}`);
  return { typeKind: kind };
}

/** A UDF or table function of a BigQuery macros file, as the statement that creates it declares it. */
export interface BqRoutine {
  name: string;
  table: boolean;
  params: { name: string; type: string }[];
  body: string;
}

/**
 * `CREATE OR REPLACE [TABLE] FUNCTION dataset.name(params) AS (body)`, the only statements of the
 * macros files. ZetaSQL analyses each statement too; this only lifts its parts into the catalog.
 */
export function parseRoutine(statement: string): BqRoutine {
  const head = /^CREATE OR REPLACE (TABLE )?FUNCTION [A-Za-z0-9_]+\.([A-Za-z0-9_]+)\s*\(/.exec(statement);
  if (!head) throw new Error(`not a CREATE OR REPLACE [TABLE] FUNCTION statement: ${statement.slice(0, 80)}`);
  let depth = 1;
  let i = head[0].length;
  for (; i < statement.length && depth > 0; i++) {
    const ch = statement[i];
    if (ch === '(' || ch === '<') depth++;
    else if (ch === ')' || ch === '>') depth--;
  }
  const params = splitTopLevel(statement.slice(head[0].length, i - 1)).map((param) => {
    const [, name, type] = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s+([\s\S]+?)\s*$/.exec(param) ?? [];
    if (!name || !type) throw new Error(`cannot read parameter ${param}`);
    return { name, type };
  });
  const rest = statement.slice(i);
  const as = /^\s*AS\s*\(/.exec(rest);
  if (!as || !rest.trimEnd().endsWith(')')) throw new Error(`${head[2]}: expected AS (...)`);
  return { name: head[2] as string, table: head[1] !== undefined, params, body: rest.slice(as[0].length, rest.trimEnd().length - 1) };
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(' || ch === '<') depth++;
    if (ch === ')' || ch === '>') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  if (current.trim()) parts.push(current);
  return parts;
}

function argument(param: { name: string; type: string }): Proto {
  const options = { cardinality: 'REQUIRED', argumentName: param.name };
  if (param.type === 'ANY TYPE') return { kind: 'ARG_TYPE_ARBITRARY', numOccurrences: 1, options };
  const table = /^TABLE<([\s\S]*)>$/.exec(param.type);
  if (table) {
    const column = splitTopLevel(table[1] as string).map((c) => {
      const [name, ...type] = c.trim().split(/\s+/);
      return { name, type: typeProto(type.join(' ')) };
    });
    // BigQuery: "the table argument can contain columns in addition to those in the parameter schema".
    return { kind: 'ARG_TYPE_RELATION', numOccurrences: 1, options: { ...options, extraRelationInputColumnsAllowed: true, relationInputSchema: { column } } };
  }
  return { kind: 'ARG_TYPE_FIXED', type: typeProto(param.type), numOccurrences: 1, options };
}

function routineProto(routine: BqRoutine): { function?: Proto; tvf?: Proto } {
  const args = routine.params.map(argument);
  const body = { input: routine.body, bytePosition: 0 };
  if (routine.table) {
    return {
      tvf: {
        namePath: [routine.name],
        type: 'TEMPLATED_SQL_TVF',
        argumentName: routine.params.map((p) => p.name),
        parseResumeLocation: body,
        signature: { argument: args, returnType: { kind: 'ARG_TYPE_RELATION', numOccurrences: 1 } },
      },
    };
  }
  return {
    function: {
      namePath: [routine.name],
      group: 'Templated_SQL_Function',
      mode: 'SCALAR',
      signature: [{ argument: args, returnType: { kind: 'ARG_TYPE_ARBITRARY', numOccurrences: 1 } }],
      templatedSqlFunctionArgumentName: routine.params.map((p) => p.name),
      parseResumeLocation: body,
    },
  };
}

export function catalogProto(language: Proto, dataset: string, tables: readonly BqTable[], routines: readonly BqRoutine[]): Proto {
  const protos = routines.map(routineProto);
  return {
    name: 'bigquery',
    builtinFunctionOptions: { languageOptions: language, excludeFunctionIds: notInBigQuery() },
    table: tables.map((t) => ({ name: t.name, column: t.columns.map((c) => ({ name: c.name, type: typeProto(c.type) })) })),
    catalog: [{ name: dataset, customFunction: protos.flatMap((p) => (p.function ? [p.function] : [])), customTvf: protos.flatMap((p) => (p.tvf ? [p.tvf] : [])) }],
  };
}

export function tableContent(tables: readonly BqTable[]): Proto {
  return Object.fromEntries(
    tables.map((t) => [t.name, { tableData: { row: (t.rows ?? []).map((row) => ({ cell: t.columns.map((c) => encode(row[c.name], c.type)) })) } }]),
  );
}

/** A DuckDB value (as getRowObjectsJson renders it) as the ZetaSQL value of a BigQuery type. */
export function encode(value: unknown, type: string): Proto {
  if (value === null || value === undefined) return {};
  const array = /^ARRAY<(.+)>$/.exec(type);
  if (array) return { arrayValue: { element: (value as unknown[]).map((v) => encode(v, array[1] as string)) } };
  switch (type) {
    case 'STRING':
      return { stringValue: String(value) };
    case 'JSON':
      return { jsonValue: typeof value === 'string' ? value : JSON.stringify(value) };
    case 'INT64':
      return { int64Value: String(value) };
    case 'FLOAT64':
      return { doubleValue: Number(value) };
    case 'NUMERIC':
      return { numericValue: scaledBytes(String(value), 9) };
    case 'BIGNUMERIC':
      return { bignumericValue: scaledBytes(String(value), 38) };
    case 'BOOL':
      return { boolValue: value === true || value === 'true' };
    case 'DATE':
      return { dateValue: Math.round(Date.parse(`${String(value).slice(0, 10)}T00:00:00Z`) / 86_400_000) };
    case 'TIMESTAMP': {
      const { seconds, nanos } = timestampParts(String(value));
      return { timestampValue: { seconds: String(seconds), nanos } };
    }
  }
  throw new Error(`cannot encode a ${type}`);
}

/** `2023-06-01 00:00:00.5+00` (DuckDB's rendering) or ISO text, to seconds and nanoseconds since the epoch. */
function timestampParts(text: string): { seconds: number; nanos: number } {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(text.trim());
  if (!m) throw new Error(`not a timestamp: ${text}`);
  const zone = !m[4] || m[4] === 'Z' ? 'Z' : m[4].length === 3 ? `${m[4]}:00` : m[4].includes(':') ? m[4] : `${m[4].slice(0, 3)}:${m[4].slice(3)}`;
  const ms = Date.parse(`${m[1]}T${m[2]}${zone}`);
  return { seconds: ms / 1000, nanos: Number((m[3] ?? '').padEnd(9, '0').slice(0, 9)) };
}

/** NumericValue / BigNumericValue::SerializeAsProtoBytes: value x 10^scale, little-endian two's complement, fewest bytes. */
function scaledBytes(text: string, scale: number): Buffer {
  const m = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`not a decimal: ${text}`);
  const exponent = Number(m[4] ?? 0);
  const digits = `${m[2] ?? ''}${m[3] ?? ''}` || '0';
  const shift = scale - (m[3]?.length ?? 0) + exponent;
  let scaled = shift >= 0 ? BigInt(digits) * 10n ** BigInt(shift) : BigInt(digits) / 10n ** BigInt(-shift);
  if (m[1] === '-') scaled = -scaled;
  const bytes: number[] = [];
  let v = scaled;
  do {
    bytes.push(Number(BigInt.asUintN(8, v)));
    v >>= 8n;
  } while (!((v === 0n && (bytes.at(-1) as number) < 0x80) || (v === -1n && (bytes.at(-1) as number) >= 0x80)));
  return Buffer.from(bytes);
}

function unscale(bytes: Uint8Array, scale: number): string {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] as number);
  if (bytes.length > 0 && (bytes[bytes.length - 1] as number) >= 0x80) v -= 1n << BigInt(8 * bytes.length);
  const negative = v < 0n;
  const digits = (negative ? -v : v).toString().padStart(scale + 1, '0');
  return `${negative ? '-' : ''}${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
}

type Long = { low: number; high: number };
const long = (v: unknown): bigint =>
  typeof v === 'object' && v !== null && 'low' in v ? BigInt.asIntN(64, (BigInt((v as Long).high >>> 0) << 32n) | BigInt((v as Long).low >>> 0)) : BigInt(String(v));

/** A ZetaSQL result value as JSON-friendly text or number, the way the DuckDB warehouse returns its rows. */
export function decode(cell: Proto): unknown {
  const which = cell.value as string | undefined;
  if (!which) return null;
  const v = cell[which];
  switch (which) {
    case 'stringValue':
    case 'jsonValue':
      return v;
    case 'boolValue':
      return v;
    case 'int64Value':
      return long(v).toString();
    case 'doubleValue':
      return v;
    case 'numericValue':
      return unscale(v as Uint8Array, 9);
    case 'bignumericValue':
      return unscale(v as Uint8Array, 38);
    case 'dateValue':
      return new Date((v as number) * 86_400_000).toISOString().slice(0, 10);
    case 'timestampValue': {
      const t = v as { seconds: unknown; nanos: number };
      const ms = Number(long(t.seconds)) * 1000;
      return `${new Date(ms).toISOString().slice(0, 19)}.${String(t.nanos).padStart(9, '0').slice(0, 6)}Z`;
    }
    case 'arrayValue':
      return ((v as { element?: Proto[] }).element ?? []).map(decode);
    case 'structValue':
      return ((v as { field?: Proto[] }).field ?? []).map(decode);
  }
  throw new Error(`cannot decode a ZetaSQL ${which}`);
}
