import { AppError, ProcessorError } from '../shared/errors.ts';

export interface RetryPolicy {
  maxAttempts: number;
  backoffSeconds: number;
}

/** Backoff never grows past an hour, however many attempts a config allows. */
const MAX_BACKOFF_MS = 3_600_000;

/**
 * Whether to try a failed step again and after how long: exponential backoff from
 * `backoff_seconds` (1×, 2×, 4×, …). The service's own errors (bad input, a missing
 * credential, a refusal) and processor errors marked non-retryable fail at once; anything else
 * (timeouts, network, conflicts) is retried.
 */
export function retryDecision(attempt: number, error: unknown, policy: RetryPolicy): { retry: false } | { retry: true; delayMs: number } {
  if (attempt >= policy.maxAttempts) return { retry: false };
  if (error instanceof ProcessorError) return error.retryable ? backoff(attempt, policy) : { retry: false };
  if (error instanceof AppError) return { retry: false };
  return backoff(attempt, policy);
}

function backoff(attempt: number, policy: RetryPolicy): { retry: true; delayMs: number } {
  return { retry: true, delayMs: Math.min(policy.backoffSeconds * 1000 * 2 ** (attempt - 1), MAX_BACKOFF_MS) };
}
