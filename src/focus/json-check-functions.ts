/**
 * Check functions over JSON columns (ContractApplied, AllocatedMethodDetails, ...). Paths are
 * the model's: `$`, `$.Elements`, `$.Elements[*]` (each element) or `$.Elements[*].Key` (a key
 * of each element). Element checks fail a row when any element violates, optionally only for
 * elements that satisfy `element_when` (the model's per-element conditions).
 */
import type { ArgType, CheckFunction, CheckInput, CompiledCheck } from './check-functions.ts';
import { NUMERIC_RE, UNIT_RE } from './focus-formats.ts';
import type { FocusSqlDialect } from './sql-dialect.ts';
import type { ColumnSet } from './sql-text.ts';

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

/** The JSON type names of a check's `type` argument, in the dialect's spelling (OBJECT, ARRAY and NULL are common). */
function typeNames(sql: FocusSqlDialect, type: string): readonly string[] {
  return { Array: ['ARRAY'], Object: ['OBJECT'], String: sql.jsonTypes.string, Decimal: sql.jsonTypes.number }[type] ?? [];
}

const keyPath = (key: string) => `$.${key}`;
/** JSON type of a key in an element, 'NULL' for a JSON null and for a missing key. */
const typeOf = (sql: FocusSqlDialect, e: string, key: string) => `coalesce(${sql.jsonType(e, keyPath(key))}, 'NULL')`;
const typeIn = (sql: FocusSqlDialect, type: string, names: readonly string[]) => `${type} IN (${names.map((t) => sql.literal(t)).join(', ')})`;

function elementCondition(sql: FocusSqlDialect, e: string, when: ElementWhen | undefined): string {
  if (!when) return 'TRUE';
  if (when.is === 'present') return sql.jsonExists(e, keyPath(when.key));
  return `${typeOf(sql, e, when.key)} ${when.is === 'null' ? '=' : '<>'} 'NULL'`;
}

/** Row violation: some element of the array at `path` satisfies `bad(e)`. */
function anyElement(cols: ColumnSet, column: string, path: JsonPath, when: ElementWhen | undefined, bad: (e: string) => string): string {
  const elements = cols.sql.jsonElements(cols.json(column), path.array as string);
  return `${cols.ref(column)} IS NOT NULL AND ${cols.sql.anyOf(elements, 'e', `(${elementCondition(cols.sql, 'e', when)}) AND (${bad('e')})`)}`;
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
  const root = input.cols.sql.jsonAt(input.cols.json(column), parent);
  return { kind: 'row', violation: `${input.cols.ref(column)} IS NOT NULL AND coalesce(${bad(root, key)}, FALSE)` };
}

/** Values of an object are scalars (KeyValueFormat) and it is an object at all. */
function notKeyValue(sql: FocusSqlDialect, obj: string): string {
  return `(coalesce(${sql.jsonType(obj)}, 'NULL') <> 'OBJECT' OR ${sql.hasNestedValue(obj)})`;
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
      return { kind: 'row', perValue: true, violation: `${cols.ref(args.column as string)} IS NOT NULL AND (${notKeyValue(cols.sql, j)} OR NOT coalesce(${cols.sql.uniqueKeys(j)}, FALSE))` };
    },
  },
  json_object_format: {
    args: { column: 'column' },
    describe: (a) => `${a.column as string} is a JSON object with unique keys (JsonObjectFormat)`,
    columns: col,
    compile: ({ cols, args }) => {
      const j = cols.json(args.column as string);
      return { kind: 'row', violation: `${cols.ref(args.column as string)} IS NOT NULL AND NOT coalesce(${cols.sql.jsonType(j)} = 'OBJECT' AND ${cols.sql.uniqueKeys(j)}, FALSE)` };
    },
  },
  json_type: {
    args: { column: 'column', path: 'json_path', type: 'string' },
    describe: (a) => `${pathLabel(a)} is of JSON type ${a.type as string}`,
    columns: col,
    compile: (input) => {
      const sql = input.cols.sql;
      const types = typeNames(sql, input.args.type as string);
      const p = parseJsonPath(input.args.path as string);
      if (p.array !== undefined && p.key === undefined) {
        const v = anyElement(input.cols, input.args.column as string, p, undefined, (e) => `NOT coalesce(${typeIn(sql, sql.jsonType(e), types)}, FALSE)`);
        return { kind: 'row', violation: v };
      }
      // A direct path ($.Elements) must exist with that type. For element keys only present,
      // non-null values are typed: key presence and nullness have rules of their own.
      if (p.array === undefined) return atPath(input, (e, key) => `NOT ${typeIn(sql, typeOf(sql, e, key), types)}`);
      return atPath(input, (e, key) => `${typeOf(sql, e, key)} <> 'NULL' AND NOT ${typeIn(sql, typeOf(sql, e, key), types)}`);
    },
  },
  json_key_exists: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} key exists${whenText(a)}`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `NOT coalesce(${input.cols.sql.jsonExists(e, keyPath(key))}, FALSE)`),
  },
  json_keys_exist: {
    args: { column: 'column', path: 'json_path', keys: 'strings' },
    describe: (a) => `each ${pathLabel(a)} has keys ${(a.keys as string[]).join(', ')}`,
    columns: col,
    compile: ({ cols, args }) => {
      const keys = args.keys as string[];
      const bad = (e: string) => keys.map((k) => `NOT ${cols.sql.jsonExists(e, keyPath(k))}`).join(' OR ');
      return { kind: 'row', violation: anyElement(cols, args.column as string, parseJsonPath(args.path as string), undefined, bad) };
    },
  },
  json_key_value_format: {
    args: { column: 'column', path: 'json_path' },
    describe: (a) => `each ${pathLabel(a)} is a flat key-value object`,
    columns: col,
    compile: ({ cols, args }) => ({
      kind: 'row',
      violation: anyElement(cols, args.column as string, parseJsonPath(args.path as string), undefined, (e) => notKeyValue(cols.sql, e)),
    }),
  },
  json_keys_prefixed: {
    args: { column: 'column', path: 'json_path', prefix: 'string', ignore: 'strings' },
    describe: (a) => `custom keys of ${pathLabel(a)} start with ${a.prefix as string}`,
    columns: col,
    compile: ({ cols, args }) => {
      const prefix = cols.sql.literal(args.prefix as string);
      const bad = (e: string) => cols.sql.anyOf(cols.sql.objectKeys(e), 'k', `NOT starts_with(k, ${prefix}) AND NOT ${cols.sql.inList('k', args.ignore as string[])}`);
      return { kind: 'row', violation: anyElement(cols, args.column as string, parseJsonPath(args.path as string), undefined, bad) };
    },
  },
  json_not_null: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} is not null${whenText(a)}`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `${typeOf(input.cols.sql, e, key)} = 'NULL'`),
  },
  json_null: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} is null${whenText(a)}`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `${typeOf(input.cols.sql, e, key)} <> 'NULL'`),
  },
  json_decimal: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} is a JSON number or null`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `NOT ${typeIn(input.cols.sql, typeOf(input.cols.sql, e, key), ['NULL', ...input.cols.sql.jsonTypes.number])}`),
  },
  json_numeric_format: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} conforms to NumericFormat`,
    columns: col,
    compile: (input) =>
      atPath(input, (e, key) => {
        const sql = input.cols.sql;
        const isNumber = typeIn(sql, typeOf(sql, e, key), sql.jsonTypes.number);
        const text = sql.jsonText(sql.jsonAt(e, keyPath(key)));
        return `${typeOf(sql, e, key)} <> 'NULL' AND NOT (${isNumber} AND ${sql.fullMatch(text, NUMERIC_RE)})`;
      }),
  },
  json_string_format: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} is not an empty string`,
    columns: col,
    compile: (input) => atPath(input, (e, key) => `${typeIn(input.cols.sql, typeOf(input.cols.sql, e, key), input.cols.sql.jsonTypes.string)} AND trim(${input.cols.sql.jsonString(e, keyPath(key))}) = ''`),
  },
  json_unit_format: {
    args: ARGS,
    describe: (a) => `${pathLabel(a)} conforms to UnitFormat`,
    columns: col,
    compile: (input) =>
      atPath(input, (e, key) => {
        const sql = input.cols.sql;
        return `${typeIn(sql, typeOf(sql, e, key), sql.jsonTypes.string)} AND NOT ${sql.fullMatch(sql.jsonString(e, keyPath(key)), UNIT_RE)}`;
      }),
  },
  json_equals_column: {
    args: { ...ARGS, other: 'column' },
    describe: (a) => `${pathLabel(a)} equals ${a.other as string}${whenText(a)}`,
    columns: (a) => [a.column as string, a.other as string],
    compile: (input) =>
      atPath(input, (e, key) => `${input.cols.sql.jsonString(e, keyPath(key))} IS DISTINCT FROM ${input.cols.text(input.args.other as string)}`),
  },
  json_single_parent: {
    args: { column: 'column', path: 'json_path', parent_path: 'json_path' },
    describe: (a) => `each ${pathLabel(a)} value has exactly one ${a.parent_path as string}`,
    columns: col,
    compile: ({ cols, args }) => {
      const child = parseJsonPath(args.path as string);
      const parent = parseJsonPath(args.parent_path as string);
      const sql = cols.sql;
      const elements = sql.jsonElements(cols.json(args.column as string), child.array as string);
      const get = (p: JsonPath) => sql.jsonString('e', keyPath(p.key as string));
      return {
        kind: 'dataset',
        query: (source) =>
          `SELECT coalesce(sum(n), 0) AS failing_rows, ${sql.examplesJson([['key', 'k'], ['vals', 'v']], 3)} AS examples FROM (` +
          `SELECT ${get(child)} AS k, count(*) AS n, ${sql.distinctList(get(parent))} AS v, count(DISTINCT ${get(parent)}) AS d ` +
          `FROM ${sql.unnest(elements, 'e', source)} WHERE ${get(child)} IS NOT NULL GROUP BY 1) WHERE d <> 1`,
      };
    },
  },
};
