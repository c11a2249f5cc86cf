/**
 * `pipeline plans import <org> plans.csv`: validates every row of a finance team's CSV of SaaS
 * plans and, only when all of them are good, replaces the org's saas_subscription_plans in one
 * transaction. A bad file imports nothing and names every problem by line and column, so it can
 * be fixed in one pass. The columns are those of configs/schemas/subscription/saas_subscription_plans.json
 * (a test holds the two together); docs/subscription-costs.md describes them.
 */
import { parse } from 'csv-parse/sync';
import { loadCurrencyCodes, loadFocusRuleSet } from '../focus/focus-rules.ts';
import { isIsoDate } from '../shared/clock.ts';
import { InputError } from '../shared/errors.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';

const PLANS_TABLE = 'saas_subscription_plans';
const PLANS_SCHEMA = 'subscription/saas_subscription_plans';
const PLANS_PIPELINE_ID = 'saas_subscription_plans_import';

export interface PlansImportInput {
  orgSlug: string;
  dataset: string;
  csvText: string;
  importedAt: Date;
  runId: string;
}

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

type PlanRow = Record<string, string | null>;

interface PlansReference {
  currencies: ReadonlySet<string>;
  /** FOCUS ServiceSubcategory -> its ServiceCategory. */
  subcategories: ReadonlyMap<string, string>;
  categories: ReadonlySet<string>;
}

/** Validates the file completely, then writes it; returns the number of plan rows imported. */
export async function importPlans(warehouse: Warehouse, input: PlansImportInput): Promise<number> {
  const importDate = input.importedAt.toISOString().slice(0, 10);
  const rows = validatePlansCsv(input.csvText, await loadPlansReference());
  const columns = [...PLAN_COLUMNS.map((c) => c.name), 'source_line', 'import_date'];
  const { rows: written } = await warehouse.replacePartitionFromBatches({
    dataset: input.dataset,
    table: PLANS_TABLE,
    schema: PLANS_SCHEMA,
    lineage: { orgSlug: input.orgSlug, pipelineId: PLANS_PIPELINE_ID, credentialId: 'default', runId: input.runId, ingestedAt: input.importedAt },
    // The whole date range: this import replaces every earlier one of the org.
    runDates: { start: '0001-01-01', end: '9999-12-31' },
    runDateColumn: 'import_date',
    columns,
    batches: (async function* () {
      yield rows.map((row) => ({ ...row, import_date: importDate }));
    })(),
  });
  return written;
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

/** Parses and checks a plans CSV; every problem is collected before the one InputError is thrown. */
function validatePlansCsv(csvText: string, ref: PlansReference): PlanRow[] {
  let records: { info: { lines: number }; record: string[] }[];
  try {
    records = parse(csvText, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (cause) {
    const line = (cause as { lines?: number }).lines;
    throw new InputError(`The plans file is not valid CSV, nothing was imported: ${line ? `line ${line}: ` : ''}${(cause as Error).message}`, { field: 'file', cause });
  }
  const [header, ...data] = records;
  if (!header) throw new InputError('The plans file is empty, nothing was imported', { field: 'file' });
  const problems: Problem[] = [];

  const names = header.record.map((name) => name.trim());
  const known = new Set(PLAN_COLUMNS.map((c) => c.name));
  const index = new Map<string, number>();
  names.forEach((name, i) => {
    if (!known.has(name)) problems.push({ line: 1, column: name || `#${i + 1}`, reason: `unknown column; the columns are ${PLAN_COLUMNS.map((c) => c.name).join(', ')}` });
    else if (index.has(name)) problems.push({ line: 1, column: name, reason: 'appears twice in the header' });
    else index.set(name, i);
  });
  for (const column of PLAN_COLUMNS) if (column.required && !index.has(column.name)) problems.push({ line: 1, column: column.name, reason: 'required column missing from the header' });

  const rows: CheckedRow[] = [];
  for (const { info, record } of data) {
    // Spreadsheets export blank rows as a line of commas.
    if (record.every((field) => field.trim() === '')) continue;
    // info.lines is where the record ends; a quoted field may span lines.
    const line = info.lines - record.reduce((n, field) => n + (field.match(/\n/g)?.length ?? 0), 0);
    if (record.length !== names.length) problems.push({ line, reason: `has ${record.length} fields, the header has ${names.length}` });
    else rows.push(checkRow(line, record, index, ref, problems));
  }
  if (rows.length === 0 && problems.length === 0) problems.push({ line: 2, reason: 'the file has no plan rows (an import replaces all plans of the org, so an empty file is refused)' });
  checkAcrossRows(rows, problems);
  if (problems.length > 0) {
    const listed = problems.sort((a, b) => a.line - b.line).map((p) => `line ${p.line}${p.column ? `, column ${p.column}` : ''}: ${p.reason}`);
    throw new InputError(`The plans file has ${problems.length} problem${problems.length === 1 ? '' : 's'}, nothing was imported:\n${listed.join('\n')}`, { field: 'file' });
  }
  return rows.map(({ line, row }) => ({ ...row, source_line: String(line) }));
}

function checkRow(line: number, record: string[], index: Map<string, number>, ref: PlansReference, problems: Problem[]): CheckedRow {
  const row: PlanRow = {};
  const ok = new Set<string>();
  const fail = (column: string, reason: string) => problems.push({ line, column, reason });
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
      return isIsoDate(raw) ? undefined : `${JSON.stringify(raw)} is not a date as YYYY-MM-DD`;
    case 'enum':
      return column.values?.includes(raw) ? undefined : `${JSON.stringify(raw)} is not one of ${column.values?.join(', ')}`;
    case 'currency':
      if (ref.currencies.has(raw)) return undefined;
      return ref.currencies.has(raw.toUpperCase()) ? `${JSON.stringify(raw)} must be written ${raw.toUpperCase()}` : `${JSON.stringify(raw)} is not an ISO 4217 currency code`;
    case 'boolean':
      return /^(true|false)$/i.test(raw) ? undefined : `${JSON.stringify(raw)} is not true or false`;
    case 'integer':
      if (!/^-?\d+$/.test(raw)) return `${JSON.stringify(raw)} is not a whole number`;
      if (raw.startsWith('-')) return `${raw} is negative`;
      return raw.length > 9 ? `${raw} is too large` : undefined;
    case 'decimal': {
      if (!DECIMAL.test(raw)) return `${JSON.stringify(raw)} is not a number (digits and an optional decimal point, no currency sign or thousands separator)`;
      if (raw.startsWith('-')) return `${raw} is negative`;
      const [whole = '', fraction = ''] = raw.split('.');
      if (fraction.length > 9) return `${raw} has more than 9 decimals`;
      if (whole.replace(/^0+/, '').length > 15) return `${raw} is too large`;
      if (column.name === 'discount_percent' && Number(raw) > 100) return `${raw} is more than 100`;
      return undefined;
    }
    case 'category':
      return ref.categories.has(raw) ? undefined : `${JSON.stringify(raw)} is not a FOCUS ServiceCategory (${[...ref.categories].join(', ')})`;
    case 'subcategory':
      return ref.subcategories.has(raw) ? undefined : `${JSON.stringify(raw)} is not a FOCUS ServiceSubcategory`;
  }
}

/**
 * Rules between rows: the date ranges of one subscription never overlap (a day would be charged
 * twice), and its billing cycle, currency and vendor stay the same (cycles are anchored at its
 * first start; a change of cycle or currency is a new subscription). One product has one FOCUS
 * category (CAU-ServiceName-C-005-C).
 */
function checkAcrossRows(rows: CheckedRow[], problems: Problem[]): void {
  const bySubscription = new Map<string, CheckedRow[]>();
  for (const entry of rows) {
    if (!entry.ok.has('subscription_id')) continue;
    const id = entry.row.subscription_id as string;
    bySubscription.set(id, [...(bySubscription.get(id) ?? []), entry]);
  }
  for (const [id, entries] of bySubscription) {
    const first = entries[0] as CheckedRow;
    for (const entry of entries.slice(1)) {
      for (const column of ['vendor', 'billing_cycle', 'currency']) {
        if (!entry.ok.has(column) || !first.ok.has(column) || entry.row[column] === first.row[column]) continue;
        problems.push({ line: entry.line, column, reason: `${entry.row[column]} differs from ${first.row[column]} on line ${first.line} of subscription ${id}; a change of vendor, billing cycle or currency starts a new subscription_id` });
      }
    }
    // In start order, each row against the one reaching furthest so far (null end: open-ended).
    const dated = entries.filter((e) => e.ok.has('start_date') && e.ok.has('end_date') && e.row.start_date !== null);
    dated.sort((a, b) => (a.row.start_date as string).localeCompare(b.row.start_date as string) || a.line - b.line);
    const reach = (e: CheckedRow) => e.row.end_date ?? '9999-12-31';
    let furthest: CheckedRow | undefined;
    for (const entry of dated) {
      if (furthest && reach(furthest) >= (entry.row.start_date as string)) {
        problems.push({ line: entry.line, column: 'start_date', reason: `${range(entry.row)} of subscription ${id} overlaps ${range(furthest.row)} on line ${furthest.line}; a change starts a new row on its date and the previous row ends the day before` });
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
    else if (seen.category !== both) problems.push({ line, column: 'service_category', reason: `product ${product} is ${both} here and ${seen.category} on line ${seen.line}; FOCUS gives one product (ServiceName) one category` });
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
