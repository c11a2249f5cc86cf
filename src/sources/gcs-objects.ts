import { Storage } from '@google-cloud/storage';
import { ProcessorError } from '../shared/errors.ts';
import type { ObjectStore } from './object-store.ts';
import { retrying } from './retry.ts';
import type { SourceAuthClient } from './google-auth-client.ts';

/**
 * A GCS bucket read with the org's service account (@google-cloud/storage, the JSON API).
 * `apiEndpoint` (GCS_API_ENDPOINT) is a test server or a private endpoint; requests to it are
 * authenticated all the same. 429, 5xx and dropped connections are retried by retry.ts, not by
 * the library (see there why); what fails after that fails the step, retryable.
 * Objects stored gzip-encoded are decoded by the library (or by GCS's transcoding) as they
 * arrive, and their CRC32C checked.
 */
export function gcsObjects(bucket: string, options: { auth: SourceAuthClient; projectId: string | undefined; apiEndpoint?: string | undefined; label: string }): ObjectStore {
  const storage = new Storage({
    ...(options.projectId ? { projectId: options.projectId } : {}),
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint, useAuthWithCustomEndpoint: true } : {}),
    authClient: options.auth as never,
    retryOptions: { autoRetry: false },
  });
  const handle = storage.bucket(bucket);
  const failed = (error: unknown, what: string, signal: AbortSignal) => {
    signal.throwIfAborted();
    return gcsFailure(error, `${options.label}: ${what}`);
  };
  return {
    scheme: 'gs',
    bucket,
    async *list(prefix, signal) {
      let query: Record<string, unknown> | null = { prefix, autoPaginate: false, maxResults: 1000 };
      while (query) {
        signal.throwIfAborted();
        const page: Record<string, unknown> = query;
        const [files, next] = (await retrying(
          () =>
            handle.getFiles(page).catch((error: unknown) => {
              throw failed(error, `listing gs://${bucket}/${prefix}`, signal);
            }),
          signal,
        )) as unknown as [{ name: string; metadata: { size?: string | number; contentEncoding?: string } }[], Record<string, unknown> | null];
        yield files.map((file) => ({ name: file.name, size: Number(file.metadata.size ?? 0), ...(file.metadata.contentEncoding ? { contentEncoding: file.metadata.contentEncoding } : {}) }));
        query = next;
      }
    },
    async open(object, signal) {
      signal.throwIfAborted();
      // The request is made on the first read: a 403, 404 or 5xx past the retries is an error of
      // the stream, which the downloader passes to readFailure.
      const body = handle.file(object.name).createReadStream({ decompress: true, validation: 'crc32c' });
      const gzip = /\bgzip\b/i.test(object.contentEncoding ?? '');
      return { body, contentEncoding: gzip ? 'gzip' : 'identity', gunzip: false };
    },
    readFailure: (error, name) => gcsFailure(error, `${options.label}: reading gs://${bucket}/${name}`),
    close: () => undefined,
  };
}

/** The JSON API's status and reason in words that name the bucket or object, never the key. */
function gcsFailure(error: unknown, what: string): ProcessorError {
  if (error instanceof ProcessorError) return error;
  const { status, reason, message } = apiError(error);
  const explain: Record<number, string> = {
    401: "the org's gcp service account was not accepted",
    403: "access denied to the org's gcp service account",
    404: 'no such bucket or object',
  };
  const retryable = status === 0 || status === 408 || status === 429 || status >= 500;
  return new ProcessorError(`${what}: ${explain[status] ?? 'failed'} (${[reason, status ? `HTTP ${status}` : ''].filter(Boolean).join(', ')}${message ? `: ${message.slice(0, 300)}` : ''})`, { retryable, cause: error });
}

/** Status, reason and message of an ApiError, or of a read stream's error whose message is the JSON error body. */
function apiError(error: unknown): { status: number; reason: string; message: string } {
  const e = error as { code?: unknown; errors?: { reason?: string }[]; message?: string };
  let status = typeof e?.code === 'number' ? e.code : 0;
  let reason = e?.errors?.[0]?.reason ?? '';
  let message = e?.message ?? String(error);
  try {
    const body = JSON.parse(message) as { error?: { code?: number; message?: string; errors?: { reason?: string }[] } };
    if (body.error) {
      status = body.error.code ?? status;
      reason = body.error.errors?.[0]?.reason ?? reason;
      message = body.error.message ?? '';
    }
  } catch {
    // Not a JSON body: the library's own message.
  }
  return { status, reason, message };
}
