/**
 * The generic check functions the rule file names. Each compiles its arguments into one piece
 * of SQL, in the dialect of its columns (cols.sql, sql-dialect.ts): a per-row violation predicate (batched with every other row rule into a single scan
 * with COUNT(*) FILTER), a dataset query (GROUP BY checks), or a schema verdict computed from
 * the one DESCRIBE of the table.
 */
import { JSON_CHECK_FUNCTIONS } from './json-check-functions.ts';
import { DATETIME_RE, NULL_PLACEHOLDER_RE, NUMERIC_RE, UNIT_RE } from './focus-formats.ts';
import { isColumnName } from './sql-dialect.ts';
import type { ColumnSet } from './sql-text.ts';

export type ArgType = 'column' | 'string' | 'strings' | 'number' | 'value' | 'pairs' | 'json_path' | 'element_when';

export interface CheckInput {
  args: Record<string, unknown>;
  cols: ColumnSet;
  /** Table columns in table order (DESCRIBE), for the column-order rule. */
  order: readonly string[];
  /** The dataset's FOCUS columns, to tell them from custom columns. */
  focusColumns: ReadonlySet<string>;
  currencyCodes: readonly string[];
}

export type CompiledCheck =
  | { kind: 'schema'; failed: boolean; detail?: string }
  /** perValue: the violation is costly, so it is evaluated once per distinct value of the columns it reads. */
  | { kind: 'row'; violation: string; perValue?: boolean }
  /** `source` is a parenthesised, already filtered row set; the query returns one row {failing_rows, examples}. */
  | { kind: 'dataset'; query: (source: string) => string };

export interface CheckFunction {
  /** Argument names and types; a name ending in '?' is optional. */
  args: Record<string, ArgType>;
  describe(args: Record<string, unknown>): string;
  /** Columns that must exist for the check to run (otherwise the rule is skipped). */
  columns(args: Record<string, unknown>): string[];
  compile(input: CheckInput): CompiledCheck;
}

const str = (v: unknown) => v as string;

/** The coarsest rounding a written cost may carry: FOCUS costs are money, exact to the cent. */
const HALF_CENT = 0.005;

const row = (violation: string): CompiledCheck => ({ kind: 'row', violation });
const NONE = row('FALSE');

function numberOrText(cols: ColumnSet, column: string, value: unknown): string {
  return typeof value === 'number'
    ? `coalesce(${cols.number(column)} = ${cols.sql.literal(value)}, FALSE)`
    : `coalesce(${cols.text(column)} = ${cols.sql.literal(String(value))}, FALSE)`;
}

/** A check of one column (argument `column`, plus `extra` arguments). */
const single = (
  describe: (c: string, a: Record<string, unknown>) => string,
  compile: (c: string, i: CheckInput) => CompiledCheck,
  extra: Record<string, ArgType> = {},
): CheckFunction => ({
  args: { column: 'column', ...extra },
  describe: (a) => describe(str(a.column), a),
  columns: (a) => [str(a.column)],
  compile: (i) => compile(str(i.args.column), i),
});

const SCALAR_CHECK_FUNCTIONS: Record<string, CheckFunction> = {
  column_present: {
    args: { column: 'column' },
    describe: (a) => `${str(a.column)} column is present`,
    columns: () => [],
    compile: ({ args, cols }) => ({ kind: 'schema', failed: !cols.has(str(args.column)), detail: `${str(args.column)} missing` }),
  },
  custom_columns_prefixed: {
    args: {},
    describe: () => 'columns that are not FOCUS columns start with x_',
    columns: () => [],
    compile: ({ order, focusColumns }) => {
      const bad = order.filter((c) => !focusColumns.has(c) && !c.startsWith('x_'));
      return { kind: 'schema', failed: bad.length > 0, detail: `not prefixed: ${bad.join(', ')}` };
    },
  },
  custom_columns_last: {
    args: {},
    describe: () => 'custom (x_) columns come after all FOCUS columns',
    columns: () => [],
    compile: ({ order, focusColumns }) => {
      const lastFocus = order.findLastIndex((c) => focusColumns.has(c));
      const firstCustom = order.findIndex((c) => !focusColumns.has(c));
      const failed = firstCustom !== -1 && firstCustom < lastFocus;
      return { kind: 'schema', failed, detail: `${order[firstCustom]} precedes ${order[lastFocus]}` };
    },
  },
  type_string: single(
    (c) => `${c} is of type String`,
    (c, { cols }) => {
      const k = cols.kind(c);
      return { kind: 'schema', failed: k !== 'string' && k !== 'json', detail: `${c} is stored as ${cols.byName.get(c)?.type}` };
    },
  ),
  type_decimal: single(
    (c) => `${c} is of type Decimal`,
    (c, { cols }) => {
      const k = cols.kind(c);
      if (k === 'number') return NONE;
      if (k === 'string') return row(`${cols.ref(c)} IS NOT NULL AND NOT coalesce(${cols.sql.isFinite(cols.number(c))}, FALSE)`);
      return { kind: 'schema', failed: true, detail: `${c} is stored as ${cols.byName.get(c)?.type}` };
    },
  ),
  type_datetime: single(
    (c) => `${c} is of type Date/Time`,
    (c, { cols }) => {
      const k = cols.kind(c);
      if (k === 'timestamp') return NONE;
      if (k === 'string') return row(`${cols.ref(c)} IS NOT NULL AND ${cols.timestamp(c)} IS NULL`);
      return { kind: 'schema', failed: true, detail: `${c} is stored as ${cols.byName.get(c)?.type}` };
    },
  ),
  not_null: single((c) => `${c} is not null`, (c, { cols }) => row(`${cols.ref(c)} IS NULL`)),
  is_null: single((c) => `${c} is null`, (c, { cols }) => row(`${cols.ref(c)} IS NOT NULL`)),
  equals: single(
    (c, a) => `${c} is ${JSON.stringify(a.value)}`,
    (c, { cols, args }) => row(`NOT ${numberOrText(cols, c, args.value)}`),
    { value: 'value' },
  ),
  not_equals: single(
    (c, a) => `${c} is not ${JSON.stringify(a.value)}`,
    (c, { cols, args }) => row(numberOrText(cols, c, args.value)),
    { value: 'value' },
  ),
  allowed_values: single(
    (c, a) => `${c} is one of the ${(a.values as string[]).length} allowed values`,
    (c, { cols, args }) => row(`${cols.ref(c)} IS NOT NULL AND NOT ${cols.sql.inList(cols.text(c), args.values as string[])}`),
    { values: 'strings' },
  ),
  allowed_pairs: {
    args: { column: 'column', parent: 'column', pairs: 'pairs' },
    describe: (a) => `${str(a.column)} belongs to its ${str(a.parent)}`,
    columns: (a) => [str(a.column), str(a.parent)],
    compile: ({ cols, args }) => {
      const pairs = Object.entries(args.pairs as Record<string, string>).map(([k, v]) => `${k}\u001f${v}`);
      const key = cols.sql.concat([cols.text(str(args.column)), cols.sql.literal('\u001f'), `coalesce(${cols.text(str(args.parent))}, '')`]);
      return row(`${cols.ref(str(args.column))} IS NOT NULL AND NOT ${cols.sql.inList(key, pairs)}`);
    },
  },
  min_value: single(
    (c, a) => `${c} is at least ${String(a.min)}`,
    (c, { cols, args }) => row(`${cols.number(c)} < ${cols.sql.literal(args.min as number)}`),
    { min: 'number' },
  ),
  decimal: single(
    (c) => `${c} is a valid decimal value`,
    (c, { cols }) => (cols.kind(c) === 'number' ? NONE : row(`${cols.ref(c)} IS NOT NULL AND NOT coalesce(${cols.sql.isFinite(cols.number(c))}, FALSE)`)),
  ),
  numeric_format: single(
    (c) => `${c} conforms to NumericFormat`,
    (c, { cols }) => {
      // A typed number cannot carry a format defect; its text rendering is the writer's job.
      if (cols.kind(c) === 'number') return NONE;
      return row(`${cols.ref(c)} IS NOT NULL AND NOT ${cols.sql.fullMatch(cols.text(c), NUMERIC_RE)}`);
    },
  ),
  datetime_format: single(
    (c) => `${c} conforms to DateTimeFormat (YYYY-MM-DDTHH:mm:ssZ)`,
    (c, { cols }) => {
      if (cols.kind(c) === 'timestamp') return NONE;
      return row(`${cols.ref(c)} IS NOT NULL AND NOT ${cols.sql.fullMatch(cols.text(c), DATETIME_RE)}`);
    },
  ),
  string_format: single(
    (c) => `${c} is not an empty string or a null placeholder`,
    (c, { cols }) => row(cols.sql.fullMatch(cols.text(c), NULL_PLACEHOLDER_RE)),
  ),
  currency_format: single(
    (c) => `${c} is an ISO 4217 code or a virtual currency name`,
    (c, { cols, currencyCodes }) => {
      const t = cols.text(c);
      const national = `${cols.sql.fullMatch(t, '[A-Za-z]{3}')} AND NOT ${cols.sql.inList(t, currencyCodes)}`;
      return row(`${cols.ref(c)} IS NOT NULL AND (${national} OR trim(${t}) = '')`);
    },
  ),
  national_currency: single(
    (c) => `${c} is an ISO 4217 national currency code`,
    (c, { cols, currencyCodes }) => row(`${cols.ref(c)} IS NOT NULL AND NOT ${cols.sql.inList(cols.text(c), currencyCodes)}`),
  ),
  unit_format: single(
    (c) => `${c} conforms to UnitFormat`,
    (c, { cols }) => row(`${cols.ref(c)} IS NOT NULL AND NOT ${cols.sql.fullMatch(cols.text(c), UNIT_RE)}`),
  ),
  product_equals: {
    args: { a: 'column', b: 'column', result: 'column' },
    describe: (a) => `${str(a.result)} equals ${str(a.a)} x ${str(a.b)}`,
    columns: (a) => [str(a.a), str(a.b), str(a.result)],
    compile: ({ cols, args }) => {
      // FOCUS 1.3 sets no tolerance: cost MUST equal unit price x quantity (the model's check is
      // a x b <> r; 1.2's allowance for Correction rows is gone), and leaves each value's
      // precision to the data generator (NumericFormat, Numeric Precision). So the only
      // difference allowed is rounding to the precision stated: a DECIMAL column's scale (the
      // warehouse's costs at 9 decimals: 5e-10; prices and quantities at 18), or for a file the
      // decimals its cost is written with but never more than half a cent; unit prices and
      // quantities of a file are taken as written. Plus binary64's rounding of this computation
      // (2^-51 of the magnitudes, under a cent below 1e13). The product is taken in DOUBLE,
      // which cannot overflow: DuckDB types DECIMAL(38,18) x DECIMAL(38,18) as DECIMAL(38,36),
      // an error from 100 on (an exact DECIMAL product by parts measured 6.5x slower).
      const [a, b, r] = [str(args.a), str(args.b), str(args.result)];
      const [x, y, z] = [cols.number(a), cols.number(b), cols.number(r)];
      const rounding = `${cols.halfUlp(r, HALF_CENT)} + ${cols.halfUlp(a)} * abs(${y}) + ${cols.halfUlp(b)} * abs(${x}) + 4.44e-16 * (abs(${x} * ${y}) + abs(${z}))`;
      return row(`abs(${x} * ${y} - ${z}) > ${rounding}`);
    },
  },
  period_order: {
    args: { start: 'column', end: 'column' },
    describe: (a) => `${str(a.start)} is before ${str(a.end)}`,
    columns: (a) => [str(a.start), str(a.end)],
    compile: ({ cols, args }) => row(`${cols.timestamp(str(args.start))} >= ${cols.timestamp(str(args.end))}`),
  },
  single_value_per: {
    args: { column: 'column', per: 'column' },
    describe: (a) => `each ${str(a.per)} has exactly one ${str(a.column)}`,
    columns: (a) => [str(a.column), str(a.per)],
    compile: ({ cols, args }) => {
      const [c, per] = [cols.text(str(args.column)), cols.text(str(args.per))];
      return {
        kind: 'dataset',
        query: (source) =>
          `SELECT coalesce(sum(n), 0) AS failing_rows, ${cols.sql.examplesJson([['key', 'k'], ['vals', 'v']], 3)} AS examples FROM (` +
          `SELECT ${per} AS k, count(*) AS n, ${cols.sql.distinctList(c)} AS v, count(DISTINCT ${c}) + max(CASE WHEN ${c} IS NULL THEN 1 ELSE 0 END) AS d ` +
          `FROM ${source} WHERE ${per} IS NOT NULL GROUP BY 1) WHERE d <> 1`,
      };
    },
  },
};

export const CHECK_FUNCTIONS: Readonly<Record<string, CheckFunction>> = { ...SCALAR_CHECK_FUNCTIONS, ...JSON_CHECK_FUNCTIONS };

const JSON_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_]*)*(\[\*\](\.[A-Za-z_][A-Za-z0-9_]*)?)?$/;

function argProblem(type: ArgType, v: unknown): string | undefined {
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  switch (type) {
    case 'column':
      return typeof v === 'string' && isColumnName(v) ? undefined : 'a column name';
    case 'string':
      return typeof v === 'string' ? undefined : 'a string';
    case 'strings':
      return strings(v) ? undefined : 'a list of strings';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : 'a number';
    case 'value':
      return typeof v === 'string' || typeof v === 'number' ? undefined : 'a string or number';
    case 'pairs':
      return v !== null && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'string') ? undefined : 'a map of strings';
    case 'json_path':
      return typeof v === 'string' && JSON_PATH.test(v) ? undefined : 'a JSON path like $.Elements[*].Key';
    case 'element_when': {
      const w = v as { key?: unknown; is?: unknown } | null;
      const ok = w !== null && typeof w === 'object' && typeof w.key === 'string' && isColumnName(w.key) && ['null', 'not_null', 'present'].includes(String(w.is));
      return ok ? undefined : '{key, is: null | not_null | present}';
    }
  }
}

/** A message naming the first bad argument, or undefined when the arguments fit. */
export function validateCheckArgs(fn: CheckFunction, args: Record<string, unknown>): string | undefined {
  for (const [spec, type] of Object.entries(fn.args)) {
    const optional = spec.endsWith('?');
    const name = optional ? spec.slice(0, -1) : spec;
    if (args[name] === undefined) {
      if (optional) continue;
      return `needs argument ${name}`;
    }
    const problem = argProblem(type, args[name]);
    if (problem) return `argument ${name} must be ${problem}`;
  }
  const known = new Set(Object.keys(fn.args).map((k) => k.replace(/\?$/, '')));
  const extra = Object.keys(args).find((k) => !known.has(k));
  return extra ? `has unknown argument ${extra}` : undefined;
}
