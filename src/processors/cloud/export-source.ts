import { ProcessorError } from '../../shared/errors.ts';
import { listOrgFiles } from '../../sources/org-files.ts';
import { parseSourceUri } from '../../sources/source-uri.ts';
import type { Warehouse } from '../../warehouse/warehouse.ts';

/**
 * Where a billing export is read from. `source_uri` is one of:
 *
 * | form                                   | where it works                       |
 * |----------------------------------------|--------------------------------------|
 * | `cur/2026-05/cur.csv.gz`               | embedded (DuckDB): a file            |
 * | `cur/2026-05/*.parquet`, `**`          | embedded: a glob, files sorted       |
 * | `cur/2026-05/`                         | embedded: every export file below it |
 * | `gs://bucket/prefix/*.parquet`         | DuckDB with the httpfs extension     |
 * | `s3://bucket/prefix/*.parquet`         | DuckDB with the httpfs extension     |
 * | `bq://project.dataset.table`           | the BigQuery warehouse only          |
 *
 * Paths are relative to the org's source folder, `{PIPELINE_SOURCE_ROOT}/{org}/`, and confined
 * to it (src/sources/): the run request was checked at admission, and the files are checked
 * again here, right before they are read, with every match resolved to its real path. What is
 * shown (messages, quality results, x_source_file) is relative to that folder.
 *
 * Anything that cannot be read here fails the step as non-retryable, naming what is missing:
 * retrying does not install an extension or change the warehouse.
 */
export type FileFormat = 'csv' | 'jsonl' | 'parquet';
export const FILE_FORMATS: readonly FileFormat[] = ['csv', 'jsonl', 'parquet'];

export interface ExportFiles {
  /** As given: the path inside the org's folder, or the remote URI. */
  uri: string;
  kind: 'local' | 'gs' | 's3';
  /** What DuckDB reads: real paths, or the remote URI (DuckDB expands remote globs itself). */
  files: string[];
  /** The same files as shown: relative to the org's folder. */
  shown: string[];
  /** The org folder's real path (local files): stripped from what DuckDB reports. */
  folder?: string;
  format: FileFormat;
  /** Zero-byte files left out (BigQuery EXPORT DATA writes empty shards), as shown. */
  skipped: string[];
}

/** Where the source is confined, and how to name it when it is refused (never echoing an operator's setting). */
export interface SourceScope {
  folder: string;
  label: string;
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
  if (source.scheme === 'bq') {
    throw permanent(
      `${uri}: a BigQuery export table is read by the BigQuery warehouse, and this service runs the ${warehouse.dialect} warehouse. ` +
        "Export the table to files (EXPORT DATA ... FORMAT = PARQUET) and give their path in the org's source folder or their gs:// URI as source_uri.",
    );
  }
  return remoteFiles(uri, source.scheme, declared, warehouse);
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

async function remoteFiles(uri: string, kind: 'gs' | 's3', declared: FileFormat | 'auto', warehouse: Warehouse): Promise<ExportFiles> {
  if (warehouse.dialect !== 'duckdb') throw permanent(`${uri}: remote files are read by DuckDB's httpfs extension; the ${warehouse.dialect} warehouse loads them itself`);
  const [httpfs] = await warehouse.query(`SELECT installed, loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'`);
  if (!httpfs?.installed) {
    throw permanent(
      `${uri}: reading ${kind}:// needs DuckDB's httpfs extension, which is not installed in this service (INSTALL httpfs needs network access when the image is built), ` +
        `and ${kind === 's3' ? 'AWS credentials' : 'a GCS HMAC key'} as a DuckDB secret. Copy the export into the org's source folder, or run where httpfs is available.`,
    );
  }
  return { uri, kind, files: [uri], shown: [uri], skipped: [], format: detectFormat([uri], declared) };
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
