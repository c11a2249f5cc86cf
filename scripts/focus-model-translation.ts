/**
 * Translates the official FOCUS requirements model's encoded checks and conditions
 * (CheckFunction trees in model-1.3.json) into the check functions and conditions of
 * configs/focus/rules-1.3.yml. Anything it does not recognise throws, so a new model version
 * cannot be translated silently wrong.
 */
import type { Condition } from '../src/focus/focus-rules.ts';

export interface ModelCheck {
  CheckFunction?: string;
  Items?: ModelCheck[];
  AND?: ModelCheck | ModelCheck[];
  [arg: string]: unknown;
}

/** A condition on each element of a JSON array column, e.g. "AppliedQuantity is null". */
export interface ElementWhen {
  column: string;
  key: string;
  is: 'null' | 'not_null' | 'present';
}

export interface Translated {
  check: string;
  args: Record<string, unknown>;
}

export interface TranslatedCondition {
  when?: Condition;
  element?: ElementWhen;
}

const SIMPLE: Record<string, string> = {
  ColumnPresent: 'column_present',
  TypeString: 'type_string',
  TypeDecimal: 'type_decimal',
  TypeDateTime: 'type_datetime',
  FormatString: 'string_format',
  FormatNumeric: 'numeric_format',
  FormatDateTime: 'datetime_format',
  FormatCurrency: 'currency_format',
  FormatUnit: 'unit_format',
  FormatKeyValue: 'key_value_format',
  CheckNationalCurrency: 'national_currency',
  CheckDecimalValue: 'decimal',
};

const JSON_PATH_CHECKS: Record<string, string> = {
  JSONCheckPathKeyValueFormat: 'json_key_value_format',
  JSONCheckPathKeyExists: 'json_key_exists',
  JSONFormatString: 'json_string_format',
  JSONFormatNumeric: 'json_numeric_format',
  JSONCheckPathNumericFormat: 'json_numeric_format',
  JSONFormatUnit: 'json_unit_format',
  JSONCheckPathUnitFormat: 'json_unit_format',
};

const s = (v: unknown, what: string): string => {
  if (typeof v !== 'string') throw new Error(`expected ${what} to be a string, got ${JSON.stringify(v)}`);
  return v;
};

/** {path: '$.Elements[*].Key'} -> the element key, for per-element conditions. */
function elementKey(path: string): string {
  const m = /^\$\.Elements\[\*\]\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(path);
  if (!m?.[1]) throw new Error(`unsupported element path in a condition: ${path}`);
  return m[1];
}

export function translateRequirement(req: ModelCheck): Translated {
  const fn = req.CheckFunction;
  const column = req.ColumnName as string;
  if (fn && SIMPLE[fn]) return { check: SIMPLE[fn], args: { column: s(column, 'ColumnName') } };
  if (fn && JSON_PATH_CHECKS[fn]) return { check: JSON_PATH_CHECKS[fn], args: { column, path: s(req.Path, 'Path') } };
  switch (fn) {
    case 'FormatJSON':
      if (req.Path !== '$') throw new Error(`FormatJSON on path ${String(req.Path)} is not supported`);
      return { check: 'json_object_format', args: { column } };
    case 'CheckValue':
      return req.Value === null ? { check: 'is_null', args: { column } } : { check: 'equals', args: { column, value: req.Value } };
    case 'CheckNotValue':
      return req.Value === null ? { check: 'not_null', args: { column } } : { check: 'not_equals', args: { column, value: req.Value } };
    case 'CheckGreaterOrEqualThanValue':
      return { check: 'min_value', args: { column, min: req.Value } };
    case 'ColumnByColumnEqualsColumnValue':
      return { check: 'product_equals', args: { a: req.ColumnAName, b: req.ColumnBName, result: req.ResultColumnName } };
    case 'CheckDistinctCount':
      if (req.ExpectedCount !== 1) throw new Error(`CheckDistinctCount with ExpectedCount ${String(req.ExpectedCount)}`);
      return { check: 'single_value_per', args: { column: req.ColumnBName, per: req.ColumnAName } };
    case 'JSONCheckPathType':
      return { check: 'json_type', args: { column, path: s(req.Path, 'Path'), type: s(req.ExpectedType, 'ExpectedType') } };
    case 'JSONCheckPathKeyStartsWith':
      return { check: 'json_keys_prefixed', args: { column, path: req.Path, prefix: req.Prefix, ignore: req.IgnoreKeys } };
    case 'JSONCheckPathValue':
    case 'JSONCheckPathNotValue':
      if (req.Value !== null) throw new Error(`${fn} with a non-null value`);
      return { check: fn === 'JSONCheckPathValue' ? 'json_null' : 'json_not_null', args: { column, path: s(req.Path, 'Path') } };
    case 'JSONCheckPathSameValue':
      if (req.PathB !== null) throw new Error('JSONCheckPathSameValue between two JSON paths');
      return { check: 'json_equals_column', args: { column: req.ColumnAName, path: req.PathA, other: req.ColumnBName } };
    case 'JSONCheckPathDistinctParent':
      if (req.ExpectedCount !== 1) throw new Error('JSONCheckPathDistinctParent with ExpectedCount other than 1');
      return { check: 'json_single_parent', args: { column, path: req.ChildPath, parent_path: req.ParentPath } };
    case 'OR':
      return translateOr(req.Items ?? []);
    case 'AND':
      return translateAnd(req.Items ?? []);
  }
  throw new Error(`no translation for requirement ${JSON.stringify(req).slice(0, 200)}`);
}

/** OR of CheckValue on one column = allowed values; OR of (child AND parent) pairs = allowed pairs. */
function translateOr(items: ModelCheck[]): Translated {
  if (items.every((i) => i.CheckFunction === 'CheckValue' && i.ColumnName === items[0]?.ColumnName)) {
    return { check: 'allowed_values', args: { column: items[0]?.ColumnName, values: items.map((i) => s(i.Value, 'Value')) } };
  }
  const pairs: Record<string, string> = {};
  let column: unknown;
  let parent: unknown;
  for (const item of items) {
    const [child, par] = item.Items ?? [];
    if (item.CheckFunction !== 'AND' || item.Items?.length !== 2 || child?.CheckFunction !== 'CheckValue' || par?.CheckFunction !== 'CheckValue') {
      throw new Error(`unsupported OR requirement ${JSON.stringify(item).slice(0, 200)}`);
    }
    column ??= child.ColumnName;
    parent ??= par.ColumnName;
    if (child.ColumnName !== column || par.ColumnName !== parent) throw new Error('allowed pairs over mixed columns');
    pairs[s(child.Value, 'Value')] = s(par.Value, 'Value');
  }
  return { check: 'allowed_pairs', args: { column, parent, pairs } };
}

/** AND of key-exists checks on one array = every element has all those keys. */
function translateAnd(items: ModelCheck[]): Translated {
  const paths = items.map((i) => (i.CheckFunction === 'JSONCheckPathKeyExists' ? s(i.Path, 'Path') : ''));
  const column = items[0]?.ColumnName;
  if (paths.some((p) => !p) || items.some((i) => i.ColumnName !== column)) {
    throw new Error(`unsupported AND requirement ${JSON.stringify(items).slice(0, 200)}`);
  }
  return { check: 'json_keys_exist', args: { column, path: '$.Elements[*]', keys: paths.map(elementKey) } };
}

/** Model conditions: value tests become row conditions, JSON path tests element conditions. */
export function translateCondition(cond: ModelCheck | undefined): TranslatedCondition {
  if (!cond || Object.keys(cond).length === 0) return {};
  const fn = cond.CheckFunction;
  const column = cond.ColumnName as string;
  if (fn === undefined && cond.AND !== undefined) {
    // Written {"AND": [...]} or {"AND": {...}} without a CheckFunction (noted in the shared README).
    return translateCondition({ CheckFunction: 'AND', Items: Array.isArray(cond.AND) ? cond.AND : [cond.AND] });
  }
  switch (fn) {
    case 'CheckValue':
      return { when: cond.Value === null ? { column, is_null: true } : { column, equals: cond.Value as string | number } };
    case 'CheckNotValue':
      return { when: cond.Value === null ? { column, is_null: false } : { column, not_equals: cond.Value as string | number } };
    case 'AND':
    case 'OR': {
      const parts = (cond.Items ?? []).map(translateCondition);
      if (parts.some((p) => p.element)) throw new Error('element conditions inside AND/OR are not supported');
      const list = parts.map((p) => p.when).filter((w): w is Condition => w !== undefined);
      return { when: fn === 'AND' ? { all: list } : { any: list } };
    }
    case 'JSONCheckPathValue':
    case 'JSONCheckPathNotValue':
      if (cond.Value !== null) throw new Error(`${fn} condition with a non-null value`);
      return { element: { column, key: elementKey(s(cond.Path, 'Path')), is: fn === 'JSONCheckPathValue' ? 'null' : 'not_null' } };
    case 'JSONCheckPathKeyExists':
      return { element: { column, key: elementKey(s(cond.Path, 'Path')), is: 'present' } };
  }
  throw new Error(`no translation for condition ${JSON.stringify(cond).slice(0, 200)}`);
}

/** Flattens nested all-conditions and drops duplicates, so inherited conditions read simply. */
export function allOf(parts: (Condition | undefined)[]): Condition | undefined {
  const flat: Condition[] = [];
  for (const p of parts) {
    if (!p) continue;
    for (const c of 'all' in p ? p.all : [p]) {
      if (!flat.some((x) => JSON.stringify(x) === JSON.stringify(c))) flat.push(c);
    }
  }
  if (flat.length === 0) return undefined;
  return flat.length === 1 ? flat[0] : { all: flat };
}
