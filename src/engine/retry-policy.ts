import { InputError, ProcessorError } from '../shared/errors.ts';

export interface RetryPolicy {
  maxAttempts: number;
  backoffSeconds: number;
}

/** Backoff never grows past an hour, however many attempts a config allows. */
const MAX_BACKOFF_MS = 3_600_000;

/**
 * Whether to try a failed step again and after how long: exponential backoff from
 * `backoff_seconds` (1×, 2×, 4×, …). Input errors and processor errors marked
 * non-retryable fail at once; anything else (timeouts, network, conflicts) is retried.
 */
export function retryDecision(attempt: number, error: unknown, policy: RetryPolicy): { retry: false } | { retry: true; delayMs: number } {
  if (attempt >= policy.maxAttempts) return { retry: false };
  if (error instanceof InputError) return { retry: false };
  if (error instanceof ProcessorError && !error.retryable) return { retry: false };
  return { retry: true, delayMs: Math.min(policy.backoffSeconds * 1000 * 2 ** (attempt - 1), MAX_BACKOFF_MS) };
}
