import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { builtinProcessors } from '../../src/processors/builtin.ts';
import { resolveBaseUrl, environmentBaseUrl } from '../../src/processors/genai/base-url.ts';
import { contractedPrice, findOverride, loadPriceOverrides } from '../../src/processors/genai/price-overrides.ts';
import { PRICE_SOURCE, priceList, type PriceKey } from '../../src/processors/genai/pricing.ts';
import type { ProcessorContext } from '../../src/processors/types.ts';
import { REPO } from '../support/test-app.ts';

const key = (overrides: Partial<PriceKey>): PriceKey => ({ provider: 'openai', day: '2026-01-10', model: 'gpt-4o-2024-08-06', tokenType: 'input', pricingTier: 'standard', contextWindow: null, ...overrides });

describe('list prices from @pydantic/genai-prices', () => {
  const prices = priceList();
  const price = (overrides: Partial<PriceKey>) => prices.lookup(key(overrides), 'Tokens');

  test('a day is priced at the price in effect that day', () => {
    assert.match(PRICE_SOURCE, /^@pydantic\/genai-prices@\d+\.\d+\.\d+$/);
    // gpt-5.6-luna was repriced from 2026-07-30; o3 from 2025-06-10.
    assert.deepEqual([price({ model: 'gpt-5.6-luna', day: '2026-07-29' }).unitPrice, price({ model: 'gpt-5.6-luna', day: '2026-07-29' }).effectiveFrom], ['1.000000000', undefined]);
    assert.deepEqual([price({ model: 'gpt-5.6-luna', day: '2026-07-30' }).unitPrice, price({ model: 'gpt-5.6-luna', day: '2026-07-30' }).effectiveFrom], ['0.200000000', '2026-07-30']);
    assert.equal(price({ model: 'o3-2025-04-16', day: '2025-06-09', tokenType: 'output' }).unitPrice, '40.000000000');
    assert.equal(price({ model: 'o3-2025-04-16', day: '2025-06-10', tokenType: 'output' }).unitPrice, '8.000000000');
  });

  test('token types: cached and cache writes, their fallbacks, and units other than tokens', () => {
    assert.deepEqual(price({ tokenType: 'cached_input' }), { status: 'priced', pricingUnit: '1000000 Tokens', factor: '0.000001', priceModelId: 'gpt-4o', unitPrice: '1.250000000' });
    // Before GPT-5.6 OpenAI bills cache writes at the input price: the data has no cache-write price for gpt-4o.
    assert.equal(price({ tokenType: 'cache_write' }).unitPrice, '2.500000000');
    assert.equal(price({ tokenType: 'cache_write_1h' }).status, 'no_price_for_token_type');
    assert.equal(price({ provider: 'anthropic', model: 'claude-sonnet-4-20250514', tokenType: 'cache_write_1h' }).unitPrice, '6.000000000');
    assert.deepEqual(prices.lookup(key({ model: 'gpt-4o', tokenType: 'web_search' }), 'Requests'), { status: 'priced', pricingUnit: '1000 Requests', factor: '0.001', priceModelId: 'gpt-4o', unitPrice: '10.000000000' });
    assert.deepEqual(prices.lookup(key({ model: 'whisper-1', tokenType: 'audio_seconds' }), 'Seconds').unitPrice, '0.360000000');
    assert.equal(prices.lookup(key({ model: 'gpt-image-1', tokenType: 'images' }), 'Images').status, 'no_price_for_token_type');
    assert.equal(prices.lookup(key({ model: null, tokenType: 'vector_storage' }), 'GiB-Hours').status, 'no_price_for_token_type');
  });

  test('service tiers and long-context tiers', () => {
    assert.equal(price({ model: 'gpt-4o-mini-2024-07-18', pricingTier: 'batch' }).unitPrice, '0.075000000');
    assert.equal(price({ model: 'gpt-4o-mini-2024-07-18', pricingTier: 'flex' }).unitPrice, '0.075000000');
    assert.equal(price({ pricingTier: 'priority' }).status, 'no_price_for_tier');
    assert.equal(price({ provider: 'anthropic', model: 'claude-haiku-4-5-20251001', pricingTier: 'batch' }).unitPrice, '0.500000000');
    assert.equal(price({ provider: 'anthropic', model: 'claude-opus-4-6', day: '2026-03-01', contextWindow: '0-200k' }).unitPrice, '5.000000000');
    assert.equal(price({ provider: 'anthropic', model: 'claude-opus-4-6', day: '2026-03-01', contextWindow: '200k-1M' }).unitPrice, '10.000000000');
    // From 2026-03-13 Opus 4.6 has one price for every context length.
    assert.equal(price({ provider: 'anthropic', model: 'claude-opus-4-6', day: '2026-03-13', contextWindow: '200k-1M' }).unitPrice, '5.000000000');
  });

  test('an unknown model is unpriced, not zero', () => {
    assert.deepEqual(price({ model: 'gpt-9-preview' }), { status: 'unknown_model', pricingUnit: '1000000 Tokens', factor: '0.000001' });
    assert.equal(price({ provider: 'gemini', model: 'gemini-2.5-flash', tokenType: 'output' }).unitPrice, '2.500000000');
  });
});

describe('per-org overrides', () => {
  const file = async (text: string) => {
    const path = join(await mkdtemp(join(tmpdir(), 'overrides-')), 'overrides.csv');
    await writeFile(path, text);
    return path;
  };
  const HEADER = 'org_slug,provider,model,token_type,pricing_tier,effective_from,effective_to,discount_percent,unit_price,note\n';

  test('the most specific override of the org applies, within its dates', async () => {
    const path = await file(
      `${HEADER}# comment lines are ignored\nacme,openai,*,*,*,,,5,,everything\nacme,openai,gpt-4o*,*,*,2026-01-01,2026-06-30,15,,gpt-4o family\nacme,openai,gpt-4o-2024-08-06,output,*,,,,8,private output price\nacme,openai,gpt-4o*,*,batch,,,50,,batch deal\nbeta,openai,*,*,*,,,90,,another org\n`,
    );
    const overrides = await loadPriceOverrides(path, 'acme');
    assert.equal(overrides.length, 4, 'another org’s lines are not read');
    const find = (model: string, tokenType: string, pricingTier: string, day: string) => findOverride(overrides, { provider: 'openai', model, tokenType, pricingTier, day })?.note;
    assert.equal(find('gpt-4o-2024-08-06', 'input', 'standard', '2026-02-01'), 'gpt-4o family');
    assert.equal(find('gpt-4o-2024-08-06', 'input', 'standard', '2026-07-01'), 'everything', 'past effective_to');
    assert.equal(find('gpt-4o-2024-08-06', 'output', 'standard', '2026-02-01'), 'private output price', 'exact model beats a prefix');
    assert.equal(find('gpt-4o-mini-2024-07-18', 'input', 'batch', '2026-02-01'), 'batch deal', 'a tier beats any tier');
    assert.equal(find('o3', 'input', 'standard', '2026-02-01'), 'everything');
    assert.equal(findOverride(overrides, { provider: 'anthropic', model: 'claude-x', tokenType: 'input', pricingTier: 'standard', day: '2026-02-01' }), undefined);
    const family = overrides.find((o) => o.note === 'gpt-4o family')!;
    assert.equal(contractedPrice(family, '2.500000000'), '2.125000000');
    assert.equal(contractedPrice(family, undefined), undefined, 'a discount needs a list price');
    assert.equal(contractedPrice(overrides.find((o) => o.unitPrice !== undefined)!, undefined), '8.000000000');
  });

  test('a malformed line fails naming the file and line; no file means no overrides', async () => {
    await assert.rejects(loadPriceOverrides(await file(`${HEADER}acme,openai,*,*,*,,,10,2,both\n`), 'acme'), /overrides\.csv:2: give exactly one of discount_percent and unit_price/);
    await assert.rejects(loadPriceOverrides(await file(`${HEADER}acme,openai,*,tokens,*,,,10,,\n`), 'acme'), /:2: token_type "tokens" is not one of/);
    await assert.rejects(loadPriceOverrides(await file(`${HEADER}acme,openai,*,*,*,2026-1-1,,10,,\n`), 'acme'), /effective_from must be YYYY-MM-DD/);
    assert.deepEqual(await loadPriceOverrides('/nonexistent/overrides.csv', 'acme'), []);
  });

  test('the repo’s overrides table is well-formed', async () => {
    assert.deepEqual(await loadPriceOverrides(join(REPO, 'configs', 'pricing', 'genai_price_overrides.csv'), 'acme'), []);
  });
});

describe('base URLs, as the official SDKs choose them', () => {
  test('the step, then the credential, then OPENAI_BASE_URL / ANTHROPIC_BASE_URL, then the public URL', () => {
    const fallback = 'https://api.openai.com/v1';
    assert.equal(resolveBaseUrl({ fallback }).href, 'https://api.openai.com/v1/');
    assert.equal(resolveBaseUrl({ environment: 'http://127.0.0.1:9/v1', fallback }).href, 'http://127.0.0.1:9/v1/');
    assert.equal(resolveBaseUrl({ credential: 'http://proxy.local/v1', environment: 'http://127.0.0.1:9/v1', fallback }).href, 'http://proxy.local/v1/');
    assert.equal(resolveBaseUrl({ step: 'http://step.local', credential: 'http://proxy.local/v1', fallback }).href, 'http://step.local/');
    assert.throws(() => resolveBaseUrl({ credential: 'ftp://x', fallback }), /must be http or https/);
    const context = { providerBaseUrls: { openai: 'http://127.0.0.1:9/v1' } } as unknown as ProcessorContext;
    assert.equal(environmentBaseUrl(context, 'openai'), 'http://127.0.0.1:9/v1');
    assert.equal(environmentBaseUrl(context, 'anthropic'), undefined);
  });
});

describe('docs/genai-costs.md examples', () => {
  const docs = readFileSync(join(REPO, 'docs', 'genai-costs.md'), 'utf8');
  const block = (language: string) => {
    const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(docs);
    assert.ok(match, `a ${language} block in the docs`);
    return match[1] as string;
  };

  test('the generic.api_extractor step is a valid config of the processor', () => {
    const [step] = parse(block('yaml')) as { ps_type: string; config: unknown }[];
    const processor = builtinProcessors().get(step!.ps_type);
    assert.ok(processor, step!.ps_type);
    const validate = new Ajv({ allErrors: true, strict: false }).compile(processor.configSchema);
    assert.ok(validate(step!.config), JSON.stringify(validate.errors));
  });

  test('the overrides example parses, and its lines apply as described', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'overrides-')), 'overrides.csv');
    await writeFile(path, block('csv'));
    const overrides = await loadPriceOverrides(path, 'acme');
    assert.equal(overrides.length, 3);
    const gpt4o = findOverride(overrides, { provider: 'openai', model: 'gpt-4o-2024-08-06', tokenType: 'output', pricingTier: 'standard', day: '2026-02-01' });
    assert.equal(contractedPrice(gpt4o!, '10.000000000'), '8.500000000');
    const session = findOverride(overrides, { provider: 'openai', model: null, tokenType: 'code_interpreter_session', pricingTier: 'standard', day: '2026-02-01' });
    assert.equal(contractedPrice(session!, undefined), '0.030000000');
  });
});
