import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { BigQuery } from '@google-cloud/bigquery';
import { ProcessorError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type { SourceAuthClient } from './google-auth-client.ts';
import type { ScratchFolder } from './scratch.ts';

/** Rows per results page asked for; BigQuery also caps a page at about 10 MB. */
const PAGE_ROWS = 10_000;

/** The column each known export shape is filtered on by the run's dates: GCP's standard and detailed exports, and its FOCUS view. */
const DATE_COLUMNS = ['usage_start_time', 'ChargePeriodStart'];

export interface BigQueryTable {
  project: string;
  dataset: string;
  table: string;
  uri: string;
}

/**
 * Embedded mode's reading of a customer's BigQuery billing export (`bq://project.dataset.table`):
 * one query job in the service account's project selecting the run's days, each row turned into
 * JSON by BigQuery itself (TO_JSON_STRING: nested records and repeated fields exactly as a JSON
 * export of the table writes them), its result pages streamed into one JSON-lines file in the
 * run's scratch folder, which DuckDB then reads like any `.jsonl` export. Every page is written
 * as it arrives, so memory holds one page whatever the table's size.
 *
 * Why a paged query: the Storage Read API client is not part of this service, and an export job
 * to GCS needs a bucket of the customer's to stage in; a query needs only the key. A BigQuery
 * warehouse reads the table in place instead (SourceUri `bigquery_table`).
 */
export async function readBigQueryTable(
  source: BigQueryTable,
  options: {
    auth: SourceAuthClient;
    /** The project jobs run (and are billed) in: the service account's. */
    jobProject: string;
    apiEndpoint?: string | undefined;
    dates: { start: string; end: string };
    labels: Record<string, string>;
    folder: ScratchFolder;
    signal: AbortSignal;
    logger: Logger;
    label: string;
  },
): Promise<{ file: string; rows: number; bytes: number }> {
  const { signal } = options;
  const client = new BigQuery({ projectId: options.jobProject, authClient: options.auth as never, ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}) });
  const failed = (error: unknown, what: string) => {
    signal.throwIfAborted();
    return bigQueryFailure(error, `${options.label}: ${what} ${source.uri}`);
  };
  const [metadata] = (await client
    .dataset(source.dataset, { projectId: source.project })
    .table(source.table)
    .getMetadata()
    .catch((error: unknown) => {
      throw failed(error, 'reading the schema of');
    })) as unknown as [{ schema?: { fields?: { name: string }[] } }];
  const names = new Set((metadata.schema?.fields ?? []).map((field) => field.name));
  const dateColumn = DATE_COLUMNS.find((name) => names.has(name));
  if (!dateColumn) options.logger.warn({ source: source.uri }, 'the table has no usage_start_time or ChargePeriodStart column: every row is read');

  // Identifiers cannot be parameters: the three parts were held to BigQuery's own character sets
  // by parseSourceUri, and are quoted. The dates are parameters.
  const table = `\`${source.project}.${source.dataset}.${source.table}\``;
  const where = dateColumn ? ` WHERE t.\`${dateColumn}\` >= TIMESTAMP(@start_date) AND t.\`${dateColumn}\` < TIMESTAMP_ADD(TIMESTAMP(@end_date), INTERVAL 1 DAY)` : '';
  const [job] = await client
    .createQueryJob({ query: `SELECT TO_JSON_STRING(t) AS row FROM ${table} AS t${where}`, params: dateColumn ? { start_date: options.dates.start, end_date: options.dates.end } : {}, labels: options.labels })
    .catch((error: unknown) => {
      throw failed(error, 'querying');
    });
  const cancel = () => void job.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });

  const file = join(options.folder.path, '000001.jsonl');
  const out = createWriteStream(file);
  let rows = 0;
  let bytes = 0;
  try {
    // No timeoutMs: the library turns a `jobComplete: false` answer into an error when one is given; it polls again without.
    let query: Record<string, unknown> | null = { autoPaginate: false, maxResults: PAGE_ROWS };
    while (query) {
      signal.throwIfAborted();
      const [page, next] = (await job.getQueryResults(query).catch((error: unknown) => {
        throw failed(error, 'reading the results of');
      })) as unknown as [{ row: string }[], Record<string, unknown> | null];
      if (page.length > 0) {
        const text = `${page.map((row) => row.row).join('\n')}\n`;
        const size = Buffer.byteLength(text);
        options.folder.add(size, `${source.uri} (page after ${rows} rows)`);
        if (!out.write(text)) await once(out, 'drain', { signal });
        rows += page.length;
        bytes += size;
      }
      query = next;
    }
    out.end();
    await finished(out);
  } catch (error) {
    out.destroy();
    throw error;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
  if (rows === 0) throw new ProcessorError(`${source.uri} has no rows${dateColumn ? ` with ${dateColumn} from ${options.dates.start} to ${options.dates.end}` : ''}`, { retryable: false });
  options.logger.info({ source: source.uri, rows, bytes }, 'BigQuery table read to scratch');
  return { file, rows, bytes };
}

/** BigQuery's reason (notFound, accessDenied, invalidQuery, rateLimitExceeded, backendError) naming the table, never the key. */
function bigQueryFailure(error: unknown, what: string): ProcessorError {
  if (error instanceof ProcessorError) return error;
  const e = error as { code?: unknown; errors?: { reason?: string; message?: string }[]; message?: string };
  const status = typeof e?.code === 'number' ? e.code : 0;
  const reason = e?.errors?.[0]?.reason ?? '';
  const message = (e?.errors?.[0]?.message ?? e?.message ?? String(error)).slice(0, 300);
  const explain: Record<string, string> = {
    notFound: 'no such table (or the service account cannot see it)',
    accessDenied: "access denied to the org's gcp service account",
    invalidQuery: 'the query was refused',
    rateLimitExceeded: 'rate limited',
    backendError: 'BigQuery failed',
  };
  const retryable = status === 0 || status === 429 || status >= 500 || reason === 'rateLimitExceeded' || reason === 'backendError';
  return new ProcessorError(`${what}: ${explain[reason] ?? 'failed'} (${[reason, status ? `HTTP ${status}` : ''].filter(Boolean).join(', ')}: ${message})`, { retryable, cause: error });
}
