import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { ProcessorError } from '../../shared/errors.ts';
import { decimal, TOKEN_TYPES } from './pricing.ts';

/**
 * Per-org price overrides (negotiated discounts, private prices), a CSV table:
 * `org_slug, provider, model, token_type, pricing_tier, effective_from, effective_to,
 * discount_percent, unit_price, note`. `model` is a name, a prefix ending in `*`, or `*`;
 * `token_type` and `pricing_tier` a value or `*`; the dates bound the days it applies to
 * (inclusive, open when empty). Exactly one of `discount_percent` (off the list price) and
 * `unit_price` (per pricing unit, which also prices what the price list does not have).
 * The most specific override applies: model, then token type, then tier, then the latest start.
 */
export interface PriceOverride {
  line: number;
  orgSlug: string;
  provider: string;
  model: string;
  tokenType: string;
  pricingTier: string;
  effectiveFrom: string | undefined;
  effectiveTo: string | undefined;
  discountPercent: number | undefined;
  unitPrice: number | undefined;
  note: string;
}

const COLUMNS = ['org_slug', 'provider', 'model', 'token_type', 'pricing_tier', 'effective_from', 'effective_to', 'discount_percent', 'unit_price', 'note'];
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The overrides of one org from the file; a missing file means none, a malformed line fails naming it. */
export async function loadPriceOverrides(file: string, orgSlug: string): Promise<PriceOverride[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const fail = (line: number, message: string) => new ProcessorError(`${file}:${line}: ${message}`, { retryable: false });
  let records: { record: Record<string, string>; line: number }[];
  try {
    records = (parse(text, { columns: true, comment: '#', skip_empty_lines: true, trim: true, info: true }) as { record: Record<string, string>; info: { lines: number } }[]).map((row) => ({ record: row.record, line: row.info.lines }));
  } catch (error) {
    throw new ProcessorError(`${file}: not a CSV table: ${(error as Error).message}`, { retryable: false, cause: error });
  }
  const overrides: PriceOverride[] = [];
  for (const { record, line } of records) {
    const missing = COLUMNS.filter((column) => !(column in record));
    if (missing.length > 0) throw fail(line, `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    if (record.org_slug !== orgSlug) continue;
    const number = (name: string) => {
      const raw = record[name] ?? '';
      if (raw === '') return undefined;
      const value = Number(raw);
      if (!Number.isFinite(value) || value < 0) throw fail(line, `${name} must be a non-negative number, got "${raw}"`);
      return value;
    };
    const discountPercent = number('discount_percent');
    const unitPrice = number('unit_price');
    if ((discountPercent === undefined) === (unitPrice === undefined)) throw fail(line, 'give exactly one of discount_percent and unit_price');
    if (discountPercent !== undefined && discountPercent > 100) throw fail(line, `discount_percent must be at most 100, got ${discountPercent}`);
    const day = (name: string) => {
      const raw = record[name] ?? '';
      if (raw === '') return undefined;
      if (!DAY.test(raw)) throw fail(line, `${name} must be YYYY-MM-DD, got "${raw}"`);
      return raw;
    };
    const tokenType = record.token_type || '*';
    if (tokenType !== '*' && !(tokenType in TOKEN_TYPES) && tokenType !== 'other') throw fail(line, `token_type "${tokenType}" is not one of ${Object.keys(TOKEN_TYPES).join(', ')}, other or *`);
    overrides.push({
      line,
      orgSlug,
      provider: record.provider || '*',
      model: record.model || '*',
      tokenType,
      pricingTier: record.pricing_tier || '*',
      effectiveFrom: day('effective_from'),
      effectiveTo: day('effective_to'),
      discountPercent,
      unitPrice,
      note: record.note ?? '',
    });
  }
  return overrides;
}

export interface OverrideKey {
  provider: string;
  model: string | null;
  tokenType: string;
  pricingTier: string;
  day: string;
}

/** The override that applies to a key, if any. */
export function findOverride(overrides: PriceOverride[], key: OverrideKey): PriceOverride | undefined {
  let best: { override: PriceOverride; score: number[] } | undefined;
  for (const override of overrides) {
    if (override.provider !== '*' && override.provider !== key.provider) continue;
    const modelScore = matchModel(override.model, key.model);
    if (modelScore < 0) continue;
    if (override.tokenType !== '*' && override.tokenType !== key.tokenType) continue;
    if (override.pricingTier !== '*' && override.pricingTier !== key.pricingTier) continue;
    if ((override.effectiveFrom && key.day < override.effectiveFrom) || (override.effectiveTo && key.day > override.effectiveTo)) continue;
    const score = [modelScore, override.tokenType === '*' ? 0 : 1, override.pricingTier === '*' ? 0 : 1, override.provider === '*' ? 0 : 1, Date.parse(override.effectiveFrom ?? '1970-01-01')];
    if (!best || compare(score, best.score) > 0) best = { override, score };
  }
  return best?.override;
}

/** Exact name beats the longest prefix beats `*`; -1 when it does not match. */
function matchModel(pattern: string, model: string | null): number {
  if (pattern === '*') return 0;
  if (model === null) return -1;
  if (pattern.endsWith('*')) return model.startsWith(pattern.slice(0, -1)) ? pattern.length : -1;
  return pattern === model ? 10_000 : -1;
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** The contracted price an override gives, against the list price (per pricing unit, 9 decimals). */
export function contractedPrice(override: PriceOverride, listPrice: string | undefined): string | undefined {
  if (override.unitPrice !== undefined) return decimal(override.unitPrice);
  if (listPrice === undefined || override.discountPercent === undefined) return undefined;
  return decimal(Number(listPrice) * (1 - override.discountPercent / 100));
}
