import { setTimeout as sleep } from 'node:timers/promises';
import { ProcessorError } from '../shared/errors.ts';

/** Attempts of one listing page or one object download, the first included. */
export const SOURCE_ATTEMPTS = 4;
const BASE_DELAY_MS = 250;

/**
 * One request (or one whole object download) tried again while it fails retryable (429, 5xx,
 * SlowDown, a dropped connection), up to SOURCE_ATTEMPTS, with full-jitter backoff doubling from
 * 250 ms. Ours rather than the clients': the GCS library's own retry of a media download throws
 * outside any callback on Node 24 (teeny-request pipes into the stream it destroyed; measured),
 * and one policy for both stores keeps the attempts countable. The step's retry comes on top.
 */
export async function retrying<T>(work: () => Promise<T>, signal: AbortSignal, random: () => number = Math.random): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      signal.throwIfAborted();
      if (!(error instanceof ProcessorError) || !error.retryable || attempt >= SOURCE_ATTEMPTS) throw error;
      await sleep(Math.floor(random() * BASE_DELAY_MS * 2 ** (attempt - 1)), undefined, { signal });
    }
  }
}
