/**
 * How the local BigQuery server (bigquery-server.ts) evaluates the SQL it receives: in DuckDB,
 * after a minimal translation of the BigQuery forms the warehouse emits and the tests use. It is
 * not a BigQuery SQL engine, and says so: what it accepts is DuckDB's grammar with these BigQuery
 * spellings mapped, so dialect correctness is checked elsewhere (ZetaSQL, the live suite). What it
 * does model faithfully is the wire protocol around the SQL, and the effect of the statements:
 * a transaction that fails leaves its tables as they were, a temp table lives for its script.
 *
 * The translation, applied outside string literals only:
 * - `` `project.dataset.table` `` and `` `dataset.table` `` become `"dataset"."table"` (one project);
 * - `@name` becomes `$name` (bound from the job's queryParameters), `?` stays positional;
 * - type names: INT64 BIGINT, FLOAT64 DOUBLE, NUMERIC DECIMAL(38, 9), BIGNUMERIC DECIMAL(38, 18),
 *   STRING VARCHAR, BOOL BOOLEAN, TIMESTAMP TIMESTAMPTZ, BYTES BLOB;
 * - a CREATE TABLE's `OPTIONS (...)` is dropped (expiration is not modelled); PARSE_JSON(x) is
 *   DuckDB's json(x); CURRENT_TIMESTAMP() is current_timestamp; `* EXCEPT (` is `* EXCLUDE (`;
 * - CREATE [OR REPLACE] PROCEDURE and DROP PROCEDURE are recorded, not evaluated.
 * Partitioning and clustering come with tables.insert (REST), never as DDL, and are kept as the
 * table's metadata only.
 */
export const BIGQUERY_TYPES_IN_DUCKDB: Record<string, string> = {
  INT64: 'BIGINT',
  INTEGER: 'BIGINT',
  FLOAT64: 'DOUBLE',
  FLOAT: 'DOUBLE',
  NUMERIC: 'DECIMAL(38, 9)',
  BIGNUMERIC: 'DECIMAL(38, 18)',
  STRING: 'VARCHAR',
  BOOL: 'BOOLEAN',
  BOOLEAN: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMPTZ',
  DATE: 'DATE',
  JSON: 'JSON',
  BYTES: 'BLOB',
};

/** A DuckDB column type as a BigQuery REST field type. */
export function bigQueryType(duckType: string): string {
  const type = duckType.toUpperCase();
  if (type === 'BIGINT' || type === 'INTEGER' || type === 'HUGEINT' || type === 'SMALLINT' || type === 'TINYINT') return 'INTEGER';
  if (type === 'DOUBLE' || type === 'FLOAT') return 'FLOAT';
  if (type.startsWith('DECIMAL')) return /,\s*(\d+)\)/.exec(type)?.[1] === '9' || !type.includes(',') ? 'NUMERIC' : 'BIGNUMERIC';
  if (type === 'BOOLEAN') return 'BOOLEAN';
  if (type.startsWith('TIMESTAMP')) return 'TIMESTAMP';
  if (type === 'DATE') return 'DATE';
  if (type === 'JSON') return 'JSON';
  if (type === 'BLOB') return 'BYTES';
  return 'STRING';
}

/** Splits SQL into code and single-quoted literal segments, so translation touches code only. */
function segments(sql: string): { code: boolean; text: string }[] {
  const out: { code: boolean; text: string }[] = [];
  let start = 0;
  for (let i = 0; i < sql.length; i++) {
    if (sql[i] !== "'") continue;
    out.push({ code: true, text: sql.slice(start, i) });
    let end = i + 1;
    while (end < sql.length && !(sql[end] === "'" && sql[end + 1] !== "'")) end += sql[end] === "'" ? 2 : sql[end] === '\\' ? 2 : 1;
    out.push({ code: false, text: sql.slice(i, end + 1) });
    i = end;
    start = end + 1;
  }
  out.push({ code: true, text: sql.slice(start) });
  return out;
}

function dropOptions(code: string): string {
  let out = code;
  for (let at = out.search(/\bOPTIONS\s*\(/i); at !== -1; at = out.search(/\bOPTIONS\s*\(/i)) {
    let depth = 0;
    let end = out.indexOf('(', at);
    for (; end < out.length; end++) {
      if (out[end] === '(') depth++;
      else if (out[end] === ')' && --depth === 0) break;
    }
    out = out.slice(0, at) + out.slice(end + 1);
  }
  return out;
}

export function translate(sql: string): string {
  // OPTIONS (...) may hold literals; it is dropped before the segments are translated.
  const parts = segments(sql);
  const joined = parts.map((part) => (part.code ? part.text : `\u0000${encodeURIComponent(part.text)}\u0000`)).join('');
  const code = dropOptions(joined)
    .replace(/`([^`]+)`/g, (_, name: string) => {
      const pieces = name.split('.');
      return (pieces.length === 3 ? pieces.slice(1) : pieces).map((piece) => `"${piece}"`).join('.');
    })
    .replace(/@@\w+/g, (system) => system)
    .replace(/(?<!@)@([A-Za-z_]\w*)/g, '$$$1')
    .replace(/\bPARSE_JSON\s*\(/gi, 'json(')
    .replace(/\bCURRENT_TIMESTAMP\s*\(\s*\)/gi, 'current_timestamp')
    .replace(/\*\s*EXCEPT\s*\(/gi, '* EXCLUDE (')
    .replace(/\b(INT64|FLOAT64|BIGNUMERIC|NUMERIC|STRING|BOOL|TIMESTAMP|BYTES)\b(?!\s*\()/g, (type: string) => BIGQUERY_TYPES_IN_DUCKDB[type] as string);
  return code.replace(/\u0000([^\u0000]*)\u0000/g, (_, literal: string) => decodeURIComponent(literal));
}

/** Tables a (translated) statement names as "dataset"."table" or dataset.table. */
export function referencedTables(sql: string): string[] {
  const found = new Set<string>();
  for (const match of sql.matchAll(/"?([a-z][a-z0-9_]*)"?\."?([A-Za-z_][A-Za-z0-9_]*)"?/g)) found.add(`${match[1]}.${match[2]}`);
  return [...found];
}
