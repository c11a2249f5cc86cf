import { ProcessorError } from '../../shared/errors.ts';
import type { Field } from '../table-schema.ts';
import type { PartitionWrite, SqlParams } from '../warehouse.ts';
import type { RestField } from './table-resource.ts';

/** `dataset.table` quoted for BigQuery; both parts passed assertIdentifier before. */
export function qualified(dataset: string, table: string): string {
  return `\`${dataset}.${table}\``;
}

/** The write's key and lineage as query parameters (x_ prefixed, beside the caller's own). */
export function keyParams(write: Pick<PartitionWrite, 'lineage' | 'runDates'>): SqlParams {
  return {
    x_org_slug: write.lineage.orgSlug,
    x_pipeline_id: write.lineage.pipelineId,
    x_credential_id: write.lineage.credentialId,
    x_range_start: write.runDates.start,
    x_range_end: write.runDates.end,
    x_run_id: write.lineage.runId,
    x_ingested_at: write.lineage.ingestedAt.toISOString(),
  };
}

/**
 * The select's rows with the lineage columns, as BigQuery SQL. A row dated outside the replaced
 * range would survive the next re-run's DELETE and be duplicated, so it fails the statement
 * (BigQuery's ERROR()), as the DuckDB form does with error().
 */
export function withLineage(select: string, runDateColumn: string | undefined): string {
  const runDate = runDateColumn ? `CAST(converted.\`${runDateColumn}\` AS DATE)` : 'CAST(@x_range_start AS DATE)';
  return `SELECT converted.*,
       @x_org_slug AS x_org_slug, @x_pipeline_id AS x_pipeline_id, @x_credential_id AS x_credential_id,
       CASE WHEN ${runDate} BETWEEN CAST(@x_range_start AS DATE) AND CAST(@x_range_end AS DATE) THEN ${runDate}
            ELSE ERROR(CONCAT('row x_pipeline_run_date ', COALESCE(CAST(${runDate} AS STRING), 'NULL'), ' is outside the run range ', @x_range_start, '..', @x_range_end)) END AS x_pipeline_run_date,
       @x_run_id AS x_run_id, CAST(@x_ingested_at AS TIMESTAMP) AS x_ingested_at, CAST(CAST(@x_ingested_at AS TIMESTAMP) AS DATE) AS x_ingestion_date
  FROM (${select}) AS converted`;
}

/** A staging table from a select: expires by itself a day later, should the write never end. */
export function createStaging(staging: string, select: string): string {
  return `CREATE OR REPLACE TABLE ${staging} OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 DAY)) AS\n${select}`;
}

/**
 * The INSERT's column list and values from the staging table's columns, bound to the target's by
 * name (as DuckDB's INSERT ... BY NAME): each cast to the target's type, JSON parsed from text. A
 * column the target lacks, or a required one the rows lack, fails here with its name.
 */
export function insertColumns(staging: readonly RestField[], target: readonly Field[], table: string): { columns: string; values: string } {
  const byName = new Map(target.map((field) => [field.name.toLowerCase(), field]));
  const extra = staging.find((field) => !byName.has(field.name.toLowerCase()));
  if (extra) throw new ProcessorError(`the step's rows have a column "${extra.name}" that table ${table} does not have`, { retryable: false });
  const present = new Set(staging.map((field) => field.name.toLowerCase()));
  const missing = target.find((field) => field.mode === 'REQUIRED' && !present.has(field.name.toLowerCase()));
  if (missing) throw new ProcessorError(`the step's rows have no column "${missing.name}", which table ${table} requires`, { retryable: false });
  const pairs = staging.map((column) => {
    const field = byName.get(column.name.toLowerCase()) as Field;
    const source = `\`${column.name}\``;
    const value = sameType(column.type, field.type) ? source : field.type === 'JSON' ? `PARSE_JSON(${source})` : `CAST(${source} AS ${field.type})`;
    return { column: `\`${field.name}\``, value: `${value} AS \`${field.name}\`` };
  });
  return { columns: pairs.map((pair) => pair.column).join(', '), values: pairs.map((pair) => pair.value).join(', ') };
}

/** REST schemas name some types two ways (legacy SQL's and standard SQL's). */
const SYNONYMS: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL', DECIMAL: 'NUMERIC', BIGDECIMAL: 'BIGNUMERIC' };
function sameType(a: string, b: string): boolean {
  return (SYNONYMS[a] ?? a) === (SYNONYMS[b] ?? b);
}

/**
 * The replace itself: one multi-statement transaction that deletes the write's key over its
 * date range and inserts the staged rows. BigQuery rolls a transaction back when any of its
 * statements fails, so the old rows stay unless both statements succeed. With no staged rows
 * the DELETE still empties the range.
 */
export function commitScript(target: string, staging: string, insert: { columns: string; values: string }): string {
  return `BEGIN TRANSACTION;
DELETE FROM ${target}
 WHERE x_org_slug = @x_org_slug AND x_pipeline_id = @x_pipeline_id AND x_credential_id = @x_credential_id
   AND x_pipeline_run_date BETWEEN CAST(@x_range_start AS DATE) AND CAST(@x_range_end AS DATE);
INSERT INTO ${target} (${insert.columns})
SELECT ${insert.values} FROM ${staging};
COMMIT TRANSACTION;`;
}
