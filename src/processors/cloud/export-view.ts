import type { ContractField, ContractType, ExportContract } from './export-contract.ts';
import { type ExportFiles } from './export-source.ts';
import { canonicalName, parseColumnType, quoteIdent, quoteLiteral, type ColumnType } from './column-names.ts';

/**
 * Builds the SELECT of a staged export: DuckDB's own reader over the files (union_by_name, so
 * files of one export may differ in columns; gzip by extension), then every column bound by
 * name to the contract:
 *
 * - native names canonicalised (see column-names.ts), STRUCT fields flattened to `parent_field`,
 *   LIST and MAP values stored as JSON text, per-key tag columns folded into one JSON object;
 * - contract columns typed as the contract says, whatever the file format: text is parsed
 *   (timestamps with or without zone or seconds, `M/D/YYYY` dates, decimals in E notation),
 *   and a value that does not parse fails naming the column and the file (relative to the
 *   org's folder), never the value: the run's error is shown to the org and a cell may hold
 *   anything;
 * - text ("" or blanks) that means none is null, in contract and extra columns alike;
 * - contract columns the export lacks are typed NULLs; extra columns are kept as they came.
 */
export interface SourceColumn {
  name: string;
  type: string;
}

/** `lenient`: CSV read with strict_mode off, for files DuckDB's dialect sniffer rejects in strict mode (koku's MCA sample). */
export function readerSql(files: ExportFiles, lenient = false): string {
  const list = `[${files.files.map(quoteLiteral).join(', ')}]`;
  switch (files.format) {
    case 'csv':
      // Every value as text: a sniffed type would turn account ids such as 0099999999999 into
      // numbers. null_padding: some exports end rows early (koku's test CUR does). `NULL` is a
      // null (the FOCUS sample data writes it for every empty value).
      return `read_csv(${list}, header = true, all_varchar = true, union_by_name = true, null_padding = true, nullstr = ['', 'NULL'], filename = 'x_source_file'${lenient ? ', strict_mode = false' : ''})`;
    case 'jsonl':
      return `read_json(${list}, format = 'auto', union_by_name = true, filename = 'x_source_file')`;
    case 'parquet':
      return `read_parquet(${list}, union_by_name = true, filename = 'x_source_file')`;
    case 'bigquery_table': {
      // A BigQuery warehouse reads the customer's table where it lies; the parts were validated by parseSourceUri.
      const table = files.table as NonNullable<ExportFiles['table']>;
      return `\`${table.project}.${table.dataset}.${table.table}\``;
    }
  }
}

/**
 * x_source_file as shown: relative to the org's folder, or the URI of the object a scratch copy
 * was downloaded from. DuckDB's `filename` column is the path it was given, the file's real path
 * on the server; a path outside the prefix (none should be) is cut to its base name rather than
 * shown.
 */
export function shownFileSql(files: ExportFiles): string {
  if (files.kind !== 'local') return `[${files.shown.map(quoteLiteral).join(', ')}][list_position([${files.files.map(quoteLiteral).join(', ')}], x_source_file)]`;
  if (!files.folder) return 'x_source_file';
  const prefix = `${files.folder}/`;
  return `CASE WHEN starts_with(x_source_file, ${quoteLiteral(prefix)}) THEN substr(x_source_file, ${prefix.length + 1}) ELSE parse_filename(x_source_file) END`;
}

interface Leaf {
  original: string;
  name: string;
  expr: string;
  type: ColumnType;
}

export interface NormalisedSelect {
  /** `SELECT ... FROM reader` */
  sql: string;
  /** Contract columns the export lacks (typed nulls). */
  filled: string[];
  /** Required contract columns the export lacks: the stage fails naming them. */
  missingRequired: string[];
  /** Columns not in the contract, kept under their canonical names. */
  extras: string[];
}

export interface NormaliseOptions {
  reader: string;
  columns: SourceColumn[];
  contract: ExportContract;
  /** Canonicalise native names; FOCUS exports keep theirs. */
  canonical: boolean;
  folds: { prefix: string; into: string; stripKey?: RegExp }[];
  maps: { column: string; prefix: string }[];
  /** The native shape (or `focus`), for `required_in`. */
  shape: string;
  /** Columns of one value on every row: x_source_dataset, x_load_shape. */
  constants: Record<string, string>;
  /** SQL of the file's name as shown (shownFileSql); the view's x_source_file. */
  sourceFile: string;
}

export function normalisedSelect(options: NormaliseOptions): NormalisedSelect {
  const leaves = flatten(options.columns.filter((c) => c.name !== 'x_source_file'), options.canonical);
  const folded = new Map<string, Leaf[]>();
  const kept: Leaf[] = [];
  for (const leaf of leaves) {
    const fold = options.canonical ? options.folds.find((f) => leaf.original.toLowerCase().startsWith(f.prefix.toLowerCase()) && leaf.original.length > f.prefix.length) : undefined;
    if (fold) folded.set(fold.into, [...(folded.get(fold.into) ?? []), leaf]);
    else kept.push(leaf);
  }
  const byName = new Map<string, Leaf>();
  for (const leaf of kept) {
    let name = leaf.name;
    for (let n = 2; byName.has(name.toLowerCase()); n++) name = `${leaf.name}_${n}`;
    leaf.name = name;
    byName.set(name.toLowerCase(), leaf);
  }

  const leafOf = (field: ContractField) => [field.name, ...field.aliases].map((n) => byName.get(n.toLowerCase())).find((l) => l !== undefined);
  // An absent numeric column is a NULL of the type the file's own numbers have: a DECIMAL(38, 12)
  // NULL beside DOUBLE columns turns every coalesce of the two into 128-bit decimal arithmetic
  // (measured: the AWS reconciliation of 1M CUR 2.0 rows, 270 ms against 30).
  const fileNumber = options.contract.fields
    .filter((field) => field.type === 'NUMERIC')
    .map((field) => leafOf(field)?.type)
    .find((type) => type?.kind === 'scalar' && NUMERIC_SOURCE.test(type.text.toUpperCase()));
  const absentType = (field: ContractField) => (field.type === 'NUMERIC' && fileNumber?.kind === 'scalar' ? fileNumber.text : duckType(field.type));

  const select: string[] = [];
  const used = new Set<Leaf>();
  const filled: string[] = [];
  const missingRequired: string[] = [];
  for (const field of options.contract.fields) {
    const leaf = leafOf(field);
    if (leaf) {
      used.add(leaf);
      select.push(`${typed(leaf.expr, leaf.type, field, leaf.original, options.sourceFile)} AS ${quoteIdent(field.name)}`);
      continue;
    }
    const tags = folded.get(field.name);
    if (tags) {
      const entries = tags.map((t) => `{'k': ${quoteLiteral(foldKey(options.folds, t.original))}, 'v': CAST(${t.expr} AS VARCHAR)}`);
      select.push(`NULLIF(CAST(to_json(map_from_entries(list_filter([${entries.join(', ')}], e -> e.v IS NOT NULL AND e.v <> ''))) AS VARCHAR), '{}') AS ${quoteIdent(field.name)}`);
      folded.delete(field.name);
      continue;
    }
    const map = options.maps.find((m) => field.name.startsWith(m.prefix) && byName.has(m.column));
    if (map) {
      const source = byName.get(map.column) as Leaf;
      const value = `CAST(${source.expr}[${quoteLiteral(field.name.slice(map.prefix.length))}] AS VARCHAR)`;
      select.push(`${typed(value, { kind: 'scalar', text: 'VARCHAR' }, field, `${source.original}['${field.name.slice(map.prefix.length)}']`, options.sourceFile)} AS ${quoteIdent(field.name)}`);
      continue;
    }
    if (field.required || field.requiredIn.includes(options.shape)) missingRequired.push(field.name);
    filled.push(field.name);
    select.push(`CAST(NULL AS ${absentType(field)}) AS ${quoteIdent(field.name)}`);
  }
  // Folded groups no contract column asked for are still kept, as JSON objects.
  for (const [into, tags] of folded) {
    const entries = tags.map((t) => `{'k': ${quoteLiteral(foldKey(options.folds, t.original))}, 'v': CAST(${t.expr} AS VARCHAR)}`);
    select.push(`NULLIF(CAST(to_json(map_from_entries(list_filter([${entries.join(', ')}], e -> e.v IS NOT NULL AND e.v <> ''))) AS VARCHAR), '{}') AS ${quoteIdent(into)}`);
  }
  const contractNames = new Set(options.contract.fields.map((f) => f.name.toLowerCase()));
  const extras: string[] = [];
  for (const leaf of kept) {
    if (used.has(leaf)) continue;
    let name = leaf.name;
    for (let n = 2; contractNames.has(name.toLowerCase()); n++) name = `${leaf.name}_${n}`;
    extras.push(name);
    const text = leaf.type.kind === 'scalar' && leaf.type.text.toUpperCase() === 'VARCHAR';
    select.push(`${leaf.type.kind === 'nested' ? `CAST(to_json(${leaf.expr}) AS VARCHAR)` : text ? `NULLIF(trim(${leaf.expr}), '')` : leaf.expr} AS ${quoteIdent(name)}`);
  }
  select.push(options.sourceFile === 'x_source_file' ? 'x_source_file' : `${options.sourceFile} AS x_source_file`);
  for (const [name, value] of Object.entries(options.constants)) select.push(`${quoteLiteral(value)} AS ${quoteIdent(name)}`);
  return { sql: `SELECT\n  ${select.join(',\n  ')}\nFROM ${options.reader}`, filled, missingRequired, extras };
}

/** The same columns, no rows: the view a conversion reads when the export has the other shape. */
export function emptySelect(contract: ExportContract, constants: Record<string, string>): string {
  const columns = contract.fields.map((field) => `CAST(NULL AS ${duckType(field.type)}) AS ${quoteIdent(field.name)}`);
  columns.push('CAST(NULL AS VARCHAR) AS x_source_file');
  for (const [name, value] of Object.entries(constants)) columns.push(`${quoteLiteral(value)} AS ${quoteIdent(name)}`);
  return `SELECT ${columns.join(', ')} WHERE false`;
}

/** The tag key of a folded column: its name after the prefix, less the fold's `stripKey`. */
function foldKey(folds: { prefix: string; stripKey?: RegExp }[], original: string): string {
  const fold = folds.find((f) => original.toLowerCase().startsWith(f.prefix.toLowerCase()));
  const key = original.slice(fold?.prefix.length ?? 0);
  return fold?.stripKey ? key.replace(fold.stripKey, '') : key;
}

function flatten(columns: SourceColumn[], canonical: boolean): Leaf[] {
  const leaves: Leaf[] = [];
  const walk = (original: string, expr: string, type: ColumnType) => {
    if (type.kind === 'struct') {
      for (const field of type.fields) walk(`${original}.${field.name}`, `${expr}.${quoteIdent(field.name)}`, field.type);
      return;
    }
    leaves.push({ original, name: canonical ? canonicalName(original) : original.replace(/[^A-Za-z0-9_]+/g, '_'), expr, type });
  };
  for (const column of columns) walk(column.name, quoteIdent(column.name), parseColumnType(column.type));
  return leaves;
}

export function duckType(type: ContractType): string {
  switch (type) {
    case 'NUMERIC':
      return 'DECIMAL(38, 12)';
    case 'FLOAT64':
      return 'DOUBLE';
    case 'TIMESTAMP':
      return 'TIMESTAMPTZ';
    case 'BOOL':
      return 'BOOLEAN';
    default:
      return 'VARCHAR';
  }
}

const NUMERIC_SOURCE = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|DECIMAL.*)$/;
const TIME_SOURCE = /^(DATE|TIMESTAMP|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS|TIMESTAMP WITH TIME ZONE|TIMESTAMPTZ)$/;

/** The value of a source column as the contract's type. */
function typed(expr: string, type: ColumnType, field: ContractField, original: string, file: string): string {
  const text = type.kind === 'scalar' ? type.text.toUpperCase() : '';
  const isText = text === 'VARCHAR';
  const fail = (what: string) => `error(${quoteLiteral(`column ${original} of `)} || coalesce(${file}, '?') || ${quoteLiteral(`: a value is not ${what}`)})`;
  const trimmed = `trim(${expr})`;
  const blank = `${expr} IS NULL OR ${trimmed} = ''`;
  switch (field.type) {
    case 'STRING':
    case 'JSON':
      // An empty map (CUR 2.0 resource_tags of an untagged line) is no value.
      if (type.kind === 'nested') return `NULLIF(CAST(to_json(${expr}) AS VARCHAR), '{}')`;
      // Exports write "" (or blanks) for none: CUR 2.0 Parquet in savings_plan_savings_plan_a_r_n
      // of every on-demand line, Azure EA in the resource name of a reservation purchase. Read as
      // null here, no conversion sees one (FOCUS forbids empty strings: NullHandling).
      return `NULLIF(trim(${isText ? expr : `CAST(${expr} AS VARCHAR)`}), '')`;
    case 'NUMERIC':
    case 'FLOAT64': {
      const target = duckType(field.type);
      // A file's own numeric type is kept: a DOUBLE cost cast once to the FOCUS DECIMAL at the
      // end rounds the same way in the conversion and the reconciliation, and DECIMAL(38, x)
      // arithmetic on every row of a 10M-row export costs seconds.
      if (NUMERIC_SOURCE.test(text)) return expr;
      if (text === 'BOOLEAN') return `CAST(CAST(${expr} AS INTEGER) AS ${target})`;
      return `CASE WHEN ${blank} THEN NULL ELSE coalesce(TRY_CAST(${trimmed} AS ${target}), ${fail('a number')}) END`;
    }
    case 'TIMESTAMP': {
      // The instant as it is (UTC, as every export writes it). make_timestamptz on the microseconds
      // is exact and 20x faster than CAST(... AS TIMESTAMPTZ), which goes through ICU (0.1 s per
      // million values and column on 2 cores).
      if (text === 'TIMESTAMP WITH TIME ZONE' || text === 'TIMESTAMPTZ') return expr;
      if (text === 'DATE') return `make_timestamptz(epoch_us(CAST(${expr} AS TIMESTAMP)))`;
      if (TIME_SOURCE.test(text)) return `make_timestamptz(epoch_us(${expr}))`;
      // ISO with or without zone; OCI writes `2023-11-13T10:00Z` (no seconds); Azure `9/2/2023`.
      const iso = `TRY_CAST(regexp_replace(${trimmed}, '^(\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2})(Z|[+-]\\d{2}(:?\\d{2})?)?$', '\\1:00\\2') AS TIMESTAMPTZ)`;
      const us = `CAST(try_strptime(${trimmed}, ['%m/%d/%Y', '%m/%d/%Y %H:%M:%S', '%m/%d/%Y %I:%M:%S %p']) AS TIMESTAMPTZ)`;
      return `CASE WHEN ${blank} THEN NULL ELSE coalesce(${iso}, ${us}, ${fail('a timestamp')}) END`;
    }
    case 'BOOL': {
      if (text === 'BOOLEAN') return expr;
      if (NUMERIC_SOURCE.test(text)) return `(${expr} <> 0)`;
      return `CASE WHEN ${blank} THEN NULL WHEN lower(${trimmed}) IN ('true', 't', 'yes', 'y', '1') THEN true WHEN lower(${trimmed}) IN ('false', 'f', 'no', 'n', '0') THEN false ELSE ${fail('true or false')} END`;
    }
  }
}
