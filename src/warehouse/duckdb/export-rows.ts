import type { DuckDBConnection } from '@duckdb/node-api';
import type { ExportRequest } from '../warehouse.ts';

/**
 * Writes the selected rows to a CSV or Parquet file with DuckDB's COPY. In CSV, date-times are
 * in the FOCUS format (`YYYY-MM-DDTHH:mm:ssZ`, UTC) and nulls are empty fields.
 *
 * COPY takes no bound parameters, so every value put in its text is checked first: dates are
 * ISO days, the run id a UUID, the org a slug, names identifiers, the path quoted.
 */
export async function exportRows(connection: DuckDBConnection, request: ExportRequest): Promise<number> {
  const table = `${request.dataset}.${request.table}`;
  const described = (await connection.runAndReadAll(`DESCRIBE ${table}`)).getRowObjectsJson() as { column_name: string; column_type: string }[];
  const names = new Set(described.map((column) => column.column_name));
  const columns = described.map(({ column_name: name, column_type: type }) =>
    request.format === 'csv' && type.startsWith('TIMESTAMP') ? `strftime(timezone('UTC', "${name}"), '%Y-%m-%dT%H:%M:%SZ') AS "${name}"` : `"${name}"`,
  );
  const where = [`x_org_slug = ${literal(request.orgSlug, /^[a-z][a-z0-9_]*$/)}`];
  // The FOCUS tables are filtered on the charge period, the others on their data date.
  const period = names.has('ChargePeriodStart') ? 'CAST("ChargePeriodStart" AS DATE)' : 'x_pipeline_run_date';
  if (request.from) where.push(`${period} >= DATE ${literal(request.from, /^\d{4}-\d{2}-\d{2}$/)}`);
  if (request.to) where.push(`${period} <= DATE ${literal(request.to, /^\d{4}-\d{2}-\d{2}$/)}`);
  if (request.runId) where.push(`x_run_id = ${literal(request.runId, /^[0-9a-f-]{36}$/)}`);
  const order = names.has('ChargePeriodStart') ? '"ChargePeriodStart", x_run_id' : 'x_pipeline_run_date, x_run_id';
  const options = request.format === 'csv' ? "FORMAT csv, HEADER true, NULLSTR ''" : 'FORMAT parquet, COMPRESSION zstd';
  const result = await connection.run(`COPY (SELECT ${columns.join(', ')} FROM ${table} WHERE ${where.join(' AND ')} ORDER BY ${order}) TO '${request.path.replace(/'/g, "''")}' (${options})`);
  return Number(result.rowsChanged);
}

function literal(value: string, shape: RegExp): string {
  if (!shape.test(value)) throw new Error(`export filter value ${JSON.stringify(value)} is malformed`);
  return `'${value}'`;
}
