/**
 * Check functions over JSON columns (ContractApplied, AllocatedMethodDetails, ...). Paths are
 * the model's: `$`, `$.Elements`, `$.Elements[*]` (each element) or `$.Elements[*].Key` (a key
 * of each element). Element checks fail a row when any element violates, optionally only for
 * elements that satisfy `element_when` (the model's per-element conditions).
 */
import type { ArgType, CheckFunction, CheckInput, CompiledCheck } from './check-functions.ts';
import { NUMERIC_RE, UNIT_RE } from './focus-formats.ts';
import { type ColumnSet, ident, literal, listLiteral } from './sql-text.ts';

interface JsonPath {
  /** Path of the array whose elements are checked, e.g. $.Elements; undefined for a direct path. */
  array?: string;
  /** Key inside each element, or the last segment of a direct path. */
  key?: string;
  direct: string;
}

export function parseJsonPath(path: string): JsonPath {
  const star = path.indexOf('[*]');
  if (star === -1) return { direct: path };
  const rest = path.slice(star + 3);
  return { array: path.slice(0, star), key: rest ? rest.slice(1) : undefined, direct: path };
}

interface ElementWhen {
  key: string;
  is: 'null' | 'not_null' | 'present';
}

const JSON_NUMBER = ['UBIGINT', 'BIGINT', 'DOUBLE'];
const TYPES: Record<string, string[]> = { Array: ['ARRAY'], Object: ['OBJECT'], String: ['VARCHAR'], Decimal: JSON_NUMBER };

const keyPath = (key: string) => literal(`$.${key}`);
/** JSON type of a key in an element, 'NULL' for a JSON null and for a missing key. */
const typeOf = (e: string, key: string) => `coalesce(json_type(${e}, ${keyPath(key)}), 'NULL')`;

function elementCondition(e: string, when: ElementWhen | undefined): string {
  if (!when) return 'TRUE';
  if (when.is === 'present') return `json_exists(${e}, ${keyPath(when.key)})`;
  return `${typeOf(e, when.key)} ${when.is === 'null' ? '=' : '<>'} 'NULL'`;
}

/** Row violation: some element of the array at `path` satisfies `bad(e)`. */
function anyElement(cols: ColumnSet, column: string, path: JsonPath, when: ElementWhen | undefined, bad: (e: string) => string): string {
  const elements = `json_extract(${cols.json(column)}, ${literal(`${path.array}[*]`)})`;
  const test = `e -> (${elementCondition('e', when)}) AND (${bad('e')})`;
  return `${ident(column)} IS NOT NULL AND coalesce(list_bool_or(list_transform(${elements}, ${test})), FALSE)`;
}

/** Row violation for element-key paths, or for the value at a direct path. */
function atPath(input: CheckInput, bad: (e: string, key: string) => string): CompiledCheck {
  const column = input.args.column as string;
  const path = parseJsonPath(input.args.path as string);
  const when = input.args.element_when as ElementWhen | undefined;
  if (path.array !== undefined && path.key !== undefined) {
    return { kind: 'row', violation: anyElement(input.cols, column, path, when, (e) => bad(e, path.key as string)) };
  }
  // Direct path such as $.Elements: evaluate against the root object.
  const segments = path.direct.split('.');
  const key = segments.pop() as string;
  const parent = segments.join('.') || '$';
  const root = `json_extract(${input.cols.json(column)}, ${literal(parent)})`;
  return { kind: 'row', violation: `${ident(column)} IS NOT NULL AND coalesce(${bad(root, key)}, FALSE)` };
}

/** Values of an object are scalars (KeyValueFormat) and it is an object at all. */
function notKeyValue(obj: string): string {
  const values = `map_values(TRY_CAST(${obj} AS MAP(VARCHAR, JSON)))`;
  return `(coalesce(json_type(${obj}), 'NULL') <> 'OBJECT' OR coalesce(list_bool_or(list_transform(${values}, v -> json_type(v) IN ('OBJECT', 'ARRAY'))), FALSE))`;
}

function uniqueKeys(obj: string): string {
  return `len(json_keys(${obj})) = len(list_distinct(json_keys(${obj})))`;
}

const col = (a: Record<string, unknown>) => [a.column as string];
const pathLabel = (a: Record<string, unknown>) => `${a.column as string} ${a.path as string}`;
const whenText = (a: Record<string, unknown>) => {
  const w = a.element_when as ElementWhen | undefined;
  return w ? ` where ${w.key} is ${w.is === 'present' ? 'present' : w.is.replace('_', ' ')}` : '';
};
const ARGS: Record<string, ArgType> = { column: 'column', path: 'json_path', 'element_when?': 'element_when' };

export const JSON_CHECK_FUNCTIONS: Record<string, CheckFunction> = {
  key_value_format: {
    args: { column: 'column' },
    describe: (a) => `${a.column as string} is a JSON object of unique keys with scalar values (KeyValueFormat)`,
    columns: col,
    compile: ({ cols, args }) => {
      const j = cols.json(args.column as string);
      return { kind: 'row', perValue: true, violation: `${ident(args.column as string)} IS NOT NULL AND (${notKeyValue(j)} OR NOT coalesce(${uniqueKeys(j)}, FALSE))` };
    },
  },
  json_object_format: {
    args: { column: 'column' },
    describe: (a) => `${a.column as string} is a JSON object with unique keys (JsonObjectFormat)`,
    columns: col,
    compile: ({ cols, args }) => {
      const j = cols.json(args.column as string);
      return { kind: 'row', violation: `${ident(args.column as string)} IS NOT NULL AND NOT coalesce(json_type(${j}) = 'OBJECT' AND ${uniqueKeys(j)}, FALSE)` };
    },
  },
  json_type: {
    args: { column: 'column', path: 'json_path', type: 'string' },
    describe: (a) => `${pathLabel(a)} is of JSON type ${a.type as string}`,
    columns: col,
    compile: (input) => {
      const types = TYPES[input.args.type as string] ?? [];
      const p = parseJsonPath(input.args.path as string);
      const inList = (t: string) => `${t} IN (${types.map((x) => literal(x)).join(', ')})`;
      if (p.array !== undefined && p.key === undefined) {
        const v = anyElement(input.cols, input.args.column as string, p, undefined, (e) => `NOT coalesce(${inList(`json_type(${e})`)}, FALSE)`);
        return { kind: 'row', violation: v };
      }
      // A direct path ($.Elements) must exist with that type. For element keys only present,
      // non-null values are typed: key presence and nullness have rules of their own.
      if (p.array === undefined) return atPath(input, (e, key) => `NOT ${inList(typeOf(e, key))}`);
      return atPath(input, (e, key) => `${typeOf(e, key)} <> 'NULL' AND NOT ${inList(typeOf(e, key))}`);
    },
  },
  json_key_exists: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} key exists${whenText(a)}`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `NOT coalesce(json_exists(${e}, ${keyPath(key)}), FALSE)`),
  },
  json_keys_exist: {
    args: { column: 'column', path: 'json_path', keys: 'strings' },
    describe: (a) => `each ${pathLabel(a)} has keys ${(a.keys as string[]).join(', ')}`,
    columns: col,
    compile: ({ cols, args }) => {
      const keys = args.keys as string[];
      const bad = (e: string) => keys.map((k) => `NOT json_exists(${e}, ${keyPath(k)})`).join(' OR ');
      return { kind: 'row', violation: anyElement(cols, args.column as string, parseJsonPath(args.path as string), undefined, bad) };
    },
  },
  json_key_value_format: {
    args: { column: 'column', path: 'json_path' },
    describe: (a) => `each ${pathLabel(a)} is a flat key-value object`,
    columns: col,
    compile: ({ cols, args }) => ({
      kind: 'row',
      violation: anyElement(cols, args.column as string, parseJsonPath(args.path as string), undefined, notKeyValue),
    }),
  },
  json_keys_prefixed: {
    args: { column: 'column', path: 'json_path', prefix: 'string', ignore: 'strings' },
    describe: (a) => `custom keys of ${pathLabel(a)} start with ${a.prefix as string}`,
    columns: col,
    compile: ({ cols, args }) => {
      const prefix = literal(args.prefix as string);
      const ignore = listLiteral(args.ignore as string[]);
      const bad = (e: string) =>
        `coalesce(list_bool_or(list_transform(json_keys(${e}), k -> NOT starts_with(k, ${prefix}) AND NOT list_contains(${ignore}, k))), FALSE)`;
      return { kind: 'row', violation: anyElement(cols, args.column as string, parseJsonPath(args.path as string), undefined, bad) };
    },
  },
  json_not_null: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} is not null${whenText(a)}`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `${typeOf(e, key)} = 'NULL'`),
  },
  json_null: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} is null${whenText(a)}`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `${typeOf(e, key)} <> 'NULL'`),
  },
  json_decimal: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} is a JSON number or null`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `${typeOf(e, key)} NOT IN ('NULL', ${JSON_NUMBER.map((t) => literal(t)).join(', ')})`),
  },
  json_numeric_format: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} conforms to NumericFormat`,
    columns: col,
    compile: (input) =>
      atPath(input, (e, key) => {
        const isNumber = `${typeOf(e, key)} IN (${JSON_NUMBER.map((t) => literal(t)).join(', ')})`;
        const text = `CAST(json_extract(${e}, ${keyPath(key)}) AS VARCHAR)`;
        return `${typeOf(e, key)} <> 'NULL' AND NOT (${isNumber} AND regexp_full_match(${text}, ${literal(NUMERIC_RE)}))`;
      }),
  },
  json_string_format: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} is not an empty string`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `${typeOf(e, key)} = 'VARCHAR' AND trim(json_extract_string(${e}, ${keyPath(key)})) = ''`),
  },
  json_unit_format: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} conforms to UnitFormat`,
    columns: col,
    compile: (input) =>
      atPath(input, (e, key) => `${typeOf(e, key)} = 'VARCHAR' AND NOT regexp_full_match(json_extract_string(${e}, ${keyPath(key)}), ${literal(UNIT_RE)})`),
  },
  json_equals_column: {
    args: { ...ARGS, other: 'column' },
    describe: (a) => `${pathLabel(a)} equals ${a.other as string}${whenText(a)}`,
    columns: (a) => [a.column as string, a.other as string],
    compile: (input) =>
      atPath(input, (e, key) => `json_extract_string(${e}, ${keyPath(key)}) IS DISTINCT FROM ${input.cols.text(input.args.other as string)}`),
  },
  json_single_parent: {
    args: { column: 'column', path: 'json_path', parent_path: 'json_path' },
    describe: (a) => `each ${pathLabel(a)} value has exactly one ${a.parent_path as string}`,
    columns: col,
    compile: ({ cols, args }) => {
      const child = parseJsonPath(args.path as string);
      const parent = parseJsonPath(args.parent_path as string);
      const elements = `json_extract(${cols.json(args.column as string)}, ${literal(`${child.array}[*]`)})`;
      const get = (p: JsonPath) => `json_extract_string(e, ${keyPath(p.key as string)})`;
      return {
        kind: 'dataset',
        query: (source) =>
          `SELECT coalesce(sum(n), 0) AS failing_rows, to_json(list(struct_pack(key := k, vals := v))[1:3]) AS examples FROM (` +
          `SELECT ${get(child)} AS k, count(*) AS n, list(DISTINCT ${get(parent)}) AS v, count(DISTINCT ${get(parent)}) AS d ` +
          `FROM (SELECT unnest(${elements}) AS e FROM ${source}) WHERE ${get(child)} IS NOT NULL GROUP BY 1) WHERE d <> 1`,
      };
    },
  },
};
