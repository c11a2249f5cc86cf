import type { Field, TableSchema } from '../table-schema.ts';

/** The column that makes a table a FOCUS table: its rows are partitioned by charge day. */
const CHARGE_PERIOD_START = 'ChargePeriodStart';

/**
 * A table's partition column: the charge day (ChargePeriodStart's UTC date) for FOCUS tables,
 * so cost queries over a period read only its days; the run date (x_pipeline_run_date)
 * otherwise, which every write replaces. Both are DAY partitions of a DATE or TIMESTAMP column.
 */
export function partitionField(fields: readonly Field[]): string {
  return fields.some((field) => field.name === CHARGE_PERIOD_START && (field.type === 'TIMESTAMP' || field.type === 'DATE')) ? CHARGE_PERIOD_START : 'x_pipeline_run_date';
}

/** Clustering: org first (as every key of this service), then pipeline, the DELETE's other leading columns. */
export const CLUSTERING_FIELDS = ['x_org_slug', 'x_pipeline_id'];

export interface RestField {
  name: string;
  type: string;
  mode: 'REQUIRED' | 'NULLABLE';
  description?: string;
}

export function restFields(fields: readonly Field[]): RestField[] {
  // BigQuery limits a column description to 1024 characters.
  return fields.map((field) => ({ name: field.name, type: field.type, mode: field.mode, ...(field.description ? { description: field.description.slice(0, 1024) } : {}) }));
}

/** The tables.insert body of a table from its schema file. */
export function tableResource(projectId: string, dataset: string, table: string, schema: TableSchema): Record<string, unknown> {
  return {
    tableReference: { projectId, datasetId: dataset, tableId: table },
    ...(schema.description ? { description: schema.description.slice(0, 16384) } : {}),
    schema: { fields: restFields(schema.fields) },
    timePartitioning: { type: 'DAY', field: partitionField(schema.fields) },
    clustering: { fields: CLUSTERING_FIELDS },
    labels: { app: 'finops_pipeline' },
  };
}
