import type { Readable } from 'node:stream';

/** One bucket of gs:// or s3://, as the downloader sees it (gcs-objects.ts, s3-objects.ts). */
export interface ObjectStore {
  readonly scheme: 'gs' | 's3';
  readonly bucket: string;
  /** Objects whose names start with `prefix`, in name order, one provider page at a time. */
  list(prefix: string, signal: AbortSignal): AsyncIterable<StoredObject[]>;
  /**
   * The object's bytes. `contentEncoding`: how it is stored (Content-Encoding); `gunzip`: the body
   * yields the stored gzip bytes, for the caller to decode (GCS's library decodes them itself).
   */
  open(object: StoredObject, signal: AbortSignal): Promise<{ body: Readable; contentEncoding: 'gzip' | 'identity'; gunzip: boolean }>;
  /** An error of reading an opened body, in words naming the object, never the credential. */
  readFailure(error: unknown, name: string): Error;
  close(): void;
}

export interface StoredObject {
  name: string;
  size: number;
  /** As listed, where the listing says it (GCS); S3 says it only when the object is read. */
  contentEncoding?: string;
}
