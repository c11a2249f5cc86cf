import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { resolveSqlTemplates, sqlIdentifiers } from '../../pipelines/templates.ts';
import { defineProcessor, type Processor } from '../types.ts';
import { ensureGenaiTables } from './genai-tables.ts';
import { contractedPrice, findOverride, loadPriceOverrides } from './price-overrides.ts';
import { PRICE_SOURCE, priceList } from './pricing.ts';
import { costQuality } from './cost-quality.ts';

const USAGE_TABLE = 'genai_payg_usage_daily';
const COST_TABLE = 'genai_payg_cost_daily';
const PROCEDURE = 'genai/sp_genai_2_calculate_costs';
const STAGED = [
  'usage_date', 'model', 'token_type', 'pricing_tier', 'context_window', 'pricing_unit', 'pricing_factor', 'list_unit_price',
  'contracted_unit_price', 'price_status', 'list_price_source', 'price_model_id', 'price_source', 'price_effective_from', 'override_note',
];

const ConfigSchema = Type.Object(
  {
    provider: Type.Union([Type.Literal('openai'), Type.Literal('anthropic'), Type.Literal('gemini')]),
    overrides_file: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_./-]+\\.csv$', description: 'per-org price overrides, relative to the configs folder (pricing/genai_price_overrides.csv)' })),
    estimate_tolerance_percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'estimate vs billed difference per model above which the run warns (1 by default)' })),
  },
  { additionalProperties: false },
);

/**
 * The seeds' genai.payg_cost: the day's usage x the day's price. Prices are resolved in
 * TypeScript once per distinct key of the run (day, model, token type, tier, context window:
 * hundreds, not the millions of usage rows), staged, and joined to the usage in SQL
 * (sp_genai_2_calculate_costs). Inside the write's transaction it records the unpriced keys and,
 * per model, the estimate against the provider's billed amount.
 */
export function paygCost(): Processor {
  return defineProcessor({
    type: 'genai.payg_cost',
    description: 'Prices the consolidated GenAI usage of the run’s days at each day’s price (with the org’s overrides) and takes the billed cost from the provider’s report where there is one.',
    configSchema: ConfigSchema,
    async run(config, context) {
      const { warehouse, dataset } = context;
      await ensureGenaiTables(warehouse, dataset);
      await warehouse.ensureTable(dataset, USAGE_TABLE, `genai/${USAGE_TABLE}`);
      const keys = await warehouse.query(
        `SELECT DISTINCT CAST(usage_date AS VARCHAR) AS day, model, token_type, pricing_tier, context_window, consumed_unit
           FROM ${dataset}.${USAGE_TABLE}
          WHERE x_org_slug = $org_slug AND x_pipeline_id = $pipeline_id AND x_credential_id = $credential_id
            AND usage_date BETWEEN CAST($start_date AS DATE) AND CAST($end_date AS DATE)`,
        context.variables,
        context.signal,
      );
      const overridesFile = join(context.configsDir, config.overrides_file ?? 'pricing/genai_price_overrides.csv');
      const overrides = await loadPriceOverrides(overridesFile, context.orgSlug);
      const prices = priceList();
      let overridden = 0;
      const staged = keys.map((row) => {
        const key = {
          provider: config.provider,
          day: String(row.day),
          model: (row.model as string | null) ?? null,
          tokenType: String(row.token_type),
          pricingTier: String(row.pricing_tier),
          contextWindow: (row.context_window as string | null) ?? null,
        };
        const list = prices.lookup(key, String(row.consumed_unit));
        const override = findOverride(overrides, key);
        const contracted = override ? contractedPrice(override, list.unitPrice) : list.unitPrice;
        if (override && contracted !== undefined) overridden++;
        // A negotiated price for something the list lacks is its list price too: FOCUS needs one.
        const listPrice = list.unitPrice ?? (override?.unitPrice !== undefined ? contracted : undefined);
        return {
          usage_date: key.day,
          model: key.model,
          token_type: key.tokenType,
          pricing_tier: key.pricingTier,
          context_window: key.contextWindow,
          pricing_unit: list.pricingUnit,
          pricing_factor: list.factor,
          list_unit_price: listPrice ?? null,
          contracted_unit_price: contracted ?? listPrice ?? null,
          price_status: listPrice === undefined ? list.status : 'priced',
          list_price_source: list.unitPrice !== undefined ? 'price_list' : listPrice !== undefined ? 'override' : null,
          price_model_id: list.priceModelId ?? null,
          price_source: list.unitPrice !== undefined ? PRICE_SOURCE : listPrice !== undefined ? `override line ${override?.line}` : null,
          price_effective_from: list.effectiveFrom ?? override?.effectiveFrom ?? null,
          override_note: override && contracted !== undefined ? override.note || `override line ${override.line}` : null,
        };
      });

      const script = (await context.procedures.read(PROCEDURE, warehouse.dialect)).sql;
      const quality = costQuality({ tolerancePercent: config.estimate_tolerance_percent ?? 1, priceSource: PRICE_SOURCE, overrides: overrides.length, keys: staged.length, overridden });
      const { rows } = await warehouse.replacePartitionFromBatches(
        {
          dataset,
          table: COST_TABLE,
          schema: `genai/${COST_TABLE}`,
          lineage: context.lineage,
          runDates: { start: context.startDate, end: context.endDate },
          columns: STAGED,
          batches: chunks(staged, 5000),
          select: { sql: resolveSqlTemplates(script, sqlIdentifiers(context.variables), PROCEDURE), params: context.variables },
          runDateColumn: 'usage_date',
          verify: async (check) => context.recordQuality(await quality(check)),
        },
        context.signal,
      );
      context.logger.info({ provider: config.provider, rows, price_keys: staged.length, overrides: overrides.length, price_source: PRICE_SOURCE }, 'genai costs calculated');
      return { rowsWritten: rows, tables: [`${dataset}.${COST_TABLE}`], details: { price_keys: staged.length, price_source: PRICE_SOURCE } };
    },
  }) as Processor;
}

async function* chunks<T>(rows: T[], size: number): AsyncGenerator<T[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}
