import { glob, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { ProcessorError } from '../../shared/errors.ts';
import type { Warehouse } from '../../warehouse/warehouse.ts';

/**
 * Where a billing export is read from. `source_uri` is one of:
 *
 * | form                                   | where it works                       |
 * |----------------------------------------|--------------------------------------|
 * | `/abs/path/file.csv.gz`, `./relative`  | embedded (DuckDB): a file            |
 * | `/exports/2026-05/*.parquet`, `**`     | embedded: a glob, files sorted       |
 * | `/exports/2026-05/`                    | embedded: every export file below it |
 * | `gs://bucket/prefix/*.parquet`         | DuckDB with the httpfs extension     |
 * | `s3://bucket/prefix/*.parquet`         | DuckDB with the httpfs extension     |
 * | `bq://project.dataset.table`           | the BigQuery warehouse only          |
 *
 * Anything that cannot be read here fails the step as non-retryable, naming what is missing:
 * retrying does not install an extension or change the warehouse.
 */
export type FileFormat = 'csv' | 'jsonl' | 'parquet';
export const FILE_FORMATS: readonly FileFormat[] = ['csv', 'jsonl', 'parquet'];

export interface ExportFiles {
  uri: string;
  kind: 'local' | 'gs' | 's3';
  /** Absolute paths, or the remote URI (DuckDB expands remote globs itself). */
  files: string[];
  format: FileFormat;
  /** Zero-byte files left out (BigQuery EXPORT DATA writes empty shards). */
  skipped: string[];
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

export async function resolveExportFiles(uri: string, declared: FileFormat | 'auto', warehouse: Warehouse): Promise<ExportFiles> {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  if (scheme === 'bq' || scheme === 'bigquery') {
    throw permanent(
      `${uri}: a BigQuery export table is read by the BigQuery warehouse, and this service runs the ${warehouse.dialect} warehouse. ` +
        'Export the table to files (EXPORT DATA ... FORMAT = PARQUET) and give their path or gs:// URI as source_uri.',
    );
  }
  if (scheme === 'gs' || scheme === 's3' || scheme === 'gcs' || scheme === 's3a') return remoteFiles(uri, scheme.startsWith('s3') ? 's3' : 'gs', declared, warehouse);
  if (scheme && scheme !== 'file') throw permanent(`${uri}: unsupported source scheme ${scheme}://; use a local path or glob, gs://, s3:// or bq://`);
  return localFiles(scheme === 'file' ? uri.slice('file://'.length) : uri, declared);
}

async function localFiles(path: string, declared: FileFormat | 'auto'): Promise<ExportFiles> {
  const absolute = isAbsolute(path) ? path : resolve(path);
  const isDirectory = await stat(absolute).then((s) => s.isDirectory(), () => false);
  const pattern = isDirectory ? `${absolute.replace(/\/+$/, '')}/**/*` : absolute;
  const matched: string[] = [];
  if (!/[*?[{]/.test(pattern)) {
    if (!(await stat(pattern).then((s) => s.isFile(), () => false))) throw permanent(`source file ${path} does not exist`);
    matched.push(pattern);
  } else {
    for await (const file of glob(pattern)) {
      if (await stat(file).then((s) => s.isFile(), () => false)) matched.push(file);
    }
  }
  const candidates = matched.filter((file) => !isDirectory || declared !== 'auto' || formatOfFile(file)).sort();
  if (candidates.length === 0) throw permanent(`no export file matches ${path}`);
  const sizes = await Promise.all(candidates.map((file) => stat(file).then((s) => s.size)));
  const files = candidates.filter((_, i) => (sizes[i] ?? 0) > 0);
  const skipped = candidates.filter((_, i) => (sizes[i] ?? 0) === 0);
  if (files.length === 0) throw permanent(`every file matching ${path} is empty`);
  return { uri: path, kind: 'local', files, skipped, format: detectFormat(files, declared) };
}

async function remoteFiles(uri: string, kind: 'gs' | 's3', declared: FileFormat | 'auto', warehouse: Warehouse): Promise<ExportFiles> {
  if (warehouse.dialect !== 'duckdb') throw permanent(`${uri}: remote files are read by DuckDB's httpfs extension; the ${warehouse.dialect} warehouse loads them itself`);
  const [httpfs] = await warehouse.query(`SELECT installed, loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'`);
  if (!httpfs?.installed) {
    throw permanent(
      `${uri}: reading ${kind}:// needs DuckDB's httpfs extension, which is not installed in this service (INSTALL httpfs needs network access when the image is built), ` +
        `and ${kind === 's3' ? 'AWS credentials' : 'a GCS HMAC key'} as a DuckDB secret. Copy the export to a local path, or run where httpfs is available.`,
    );
  }
  return { uri, kind, files: [uri], skipped: [], format: detectFormat([uri], declared) };
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
