import { Type } from '@sinclair/typebox';
import { sqlInDialect, sqlText } from '../../pipelines/templates.ts';
import { defineProcessor } from '../types.ts';

const Identifier = Type.String({ pattern: '^[a-z][a-z0-9_]*$' });

/**
 * A SQL transform within the org's dataset into a target table (the seeds'
 * generic.local_bq_transformer). The query names tables as `{org_dataset}.table` and takes
 * values as bound parameters (`$start_date`, `$org_slug`, any run parameter), never spliced in:
 * the query is SQL text (`sqlText`), so a template naming a run parameter fails the run.
 */
export const localBqTransformer = defineProcessor({
  type: 'generic.local_bq_transformer',
  description: 'Runs a SELECT inside the org dataset and replaces the run’s partition of the target table with its rows.',
  configSchema: Type.Object(
    {
      target_table: Identifier,
      schema: Type.String({ pattern: '^[a-z0-9_]+(/[a-z0-9_]+)*$', description: 'table schema file under configs/schemas, without .json' }),
      query: sqlText({ description: 'a SELECT; templates name only the service’s identifiers ({org_dataset}), values are $parameters' }),
      run_date_column: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
    },
    { additionalProperties: false },
  ),
  async run(config, context) {
    const { rows } = await context.warehouse.replacePartition(
      {
        dataset: context.dataset,
        table: config.target_table,
        schema: config.schema,
        lineage: context.lineage,
        runDates: { start: context.startDate, end: context.endDate },
        select: { sql: sqlInDialect(config.query, context.warehouse.dialect, 'query'), params: context.variables },
        ...(config.run_date_column ? { runDateColumn: config.run_date_column } : {}),
      },
      context.signal,
    );
    context.logger.info({ table: config.target_table, rows }, 'partition replaced');
    return { rowsWritten: rows, tables: [`${context.dataset}.${config.target_table}`] };
  },
});
