import { ProcessorError } from '../../shared/errors.ts';
import { describeUrl } from './auth.ts';

/**
 * 64 MiB: far above a page of a provider's admin API (at most 31 daily buckets), and small
 * enough that a step holding its page, the one prefetched and their parsed JSON (several times
 * the bytes) stays within a worker's memory however the server misbehaves. The old default,
 * 256 MiB and checked only against Content-Length, was not a bound at all for chunked bodies.
 */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * The body as text, read as a stream and abandoned the moment it passes `maxBytes`: a
 * `Content-Length` above the cap is refused before reading, and a chunked body (no length) is
 * counted as it arrives, so neither can make the process hold more than the cap. The URL in
 * the message has no query string, where a credential may be.
 */
export async function readBody(response: Response, url: URL, provider: string, maxBytes: number): Promise<string> {
  const tooLarge = (what: string) => new ProcessorError(`${provider} sent ${what} on ${describeUrl(url)}, more than the ${maxBytes} bytes a page may have`, { retryable: false });
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw tooLarge(`a ${declared}-byte body`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Cancelling closes the connection: the server's remaining bytes are never read.
      await reader.cancel();
      throw tooLarge('a body');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total).toString('utf8');
}
