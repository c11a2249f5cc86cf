import { ProcessorError } from '../../shared/errors.ts';
import { listOrgFiles } from '../../sources/org-files.ts';
import { fetchBigQueryTable, fetchObjects, type RemoteReadContext } from '../../sources/remote-source.ts';
import { parseSourceUri } from '../../sources/source-uri.ts';
import type { Warehouse } from '../../warehouse/warehouse.ts';

/**
 * Where a billing export is read from. `source_uri` is one of:
 *
 * | form                                   | read as                                                   |
 * |----------------------------------------|-----------------------------------------------------------|
 * | `cur/2026-05/cur.csv.gz`               | a file of the org's source folder                         |
 * | `cur/2026-05/*.parquet`, `**`          | a glob there, files sorted                                |
 * | `cur/2026-05/`                         | every export file below that folder                       |
 * | `s3://bucket/cur2/data/**` + `/*.csv.gz`, `gs://bucket/export/` | objects (a name, a prefix, a glob), downloaded with the org's aws / gcp credential to the run's scratch folder |
 * | `bq://project.dataset.table`           | the run's days of the table: in place by a BigQuery warehouse, else paged into the scratch folder as JSON lines |
 *
 * Paths are relative to the org's source folder, `{PIPELINE_SOURCE_ROOT}/{org}/`, and confined
 * to it (src/sources/): the run request was checked at admission, and the files are checked
 * again here, right before they are read, with every match resolved to its real path. What is
 * shown (messages, quality results, x_source_file) is relative to that folder, or the object's
 * URI. Remote sources are read by DuckDB from the scratch copies exactly as local files are.
 *
 * Anything that cannot be read here fails the step naming what is missing; non-retryable unless
 * the provider answered that it may succeed later (429, 5xx, a network failure).
 */
export type FileFormat = 'csv' | 'jsonl' | 'parquet';
export const FILE_FORMATS: readonly FileFormat[] = ['csv', 'jsonl', 'parquet'];

export interface ExportFiles {
  /** As given: the path inside the org's folder, or the remote URI. */
  uri: string;
  kind: 'local' | 'gs' | 's3' | 'bq';
  /** What DuckDB reads: real paths (remote sources: their copies in the run's scratch folder). */
  files: string[];
  /** The same files as shown, one for one: relative to the org's folder, or the object's URI. */
  shown: string[];
  /** The org folder's real path (local files): stripped from what DuckDB reports. */
  folder?: string;
  /** `bigquery_table`: a BigQuery warehouse reads `table` in place (no files). */
  format: FileFormat | 'bigquery_table';
  table?: { project: string; dataset: string; table: string };
  /** Zero-byte files left out (BigQuery EXPORT DATA writes empty shards), as shown. */
  skipped: string[];
}

/** Where the source is confined, and how to name it when it is refused (never echoing an operator's setting). */
export interface SourceScope {
  folder: string;
  label: string;
  /** What reading a gs://, s3:// or bq:// source needs; `folderName` is this source's folder in the run's scratch. */
  remote: RemoteReadContext & { folderName: string };
}

const EXTENSIONS: [RegExp, FileFormat][] = [
  [/\.(csv|tsv|txt)(\.(gz|gzip|zst))?$/i, 'csv'],
  [/\.(json|jsonl|ndjson)(\.(gz|gzip|zst))?$/i, 'jsonl'],
  [/\.(parquet|pq)$/i, 'parquet'],
];

export function formatOfFile(path: string): FileFormat | undefined {
  return EXTENSIONS.find(([pattern]) => pattern.test(path))?.[1];
}

const permanent = (message: string) => new ProcessorError(message, { retryable: false });

export async function resolveExportFiles(uri: string, declared: FileFormat | 'auto', warehouse: Warehouse, scope: SourceScope): Promise<ExportFiles> {
  const source = parseSourceUri(uri);
  if (source.kind === 'refused') throw permanent(`${scope.label} ${source.reason}`);
  if (source.kind === 'org') return localFiles(source.path, declared, scope);
  if (source.kind === 'bigquery_table') {
    const table = { project: source.project, dataset: source.dataset, table: source.table };
    if (warehouse.dialect === 'bigquery') return { uri, kind: 'bq', files: [], shown: [uri], skipped: [], format: 'bigquery_table', table };
    const read = await fetchBigQueryTable(source, scope.remote, { folderName: scope.remote.folderName });
    return { uri, kind: 'bq', files: [read.file], shown: [uri], skipped: [], format: 'jsonl', table };
  }
  // As with the org's folders: a prefix reads the export files below it (by their names, unless
  // the run declares the format); a glob and one named object are read whatever their names.
  const glob = /[*?]/.test(source.pattern);
  const keep = (name: string) => glob || declared !== 'auto' || formatOfFile(name) !== undefined;
  const objects = await fetchObjects(source, scope.remote, { folderName: scope.remote.folderName, keep });
  return { uri, kind: source.scheme, files: objects.files, shown: objects.shown, skipped: objects.skipped, format: detectFormat(objects.shown, declared) };
}

async function localFiles(path: string, declared: FileFormat | 'auto', scope: SourceScope): Promise<ExportFiles> {
  const listed = await listOrgFiles(path, scope.folder);
  if (listed.kind !== 'files') throw permanent(listed.reason);
  const candidates = listed.files.filter((file) => !listed.directory || declared !== 'auto' || formatOfFile(file.shown));
  if (candidates.length === 0) throw permanent(`no export file matches ${path}`);
  const files = candidates.filter((file) => file.size > 0);
  if (files.length === 0) throw permanent(`every file matching ${path} is empty`);
  const shown = files.map((file) => file.shown);
  return {
    uri: path,
    kind: 'local',
    files: files.map((file) => file.real),
    shown,
    folder: listed.folder,
    skipped: candidates.filter((file) => file.size === 0).map((file) => file.shown),
    format: detectFormat(shown, declared),
  };
}

function detectFormat(files: string[], declared: FileFormat | 'auto'): FileFormat {
  if (declared !== 'auto') return declared;
  const formats = new Set(files.map((file) => formatOfFile(file)));
  if (formats.has(undefined)) {
    const file = files.find((f) => !formatOfFile(f));
    throw permanent(`cannot tell the format of ${file} from its name; give the run parameter format (${FILE_FORMATS.join(', ')})`);
  }
  if (formats.size > 1) throw permanent(`the export mixes ${[...formats].join(' and ')} files; give one format per source`);
  return [...formats][0] as FileFormat;
}
