import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ProcessorError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { selectObjects } from './object-glob.ts';
import type { ObjectStore, StoredObject } from './object-store.ts';
import { retrying } from './retry.ts';
import type { ScratchFolder } from './scratch.ts';

/** More objects than this in one source is refused: a prefix that broad is a mistake, and the list is held in memory. */
export const MAX_OBJECTS = 50_000;
/** Objects downloaded at once: enough to fill a link, few enough to keep memory flat (each stream buffers ~64 KiB). */
const PARALLEL = 4;

export interface DownloadedObjects {
  /** Local paths, in the objects' name order; what DuckDB reads. */
  files: string[];
  /** The same objects as `scheme://bucket/name`: what messages and x_source_file show. */
  shown: string[];
  /** Zero-byte objects left out, as shown. */
  skipped: string[];
  bytes: number;
}

/**
 * The objects a pattern selects (object-glob.ts), listed page by page, streamed into `folder`:
 * `000001.csv.gz`, `000002.parquet`, ... named by their position and the extension of their
 * name, so no object name (which may hold `..`, `/` or anything else) ever becomes a local path.
 * Stored gzip-encoded objects are decoded on the way and lose a `.gz` of their name; `.gz` files
 * stay compressed (DuckDB reads them so). Bytes count against the run's scratch cap before any
 * is written (the listed sizes) and as they arrive (decoding may add some). The signal cancels
 * the listing and every download; a half-written file is never taken for a whole one, and a
 * download that fails retryable (also mid-body) starts again from its first byte.
 */
export async function downloadObjects(
  store: ObjectStore,
  pattern: string,
  options: { folder: ScratchFolder; keep: (name: string) => boolean; signal: AbortSignal; logger: Logger },
): Promise<DownloadedObjects> {
  const { signal } = options;
  const uri = (name: string) => `${store.scheme}://${store.bucket}/${name}`;
  const selection = selectObjects(pattern);
  const selected: StoredObject[] = [];
  let first = true;
  for await (const page of store.list(selection.prefix, signal)) {
    if (first && selection.exact !== undefined && page[0]?.name === selection.exact) {
      selected.push(page[0]);
      break;
    }
    first = false;
    // Folder placeholders (`dir/`, zero bytes) that consoles create are no objects of the export.
    for (const object of page) if (selection.matches(object.name) && !object.name.endsWith('/') && options.keep(object.name)) selected.push(object);
    if (selected.length > MAX_OBJECTS) throw new ProcessorError(`${uri(pattern)} selects more than ${MAX_OBJECTS} objects; narrow the prefix or glob`, { retryable: false });
  }
  if (selected.length === 0) throw new ProcessorError(`no object matches ${uri(pattern)}`, { retryable: false });
  const objects = selected.filter((object) => object.size > 0);
  if (objects.length === 0) throw new ProcessorError(`every object matching ${uri(pattern)} is empty`, { retryable: false });
  const listed = objects.reduce((sum, object) => sum + object.size, 0);
  options.folder.add(listed, `${uri(pattern)} (${objects.length} objects, ${listed} bytes)`);

  const files = objects.map((object, i) => join(options.folder.path, `${String(i + 1).padStart(6, '0')}${extension(object.name)}`));
  let bytes = 0;
  let next = 0;
  const worker = async () => {
    while (next < objects.length) {
      const i = next++;
      const object = objects[i]!;
      const written = await retrying(() => download(store, object, files[i]!, options), signal);
      if (written.decodedFrom) files[i] = written.path;
      bytes += written.bytes;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, objects.length) }, worker));
  options.logger.info({ source: uri(pattern), objects: objects.length, bytes }, 'remote source downloaded to scratch');
  return { files, shown: objects.map((object) => uri(object.name)), skipped: selected.filter((object) => object.size === 0).map((object) => uri(object.name)), bytes };
}

async function download(store: ObjectStore, object: StoredObject, path: string, options: { folder: ScratchFolder; signal: AbortSignal }): Promise<{ path: string; bytes: number; decodedFrom?: string }> {
  const { signal } = options;
  const opened = await store.open(object, signal);
  // A gzip-encoded `x.csv.gz` is a gzipped x.csv whose bytes the transfer also calls gzip: once
  // decoded it is x.csv, and named so for DuckDB to read it as plain text.
  const target = opened.contentEncoding === 'gzip' ? path.replace(/\.(gz|gzip)$/i, '') : path;
  const what = `${store.scheme}://${store.bucket}/${object.name}`;
  let bytes = 0;
  let extra = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      bytes += chunk.length;
      try {
        // The listed size was counted already; only what decoding adds beyond it counts again.
        if (bytes > object.size) {
          const more = Math.min(chunk.length, bytes - object.size);
          options.folder.add(more, `${what}, decoded,`);
          extra += more;
        }
        callback(null, chunk);
      } catch (error) {
        callback(error as Error);
      }
    },
  });
  const part = `${target}.part`;
  try {
    await pipeline([opened.body, ...(opened.gunzip ? [createGunzip()] : []), counter, createWriteStream(part)], { signal });
  } catch (error) {
    // A retry writes the file again from its first byte: what this attempt added is given back.
    options.folder.add(-extra, what);
    signal.throwIfAborted();
    if (error instanceof ProcessorError) throw error;
    if (String((error as { code?: unknown }).code).startsWith('Z_')) throw new ProcessorError(`${what} says it is gzip-encoded but does not decode (${(error as Error).message})`, { retryable: false, cause: error });
    throw store.readFailure(error, object.name);
  }
  await rename(part, target);
  return { path: target, bytes, ...(target !== path ? { decodedFrom: path } : {}) };
}

/** The extension of an object's name (`.csv.gz`, `.parquet`), lowercased; letters and digits only. */
function extension(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return /(\.[A-Za-z0-9]{1,12}){1,2}$/.exec(base)?.[0]?.toLowerCase() ?? '';
}
