import { localBqTransformer } from '../generic/local-bq-transformer.ts';
import { defineProcessor, type Processor } from '../types.ts';

const COST_TABLE = 'genai_payg_cost_daily';
const PROVIDER_ROUTES = ['genai/payg/openai', 'genai/payg/anthropic', 'genai/payg/gemini'];

/**
 * genai/unified/consolidate's step: the transformer's SELECT over the provider pipelines' daily
 * cost table, which exists only once a provider pipeline has run. Before that the honest summary
 * is an empty one, not a failed run: the pipeline is scheduled every day, for orgs that may not
 * have connected a provider yet. So the table is created empty when missing, and a summary of
 * nothing says which pipelines fill it (a warning in the run's quality results and log).
 */
export function unifiedSummary(): Processor {
  return defineProcessor({
    type: 'genai.unified_summary',
    description: 'Summarises the GenAI provider pipelines’ daily costs with a SELECT (as generic.local_bq_transformer); empty, with a warning naming the provider pipelines, before any of them ran.',
    configSchema: localBqTransformer.configSchema,
    async run(config, context) {
      await context.warehouse.ensureTable(context.dataset, COST_TABLE, `genai/${COST_TABLE}`);
      const result = await localBqTransformer.run(config, context);
      if (result.rowsWritten === 0) {
        const range = context.startDate === context.endDate ? `--date ${context.startDate}` : `--start-date ${context.startDate} --end-date ${context.endDate}`;
        const commands = PROVIDER_ROUTES.map((route) => `pipeline run ${context.orgSlug}/${route} ${range}`);
        const description = `no GenAI provider pipeline has written costs for ${context.startDate}..${context.endDate} yet, so the summary is empty: run a provider pipeline for these days first (${commands[0]}; likewise ${PROVIDER_ROUTES.slice(1).join(' or ')}), then this pipeline again`;
        context.logger.warn({ start_date: context.startDate, end_date: context.endDate, commands }, 'no GenAI provider costs to summarise');
        context.recordQuality([{ check_kind: 'genai_summary', rule_id: 'GENAI-NO-PROVIDER-DATA', level: 'INFO', status: 'warn', description, failing_rows: 0, details: { commands } }]);
      }
      return result;
    },
  });
}
