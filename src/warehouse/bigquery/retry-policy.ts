/**
 * How long to wait before sending a BigQuery request or job again: exponential from 1 s,
 * doubled each time, capped at 32 s, with full jitter, as Google's guidance for
 * rateLimitExceeded and backendError asks ("truncated exponential backoff"). `random` is
 * injected so tests see the exact delays.
 */
export interface BigQueryRetryPolicy {
  /** Tries in all, the first included. */
  maxTries: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: BigQueryRetryPolicy = { maxTries: 6, initialDelayMs: 1000, maxDelayMs: 32_000 };

/** The wait after failed try number `tryNumber` (1-based), or undefined when it was the last. */
export function retryDelayMs(tryNumber: number, policy: BigQueryRetryPolicy, random: () => number = Math.random): number | undefined {
  if (tryNumber >= policy.maxTries) return undefined;
  const ceiling = Math.min(policy.initialDelayMs * 2 ** (tryNumber - 1), policy.maxDelayMs);
  return Math.round(ceiling * (0.5 + random() / 2));
}
