/**
 * The checks of a plans CSV (see plans-import.ts): every row valid, or an InputError naming every
 * problem by line and column. Linear in the file's size; plans-import.ts runs it in a worker
 * thread (plans-check-worker.ts), so the heap and the collector of a 10 MB file stay off the
 * API's event loop.
 */
import { loadCurrencyCodes, loadFocusRuleSet } from '../focus/focus-rules.ts';
import { isIsoDate } from '../shared/clock.ts';
import { InputError } from '../shared/errors.ts';
import { forEachCsvRecord, type CsvRecord } from './csv-records.ts';

/**
 * A plans file lists an org's SaaS subscriptions: thousands of rows at most. The cap bounds the
 * memory of one import (the API also caps the body at 10 MB).
 */
export const MAX_PLAN_ROWS = 100_000;
/** Problems listed in the error; a file of 100,000 bad rows is refused with the first of them. */
const LISTED_PROBLEMS = 100;

type Kind = 'text' | 'date' | 'decimal' | 'integer' | 'boolean' | 'enum' | 'currency' | 'category' | 'subcategory';

interface Column {
  name: string;
  kind: Kind;
  required?: boolean;
  values?: readonly string[];
  /** Longest accepted text. */
  maxLength?: number;
}

const STATUSES = ['active', 'trial', 'cancelled', 'expired'] as const;
const BILLING_CYCLES = ['monthly', 'quarterly', 'annual'] as const;
const PRICING_MODELS = ['flat', 'per_seat'] as const;

/** The CSV columns, in the table's order; the import adds source_line and import_date. */
export const PLAN_COLUMNS: readonly Column[] = [
  { name: 'subscription_id', kind: 'text', required: true },
  { name: 'vendor', kind: 'text', required: true },
  { name: 'product', kind: 'text', required: true },
  { name: 'plan_name', kind: 'text', required: true },
  { name: 'sku_id', kind: 'text' },
  { name: 'status', kind: 'enum', required: true, values: STATUSES },
  { name: 'start_date', kind: 'date', required: true },
  { name: 'end_date', kind: 'date' },
  { name: 'billing_cycle', kind: 'enum', required: true, values: BILLING_CYCLES },
  { name: 'pricing_model', kind: 'enum', required: true, values: PRICING_MODELS },
  { name: 'seats', kind: 'integer' },
  { name: 'unit_price', kind: 'decimal', required: true },
  { name: 'currency', kind: 'currency', required: true },
  { name: 'discount_percent', kind: 'decimal' },
  { name: 'auto_renew', kind: 'boolean' },
  { name: 'notice_period_days', kind: 'integer' },
  { name: 'billing_account_id', kind: 'text' },
  { name: 'billing_account_name', kind: 'text' },
  { name: 'invoice_issuer', kind: 'text' },
  { name: 'contract_id', kind: 'text' },
  { name: 'cost_center', kind: 'text' },
  { name: 'team', kind: 'text' },
  { name: 'owner', kind: 'text' },
  { name: 'service_category', kind: 'category' },
  { name: 'service_subcategory', kind: 'subcategory' },
  { name: 'notes', kind: 'text', maxLength: 10_000 },
];

export type PlanRow = Record<string, string | null>;

interface PlansReference {
  currencies: ReadonlySet<string>;
  /** FOCUS ServiceSubcategory -> its ServiceCategory. */
  subcategories: ReadonlyMap<string, string>;
  categories: ReadonlySet<string>;
}

interface Problem {
  line: number;
  /** Absent when the problem is the whole line. */
  column?: string;
  reason: string;
}

interface CheckedRow {
  line: number;
  row: PlanRow;
  /** Columns whose value passed its own checks (possibly empty). */
  ok: Set<string>;
}

/**
 * The problems of a file: all are counted, the first ones kept. A file of 100,000 bad rows has
 * hundreds of thousands of problems; listing them would make a message of tens of megabytes.
 */
class Problems {
  readonly kept: Problem[] = [];
  count = 0;
  add(problem: Problem): void {
    this.count += 1;
    if (this.kept.length < LISTED_PROBLEMS * 10) this.kept.push(problem);
  }
}

/**
 * Parses and checks a plans CSV; every problem is collected before the one InputError is thrown.
 * Linear in the file's size.
 */
export async function checkPlansCsv(csvText: string): Promise<PlanRow[]> {
  const ref = await loadPlansReference();
  const problems = new Problems();
  let names: string[] | undefined;
  const index = new Map<string, number>();
  const rows: CheckedRow[] = [];
  let tooMany = false;
  const onRecord = ({ info, record }: CsvRecord) => {
    if (!names) {
      names = readHeader(record, index, problems);
      return;
    }
    // Spreadsheets export blank rows as a line of commas.
    if (tooMany || record.every((field) => field.trim() === '')) return;
    if (rows.length >= MAX_PLAN_ROWS) {
      tooMany = true;
      return;
    }
    // info.lines is where the record ends; a quoted field may span lines.
    const line = info.lines - record.reduce((n, field) => n + (field.match(/\n/g)?.length ?? 0), 0);
    if (record.length !== names.length) problems.add({ line, reason: `has ${record.length} fields, the header has ${names.length}` });
    else rows.push(checkRow(line, record, index, ref, problems));
  };
  try {
    await forEachCsvRecord(csvText, onRecord);
  } catch (cause) {
    const line = (cause as { lines?: number }).lines;
    throw new InputError(`The plans file is not valid CSV, nothing was imported: ${line ? `line ${line}: ` : ''}${(cause as Error).message.slice(0, 300)}`, { field: 'file', cause });
  }
  if (!names) throw new InputError('The plans file is empty, nothing was imported', { field: 'file' });
  if (tooMany) throw new InputError(`The plans file has more than ${MAX_PLAN_ROWS} plan rows, nothing was imported`, { field: 'file' });
  if (rows.length === 0 && problems.count === 0) problems.add({ line: 2, reason: 'the file has no plan rows (an import replaces all plans of the org, so an empty file is refused)' });
  checkAcrossRows(rows, problems);
  if (problems.count > 0) {
    const listed = problems.kept.sort((a, b) => a.line - b.line).slice(0, LISTED_PROBLEMS).map((p) => `line ${p.line}${p.column ? `, column ${p.column}` : ''}: ${p.reason}`);
    const more = problems.count > listed.length ? ` (the first ${listed.length} listed)` : '';
    throw new InputError(`The plans file has ${problems.count} problem${problems.count === 1 ? '' : 's'}, nothing was imported${more}:\n${listed.join('\n')}`, { field: 'file' });
  }
  return rows.map(({ line, row }) => ({ ...row, source_line: String(line) }));
}

/** The header's column names; unknown, repeated and missing required columns are problems of line 1. */
function readHeader(record: string[], index: Map<string, number>, problems: Problems): string[] {
  const names = record.map((name) => name.trim());
  const known = new Set(PLAN_COLUMNS.map((c) => c.name));
  names.forEach((name, i) => {
    if (!known.has(name)) problems.add({ line: 1, column: shown(name) || `#${i + 1}`, reason: `unknown column; the columns are ${PLAN_COLUMNS.map((c) => c.name).join(', ')}` });
    else if (index.has(name)) problems.add({ line: 1, column: name, reason: 'appears twice in the header' });
    else index.set(name, i);
  });
  for (const column of PLAN_COLUMNS) if (column.required && !index.has(column.name)) problems.add({ line: 1, column: column.name, reason: 'required column missing from the header' });
  return names;
}

/** A cell as the error message shows it: a 5 MB cell is named by its start. */
function shown(raw: string): string {
  return raw.length > 60 ? `${raw.slice(0, 60)}…` : raw;
}

function quoted(raw: string): string {
  return JSON.stringify(shown(raw));
}

function checkRow(line: number, record: string[], index: Map<string, number>, ref: PlansReference, problems: Problems): CheckedRow {
  const row: PlanRow = {};
  const ok = new Set<string>();
  const fail = (column: string, reason: string) => problems.add({ line, column, reason });
  for (const column of PLAN_COLUMNS) {
    const at = index.get(column.name);
    const raw = at === undefined ? '' : (record[at] ?? '').trim();
    row[column.name] = null;
    if (raw === '') {
      if (column.required && at !== undefined) fail(column.name, 'is required');
      else ok.add(column.name);
      continue;
    }
    const reason = checkValue(column, raw, ref);
    if (reason) fail(column.name, reason);
    else {
      row[column.name] = column.kind === 'boolean' ? raw.toLowerCase() : raw;
      ok.add(column.name);
    }
  }
  row.discount_percent ??= '0';

  const { start_date: start, end_date: end, status } = row;
  if (start && end && ok.has('start_date') && ok.has('end_date') && end < start) fail('end_date', `${end} is before start_date ${start}`);
  if ((status === 'cancelled' || status === 'expired') && ok.has('end_date') && end === null) fail('end_date', `is required when status is ${status}`);
  if (row.pricing_model === 'per_seat' && ok.has('seats') && row.seats === null) fail('seats', 'is required for per_seat pricing');
  const subcategory = row.service_subcategory;
  if (subcategory && ok.has('service_category')) {
    const parent = ref.subcategories.get(subcategory);
    if (row.service_category === null) fail('service_subcategory', `needs service_category (${subcategory} belongs to ${parent})`);
    else if (parent !== row.service_category) fail('service_subcategory', `${subcategory} belongs to ${parent}, not ${row.service_category}`);
  }
  return { line, row, ok };
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

function checkValue(column: Column, raw: string, ref: PlansReference): string | undefined {
  switch (column.kind) {
    case 'text':
      return raw.length > (column.maxLength ?? 1000) ? `is longer than ${column.maxLength ?? 1000} characters` : undefined;
    case 'date':
      return isIsoDate(raw) ? undefined : `${quoted(raw)} is not a date as YYYY-MM-DD`;
    case 'enum':
      return column.values?.includes(raw) ? undefined : `${quoted(raw)} is not one of ${column.values?.join(', ')}`;
    case 'currency':
      if (ref.currencies.has(raw)) return undefined;
      return ref.currencies.has(raw.toUpperCase()) ? `${quoted(raw)} must be written ${shown(raw.toUpperCase())}` : `${quoted(raw)} is not an ISO 4217 currency code`;
    case 'boolean':
      return /^(true|false)$/i.test(raw) ? undefined : `${quoted(raw)} is not true or false`;
    case 'integer':
      if (!/^-?\d+$/.test(raw)) return `${quoted(raw)} is not a whole number`;
      if (raw.startsWith('-')) return `${shown(raw)} is negative`;
      return raw.length > 9 ? `${shown(raw)} is too large` : undefined;
    case 'decimal': {
      if (!DECIMAL.test(raw)) return `${quoted(raw)} is not a number (digits and an optional decimal point, no currency sign or thousands separator)`;
      if (raw.startsWith('-')) return `${shown(raw)} is negative`;
      const [whole = '', fraction = ''] = raw.split('.');
      if (fraction.length > 9) return `${shown(raw)} has more than 9 decimals`;
      if (whole.replace(/^0+/, '').length > 15) return `${shown(raw)} is too large`;
      if (column.name === 'discount_percent' && Number(raw) > 100) return `${shown(raw)} is more than 100`;
      return undefined;
    }
    case 'category':
      return ref.categories.has(raw) ? undefined : `${quoted(raw)} is not a FOCUS ServiceCategory (${[...ref.categories].join(', ')})`;
    case 'subcategory':
      return ref.subcategories.has(raw) ? undefined : `${quoted(raw)} is not a FOCUS ServiceSubcategory`;
  }
}

/**
 * Rules between rows: the date ranges of one subscription never overlap (a day would be charged
 * twice), and its billing cycle, currency and vendor stay the same (cycles are anchored at its
 * first start; a change of cycle or currency is a new subscription). One product has one FOCUS
 * category (CAU-ServiceName-C-005-C).
 */
function checkAcrossRows(rows: CheckedRow[], problems: Problems): void {
  // Each row is appended to its subscription's list in place: copying the list per row made a
  // 5 MB file quadratic (issue 10, item 11: 100 KB took 16 s).
  const bySubscription = new Map<string, CheckedRow[]>();
  for (const entry of rows) {
    if (!entry.ok.has('subscription_id')) continue;
    const id = entry.row.subscription_id as string;
    const entries = bySubscription.get(id);
    if (entries) entries.push(entry);
    else bySubscription.set(id, [entry]);
  }
  for (const [id, entries] of bySubscription) {
    if (entries.length === 1) continue;
    const first = entries[0] as CheckedRow;
    for (const entry of entries.slice(1)) {
      for (const column of ['vendor', 'billing_cycle', 'currency']) {
        if (!entry.ok.has(column) || !first.ok.has(column) || entry.row[column] === first.row[column]) continue;
        problems.add({ line: entry.line, column, reason: `${shown(entry.row[column] ?? '')} differs from ${shown(first.row[column] ?? '')} on line ${first.line} of subscription ${shown(id)}; a change of vendor, billing cycle or currency starts a new subscription_id` });
      }
    }
    // In start order, each row against the one reaching furthest so far (null end: open-ended).
    const dated = entries.filter((e) => e.ok.has('start_date') && e.ok.has('end_date') && e.row.start_date !== null);
    dated.sort((a, b) => (a.row.start_date as string).localeCompare(b.row.start_date as string) || a.line - b.line);
    const reach = (e: CheckedRow) => e.row.end_date ?? '9999-12-31';
    let furthest: CheckedRow | undefined;
    for (const entry of dated) {
      if (furthest && reach(furthest) >= (entry.row.start_date as string)) {
        problems.add({ line: entry.line, column: 'start_date', reason: `${range(entry.row)} of subscription ${shown(id)} overlaps ${range(furthest.row)} on line ${furthest.line}; a change starts a new row on its date and the previous row ends the day before` });
      }
      if (!furthest || reach(entry) > reach(furthest)) furthest = entry;
    }
  }
  const byProduct = new Map<string, { line: number; category: string }>();
  for (const { line, row, ok } of rows) {
    const product = row.product;
    if (!product || !ok.has('service_category') || !ok.has('service_subcategory')) continue;
    const category = row.service_category ?? 'Business Applications';
    const both = `${category} / ${row.service_subcategory ?? `Other (${category})`}`;
    const seen = byProduct.get(product);
    if (!seen) byProduct.set(product, { line, category: both });
    else if (seen.category !== both) problems.add({ line, column: 'service_category', reason: `product ${shown(product)} is ${both} here and ${seen.category} on line ${seen.line}; FOCUS gives one product (ServiceName) one category` });
  }
}

function range(row: PlanRow): string {
  return `${row.start_date}..${row.end_date ?? '(open)'}`;
}

/** The allowed values come from the FOCUS data the conformance checker uses, so the two agree. */
async function loadPlansReference(): Promise<PlansReference> {
  const [codes, rules] = await Promise.all([loadCurrencyCodes(), loadFocusRuleSet()]);
  const args = (check: string, column: string) => rules.rules.find((rule) => rule.check === check && rule.args?.column === column)?.args;
  const categories = args('allowed_values', 'ServiceCategory')?.values as string[] | undefined;
  const pairs = args('allowed_pairs', 'ServiceSubcategory')?.pairs as Record<string, string> | undefined;
  if (!categories || !pairs) throw new Error('configs/focus/rules-1.3.yml lacks the ServiceCategory / ServiceSubcategory allowed-value rules');
  return { currencies: new Set(codes), categories: new Set(categories), subcategories: new Map(Object.entries(pairs)) };
}
