import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calcPrice, type ModelPrice } from '@pydantic/genai-prices';

/**
 * List prices per model, token type and day, from @pydantic/genai-prices: maintained price data
 * with effective dates (`start_date` constraints), bundled in the package, so a run needs no
 * network and a day's usage is priced at that day's price. The package matches a reported model
 * name to its model (snapshots, aliases, dated names) and picks the price in effect at a time.
 */
export const PRICE_SOURCE = `@pydantic/genai-prices@${packageVersion()}`;

/** The package's provider of each of ours. */
const PRICE_PROVIDER: Record<string, string> = { openai: 'openai', anthropic: 'anthropic', gemini: 'google', deepseek: 'deepseek' };

export interface UnitSpec {
  /** Price keys in order of preference: the package bills a class without its own price at its parent's (cached audio at cached, then input). */
  keys: string[];
  pricingUnit: string;
  /** Consumed units per pricing unit, as a 9-decimal factor (tokens to millions of tokens: 0.000001). */
  factor: string;
}

const PER_MTOK = { pricingUnit: '1000000 Tokens', factor: '0.000001' };
export const TOKEN_TYPES: Record<string, UnitSpec> = {
  input: { keys: ['input_mtok'], ...PER_MTOK },
  cached_input: { keys: ['cache_read_mtok', 'input_mtok'], ...PER_MTOK },
  // OpenAI bills cache writes at the input price until GPT-5.6; the data has cache_write_mtok where it differs.
  cache_write: { keys: ['cache_write_mtok', 'input_mtok'], ...PER_MTOK },
  // Only models with a 1-hour cache price offer the 1-hour cache.
  cache_write_1h: { keys: ['cache_write_1h_mtok'], ...PER_MTOK },
  output: { keys: ['output_mtok'], ...PER_MTOK },
  input_audio: { keys: ['input_audio_mtok', 'input_mtok'], ...PER_MTOK },
  cached_input_audio: { keys: ['cache_audio_read_mtok', 'cache_read_mtok', 'input_audio_mtok', 'input_mtok'], ...PER_MTOK },
  output_audio: { keys: ['output_audio_mtok', 'output_mtok'], ...PER_MTOK },
  input_image: { keys: ['input_image_mtok', 'input_mtok'], ...PER_MTOK },
  cached_input_image: { keys: ['cache_image_read_mtok', 'cache_read_mtok', 'input_image_mtok', 'input_mtok'], ...PER_MTOK },
  output_image: { keys: ['output_image_mtok', 'output_mtok'], ...PER_MTOK },
  web_search: { keys: ['web_searches_kcount'], pricingUnit: '1000 Requests', factor: '0.001' },
  file_search: { keys: ['storage_searches_kcount'], pricingUnit: '1000 Requests', factor: '0.001' },
  audio_seconds: { keys: ['input_audio_hours', 'audio_hours'], pricingUnit: 'Hours', factor: '0.000277778' },
  characters: { keys: ['input_mchars'], pricingUnit: '1000000 Characters', factor: '0.000001' },
  // Not in the price data (per-image, storage and session prices): priced by an override only.
  images: { keys: [], pricingUnit: 'Images', factor: '1' },
  vector_storage: { keys: [], pricingUnit: 'GiB-Hours', factor: '1' },
  code_interpreter_session: { keys: [], pricingUnit: 'Sessions', factor: '1' },
};

/**
 * Service tiers priced as a share of the standard list price, from the providers' price pages:
 * the Batch APIs of OpenAI, Anthropic and Gemini cost half, and OpenAI's flex processing is
 * billed at Batch rates. Priority and other tiers have per-model prices the data does not hold,
 * so they stay unpriced (and flagged) rather than guessed.
 */
const TIER_FACTOR: Record<string, Record<string, number>> = {
  openai: { standard: 1, batch: 0.5, flex: 0.5 },
  anthropic: { standard: 1, batch: 0.5 },
  gemini: { standard: 1, batch: 0.5 },
  deepseek: { standard: 1 },
};

export type PriceStatus = 'priced' | 'unknown_model' | 'no_price_for_token_type' | 'no_price_for_tier';

export interface PriceKey {
  provider: string;
  day: string;
  model: string | null;
  tokenType: string;
  pricingTier: string;
  contextWindow: string | null;
}

export interface ListPrice {
  status: PriceStatus;
  pricingUnit: string;
  factor: string;
  /** Per pricing unit, 9 decimals; undefined unless priced. */
  unitPrice?: string;
  priceModelId?: string;
  /** First day of the price in effect, when the data dates it. */
  effectiveFrom?: string;
}

/** The unit of a token type; an unknown class is counted in its own unit, one per unit. */
export function unitOf(tokenType: string, consumedUnit: string): UnitSpec {
  return TOKEN_TYPES[tokenType] ?? { keys: [], pricingUnit: consumedUnit, factor: '1' };
}

/** A price lookup with a cache per (provider, model, day): a run asks per distinct key, not per row. */
export function priceList() {
  const models = new Map<string, { id: string; prices: ModelPrice; effectiveFrom?: string } | null>();

  function modelPrice(provider: string, model: string, day: string) {
    const cacheKey = `${provider}\u0000${model}\u0000${day}`;
    if (models.has(cacheKey)) return models.get(cacheKey) ?? undefined;
    const providerId = PRICE_PROVIDER[provider];
    // Noon UTC: a start_date price applies from its midnight; a time-of-day price (DeepSeek's
    // peak hours) cannot be told from a daily total, and noon falls in the standard-price window.
    const result = providerId ? calcPrice({}, model, { providerId, timestamp: new Date(`${day}T12:00:00Z`) }) : null;
    let found: { id: string; prices: ModelPrice; effectiveFrom?: string } | null = null;
    if (result) {
      const conditional = Array.isArray(result.model.prices) ? result.model.prices.find((entry) => entry.prices === result.model_price) : undefined;
      const start = conditional?.constraint?.type === 'start_date' ? conditional.constraint.start_date : undefined;
      found = { id: result.model.id, prices: result.model_price, ...(start ? { effectiveFrom: start } : {}) };
    }
    models.set(cacheKey, found);
    return found ?? undefined;
  }

  return {
    lookup(key: PriceKey, consumedUnit: string): ListPrice {
      const unit = unitOf(key.tokenType, consumedUnit);
      const base = { pricingUnit: unit.pricingUnit, factor: unit.factor };
      if (key.model === null) return { status: 'no_price_for_token_type', ...base };
      const model = modelPrice(key.provider, key.model, key.day);
      if (!model) return { status: 'unknown_model', ...base };
      const identity = { priceModelId: model.id, ...(model.effectiveFrom ? { effectiveFrom: model.effectiveFrom } : {}) };
      const priceKey = unit.keys.find((candidate) => model.prices[candidate] !== undefined);
      if (!priceKey) return { status: 'no_price_for_token_type', ...base, ...identity };
      const tierFactor = TIER_FACTOR[key.provider]?.[key.pricingTier];
      if (tierFactor === undefined) return { status: 'no_price_for_tier', ...base, ...identity };
      const price = priceAt(model.prices[priceKey], key.contextWindow);
      return { status: 'priced', ...base, ...identity, unitPrice: decimal(price * tierFactor) };
    },
  };
}

/**
 * A flat price, or the tier of a tiered one (prices that rise past a prompt length): Anthropic's
 * usage names the context window ("200k-1M"), whose lower bound picks the tier; elsewhere the
 * prompt length is not reported and the base price applies.
 */
function priceAt(price: ModelPrice[string], contextWindow: string | null): number {
  if (typeof price === 'number') return price;
  if (!price) return Number.NaN;
  const lower = parseTokens(contextWindow?.split('-')[0]);
  let chosen = price.base;
  for (const tier of [...price.tiers].sort((a, b) => a.start - b.start)) if (lower !== undefined && lower >= tier.start) chosen = tier.price;
  return chosen;
}

function parseTokens(text: string | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text?.trim() ?? '');
  if (!match) return undefined;
  const scale = { k: 1e3, K: 1e3, m: 1e6, M: 1e6 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * scale;
}

/** A price as a decimal string of 9 places: float noise (0.13500000000000001) is rounded away. */
export function decimal(value: number): string {
  if (!Number.isFinite(value) || value < 0) throw new Error(`not a price: ${value}`);
  return value.toFixed(9);
}

function packageVersion(): string {
  try {
    const entry = fileURLToPath(import.meta.resolve('@pydantic/genai-prices'));
    return (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
