import { Type } from '@sinclair/typebox';
import { verifyConversion } from '../../focus/verify-conversion.ts';
import { BIGQUERY_FOCUS_SQL, DUCKDB_FOCUS_SQL } from '../../focus/sql-dialect.ts';
import { resolveSqlTemplates, sqlIdentifiers, sqlInDialect, sqlText } from '../../pipelines/templates.ts';
import { ProcessorError } from '../../shared/errors.ts';
import { splitStatements } from '../../warehouse/split-statements.ts';
import type { SqlParams } from '../../warehouse/warehouse.ts';
import { defineProcessor } from '../types.ts';

const Identifier = Type.String({ pattern: '^[a-z][a-z0-9_]*$' });

/**
 * Runs a named procedure: the version registered in the warehouse (the procedures API, a sync),
 * else the file `configs/system/procedures/{domain}/{name}.{dialect}.sql` (docs/procedures.md).
 * DuckDB has no stored procedures, so a procedure is a parameterised SQL script per dialect:
 * `{org_dataset}`-style templates for the service's identifiers only (resolveSqlTemplates
 * refuses any other name), `$name` parameters for values, run parameters included.
 *
 * With `target_table`, the script's last statement is a SELECT of the output rows, written
 * with lineage and partition replace, and the statements before it run in the same
 * transaction. Without it the script runs as is, in one transaction.
 */
export const procedureExecutor = defineProcessor({
  type: 'generic.procedure_executor',
  description: 'Runs a parameterised SQL procedure from configs/system/procedures in the org dataset.',
  configSchema: Type.Object(
    {
      procedure: Type.String({ pattern: '^[a-z0-9_]+/[a-z0-9_]+$', description: '{domain}/{procedure_name}' }),
      parameters: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]))),
      target_table: Type.Optional(Identifier),
      schema: Type.Optional(Type.String({ pattern: '^[a-z0-9_]+(/[a-z0-9_]+)*$' })),
      run_date_column: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
      focus: Type.Optional(
        Type.Object(
          {
            provider: Type.String({ pattern: '^[a-z][a-z0-9_]*$', description: 'provider profile of the FOCUS rules' }),
            reconcile: Type.Optional(
              Type.Object(
                {
                  source: sqlText({ description: 'SELECT of the source rows (or subtotals): billed_cost, effective_cost, and billing_period_start when per_billing_period' }),
                  per_billing_period: Type.Optional(Type.Boolean({ description: 'reconcile BilledCost per BillingPeriodStart too' })),
                },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false, description: 'the rows are FOCUS: check conformance (and reconcile) before they commit' },
        ),
      ),
    },
    { additionalProperties: false, dependentRequired: { target_table: ['schema'], focus: ['target_table'] } },
  ),
  async run(config, context) {
    const { warehouse } = context;
    const procedure = await context.procedures.read(config.procedure, warehouse.dialect);
    const ran = { procedure_origin: procedure.origin, procedure_hash: procedure.content_hash };
    const statements = splitStatements(resolveSqlTemplates(procedure.sql, sqlIdentifiers(context.variables), config.procedure));
    const params: SqlParams = { ...context.variables, ...config.parameters };
    const bound = statements.map((sql) => ({ sql, params }));

    if (!config.target_table || !config.schema) {
      await warehouse.runScript(bound, context.signal);
      context.logger.info({ procedure: config.procedure, statements: statements.length, ...ran }, 'procedure executed');
      return { rowsWritten: 0, tables: [], details: ran };
    }
    const { focus } = config;
    const checks = focus && {
      provider: focus.provider,
      ...(focus.reconcile ? { reconcile: { ...focus.reconcile, source: sqlInDialect(focus.reconcile.source, warehouse.dialect, 'focus.reconcile.source') } } : {}),
    };
    const select = bound.pop();
    if (!select) throw new ProcessorError(`procedure ${config.procedure} is empty`, { retryable: false });
    const { rows } = await warehouse.replacePartition(
      {
        dataset: context.dataset,
        table: config.target_table,
        schema: config.schema,
        lineage: context.lineage,
        runDates: { start: context.startDate, end: context.endDate },
        setup: bound,
        select,
        ...(config.run_date_column ? { runDateColumn: config.run_date_column } : {}),
        ...(checks ? { verify: verifyConversion(checks, params, context.recordQuality, warehouse.dialect === 'bigquery' ? BIGQUERY_FOCUS_SQL : DUCKDB_FOCUS_SQL) } : {}),
      },
      context.signal,
    );
    context.logger.info({ procedure: config.procedure, table: config.target_table, rows, focus_checked: Boolean(config.focus), ...ran }, 'procedure wrote partition');
    return { rowsWritten: rows, tables: [`${context.dataset}.${config.target_table}`], details: ran };
  },
});
