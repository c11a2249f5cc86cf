/**
 * The SQL the FOCUS checks are compiled to, per warehouse dialect: one rule model (focus-rules,
 * check-functions), two emitters of its primitives. Everything that differs between DuckDB and
 * BigQuery (quoting, casts, lists, regular expressions, JSON functions, aggregates into JSON) is
 * here, so a check function says what it tests once and gets the SQL of either warehouse.
 */

export interface FocusSqlDialect {
  readonly name: 'duckdb' | 'bigquery';
  /** A costly predicate is evaluated once per distinct value (GROUP BY of its columns); BigQuery cannot group JSON. */
  readonly groupsJson: boolean;
  ident(name: string): string;
  literal(value: string | number | boolean | null): string;
  /** Whether `expr` is one of `values` (null for a null expr). */
  inList(expr: string, values: readonly string[]): string;
  concat(parts: readonly string[]): string;
  text(expr: string): string;
  double(expr: string): string;
  tryDouble(expr: string): string;
  tryInteger(expr: string): string;
  tryTimestamp(expr: string): string;
  timestamp(expr: string): string;
  /** Text of a number as DECIMAL(38, 9), nine decimals always (`30.000000000`): totals compare as text, exactly. */
  decimalText(expr: string): string;
  isFinite(expr: string): string;
  /** The whole value matches the RE2 expression. */
  fullMatch(expr: string, re: string): string;
  /** The first group of the match; null or '' without one. */
  regexpExtract(expr: string, re: string): string;
  /** JSON of a text, null when the text is not JSON (so a bad row cannot abort the scan). */
  parseJson(expr: string): string;
  /** What jsonType names a JSON string and a JSON number; objects, arrays and null are OBJECT, ARRAY, NULL in both. */
  readonly jsonTypes: { readonly string: readonly string[]; readonly number: readonly string[] };
  /** Type name of the value at `path` (of the value itself without one); null when the path is missing. */
  jsonType(json: string, path?: string): string;
  jsonAt(json: string, path: string): string;
  jsonExists(json: string, path: string): string;
  /** The scalar at `path` as text. */
  jsonString(json: string, path: string): string;
  /** The JSON text of a value. */
  jsonText(json: string): string;
  /** The elements of the array at `arrayPath` (a path without [*]), as a list. */
  jsonElements(json: string, arrayPath: string): string;
  /** Some element of the list satisfies `predicate`, which names it `variable`; false for no elements. */
  anyOf(list: string, variable: string, predicate: string): string;
  objectKeys(json: string): string;
  /** Some value of the object is an object or an array. */
  hasNestedValue(json: string): string;
  /** The object's keys are unique. */
  uniqueKeys(json: string): string;
  /** Aggregate: the distinct values of `expr`. */
  distinctList(expr: string): string;
  /** Aggregate: JSON text of the first `limit` records of `fields`. */
  examplesJson(fields: readonly (readonly [string, string])[], limit: number): string;
  /** JSON text of one record of `fields`. */
  recordJson(fields: readonly (readonly [string, string])[]): string;
  /** A table expression: one row per element of `list` (a column expression of `source`), named `alias`. */
  unnest(list: string, alias: string, source: string): string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isColumnName(name: string): boolean {
  return NAME.test(name);
}

function checkedName(name: string): string {
  if (!isColumnName(name)) throw new Error(`not a column name: ${JSON.stringify(name)}`);
  return name;
}

function numberLiteral(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  return String(value);
}

export const DUCKDB_FOCUS_SQL: FocusSqlDialect = {
  name: 'duckdb',
  groupsJson: true,
  ident: (name) => `"${checkedName(name)}"`,
  literal(value) {
    if (value === null) return 'NULL';
    if (typeof value === 'number') return numberLiteral(value);
    if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
    return `'${value.replaceAll("'", "''")}'`;
  },
  inList(expr, values) {
    return `list_contains([${values.map((v) => this.literal(v)).join(', ')}]::VARCHAR[], ${expr})`;
  },
  concat: (parts) => parts.join(' || '),
  text: (expr) => `CAST(${expr} AS VARCHAR)`,
  double: (expr) => `CAST(${expr} AS DOUBLE)`,
  tryDouble: (expr) => `TRY_CAST(${expr} AS DOUBLE)`,
  tryInteger: (expr) => `TRY_CAST(${expr} AS INTEGER)`,
  tryTimestamp: (expr) => `TRY_CAST(${expr} AS TIMESTAMPTZ)`,
  timestamp: (expr) => `CAST(${expr} AS TIMESTAMPTZ)`,
  decimalText: (expr) => `CAST(CAST(${expr} AS DECIMAL(38, 9)) AS VARCHAR)`,
  isFinite: (expr) => `isfinite(${expr})`,
  fullMatch(expr, re) {
    return `regexp_full_match(${expr}, ${this.literal(re)})`;
  },
  regexpExtract(expr, re) {
    return `regexp_extract(${expr}, ${this.literal(re)}, 1)`;
  },
  parseJson: (expr) => `CASE WHEN json_valid(${expr}) THEN CAST(${expr} AS JSON) END`,
  jsonTypes: { string: ['VARCHAR'], number: ['UBIGINT', 'BIGINT', 'DOUBLE'] },
  jsonType(json, path) {
    return path === undefined ? `json_type(${json})` : `json_type(${json}, ${this.literal(path)})`;
  },
  jsonAt(json, path) {
    return `json_extract(${json}, ${this.literal(path)})`;
  },
  jsonExists(json, path) {
    return `json_exists(${json}, ${this.literal(path)})`;
  },
  jsonString(json, path) {
    return `json_extract_string(${json}, ${this.literal(path)})`;
  },
  jsonText: (json) => `CAST(${json} AS VARCHAR)`,
  jsonElements(json, arrayPath) {
    return `json_extract(${json}, ${this.literal(`${arrayPath}[*]`)})`;
  },
  anyOf: (list, variable, predicate) => `coalesce(list_bool_or(list_transform(${list}, ${variable} -> ${predicate})), FALSE)`,
  objectKeys: (json) => `json_keys(${json})`,
  hasNestedValue: (json) => `coalesce(list_bool_or(list_transform(map_values(TRY_CAST(${json} AS MAP(VARCHAR, JSON))), v -> json_type(v) IN ('OBJECT', 'ARRAY'))), FALSE)`,
  uniqueKeys: (json) => `len(json_keys(${json})) = len(list_distinct(json_keys(${json})))`,
  distinctList: (expr) => `list(DISTINCT ${expr})`,
  examplesJson: (fields, limit) => `to_json(list(struct_pack(${fields.map(([name, expr]) => `${checkedName(name)} := ${expr}`).join(', ')}))[1:${limit}])`,
  recordJson: (fields) => `CAST(to_json(struct_pack(${fields.map(([name, expr]) => `${checkedName(name)} := ${expr}`).join(', ')})) AS VARCHAR)`,
  unnest: (list, alias, source) => `(SELECT unnest(${list}) AS ${checkedName(alias)} FROM ${source})`,
};

/**
 * BigQuery (GoogleSQL), checked by ZetaSQL in test/warehouse/bigquery-dialect.test.ts. Where it
 * cannot see what DuckDB sees, it says so:
 * - a JSON value holds each key once (duplicates do not survive parsing), so uniqueKeys is TRUE;
 * - JSON numbers are normalised when parsed, so the text of a JSON number is BigQuery's (1.5, not 1.50);
 * - objectKeys lists the keys at every depth of the object (a flat element's are its own).
 */
export const BIGQUERY_FOCUS_SQL: FocusSqlDialect = {
  name: 'bigquery',
  groupsJson: false,
  ident: (name) => `\`${checkedName(name)}\``,
  literal(value) {
    if (value === null) return 'NULL';
    if (typeof value === 'number') return numberLiteral(value);
    if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
    // GoogleSQL escapes with backslashes (a doubled quote ends the literal); control characters as \xHH.
    const escaped = value.replace(/[\\']/g, (c) => `\\${c}`).replace(/[\u0000-\u001f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    return `'${escaped}'`;
  },
  inList(expr, values) {
    return `${expr} IN UNNEST(ARRAY<STRING>[${values.map((v) => this.literal(v)).join(', ')}])`;
  },
  concat: (parts) => `CONCAT(${parts.join(', ')})`,
  text: (expr) => `CAST(${expr} AS STRING)`,
  double: (expr) => `CAST(${expr} AS FLOAT64)`,
  tryDouble: (expr) => `SAFE_CAST(${expr} AS FLOAT64)`,
  tryInteger: (expr) => `SAFE_CAST(${expr} AS INT64)`,
  tryTimestamp: (expr) => `SAFE_CAST(${expr} AS TIMESTAMP)`,
  timestamp: (expr) => `CAST(${expr} AS TIMESTAMP)`,
  decimalText: (expr) => `FORMAT('%.9f', CAST(${expr} AS NUMERIC))`,
  isFinite: (expr) => `NOT (IS_INF(${expr}) OR IS_NAN(${expr}))`,
  fullMatch(expr, re) {
    return `REGEXP_CONTAINS(${expr}, ${this.literal(`^(?:${re})$`)})`;
  },
  regexpExtract(expr, re) {
    return `REGEXP_EXTRACT(${expr}, ${this.literal(re)})`;
  },
  parseJson: (expr) => `SAFE.PARSE_JSON(${expr}, wide_number_mode => 'round')`,
  jsonTypes: { string: ['STRING'], number: ['NUMBER'] },
  jsonType(json, path) {
    return `UPPER(JSON_TYPE(${path === undefined ? json : this.jsonAt(json, path)}))`;
  },
  jsonAt(json, path) {
    return `JSON_QUERY(${json}, ${this.literal(path)})`;
  },
  jsonExists(json, path) {
    return `(${this.jsonAt(json, path)} IS NOT NULL)`;
  },
  jsonString(json, path) {
    return `JSON_VALUE(${json}, ${this.literal(path)})`;
  },
  jsonText: (json) => `TO_JSON_STRING(${json})`,
  jsonElements(json, arrayPath) {
    return `JSON_QUERY_ARRAY(${json}, ${this.literal(arrayPath)})`;
  },
  anyOf: (list, variable, predicate) => `EXISTS (SELECT 1 FROM UNNEST(${list}) AS ${checkedName(variable)} WHERE ${predicate})`,
  // A key is a string right after { or , in the compact text; a quote inside a string is escaped, so a value never matches.
  objectKeys: (json) => `REGEXP_EXTRACT_ALL(TO_JSON_STRING(${json}), r'[{,]"((?:[^"\\\\]|\\\\.)*)":')`,
  // With every string emptied, a { or [ after the opening brace opens a nested value.
  hasNestedValue: (json) => `REGEXP_CONTAINS(SUBSTR(REGEXP_REPLACE(TO_JSON_STRING(${json}), r'"(?:[^"\\\\]|\\\\.)*"', '""'), 2), r'[\\[{]')`,
  uniqueKeys: () => 'TRUE',
  distinctList: (expr) => `ARRAY_AGG(DISTINCT ${expr} IGNORE NULLS)`,
  examplesJson: (fields, limit) => `TO_JSON_STRING(ARRAY_AGG(STRUCT(${fields.map(([name, expr]) => `${expr} AS ${checkedName(name)}`).join(', ')}) LIMIT ${limit}))`,
  recordJson: (fields) => `TO_JSON_STRING(STRUCT(${fields.map(([name, expr]) => `${expr} AS ${checkedName(name)}`).join(', ')}))`,
  unnest: (list, alias, source) => `(SELECT ${checkedName(alias)} FROM ${source} AS unnested_source, UNNEST(${list}) AS ${checkedName(alias)})`,
};
