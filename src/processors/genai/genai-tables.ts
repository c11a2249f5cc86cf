import type { Warehouse } from '../../warehouse/warehouse.ts';

/** Every provider's raw table, each from its schema file under configs/schemas/genai. */
export const GENAI_RAW_TABLES = [
  'genai_openai_usage_raw',
  'genai_openai_costs_raw',
  'genai_anthropic_usage_raw',
  'genai_anthropic_costs_raw',
  'genai_gemini_usage_raw',
  'genai_deepseek_balance_raw',
] as const;

/**
 * The consolidation and pricing procedures read the raw tables of every provider in one
 * statement (a pipeline's filter keeps its own rows), and SQL cannot name a table that does not
 * exist; so each GenAI step makes sure all of them exist, empty if never written.
 */
export async function ensureGenaiTables(warehouse: Warehouse, dataset: string): Promise<void> {
  for (const table of GENAI_RAW_TABLES) await warehouse.ensureTable(dataset, table, `genai/${table}`);
}
