import { isIsoDate } from '../shared/clock.ts';
import { InputError, NotFoundError } from '../shared/errors.ts';
import { isUuid } from '../shared/ids.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';

export const FOCUS_TABLE = 'cost_data_standard_1_3';

export interface ExportOptions {
  orgSlug: string;
  /** The service's environment short name: the org's dataset is `{org}_{env}`. */
  env: string;
  table?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  runId?: string | undefined;
  format: string;
  path: string;
}

/** `pipeline export` and the export endpoint: an org's FOCUS (or other output) rows to a file. */
export async function exportOrgTable(warehouse: Warehouse, options: ExportOptions): Promise<{ rows: number; format: 'csv' | 'parquet' }> {
  const table = options.table ?? FOCUS_TABLE;
  if (!/^[a-z][a-z0-9_]*$/.test(table)) throw new InputError('table must be a table name such as cost_data_standard_1_3', { field: 'table' });
  if (options.format !== 'csv' && options.format !== 'parquet') throw new InputError('format must be csv or parquet', { field: 'format' });
  for (const field of ['from', 'to'] as const) {
    const value = options[field];
    if (value !== undefined && !isIsoDate(value)) throw new InputError(`${field} must be a date as YYYY-MM-DD`, { field });
  }
  if (options.from && options.to && options.from > options.to) throw new InputError('from is after to', { field: 'from' });
  if (options.runId !== undefined && !isUuid(options.runId)) throw new InputError('run_id must be a run id (UUID)', { field: 'run_id' });
  const dataset = `${options.orgSlug}_${options.env}`;
  if (!(await warehouse.hasTable(dataset, table))) throw new NotFoundError(`Table ${table} has no rows for ${options.orgSlug} yet`);
  const rows = await warehouse.exportRows({ dataset, table, orgSlug: options.orgSlug, from: options.from, to: options.to, runId: options.runId, format: options.format, path: options.path });
  return { rows, format: options.format };
}
