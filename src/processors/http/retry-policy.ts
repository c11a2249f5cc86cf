/**
 * When to send an HTTP request again, as a pure function of the attempt, what went wrong and
 * the policy; the randomness of the jitter is passed in, so tests pin it.
 *
 * Retried: 429, 408 and 5xx (except 501 and 505, which say the request itself cannot be
 * served), network errors and bodies that arrive cut off. Everything else is the caller's
 * fault and is final. A `Retry-After` the server sends is waited at least, with the jitter on
 * top so that concurrent callers do not all come back in the same millisecond; one longer than
 * `maxRetryAfterMs` is not waited inside the step (the step's own retry may come back later).
 */
export interface HttpRetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff of the first retry; it doubles with each one (full jitter: a random part of it). */
  baseDelayMs: number;
  /** The backoff never grows past this. */
  maxDelayMs: number;
  /** The longest `Retry-After` honoured by waiting. */
  maxRetryAfterMs: number;
}

export const DEFAULT_HTTP_RETRY: HttpRetryPolicy = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

export type AttemptFailure =
  | { kind: 'status'; status: number; retryAfterMs?: number | undefined }
  | { kind: 'network'; message: string }
  | { kind: 'invalid_body'; message: string };

export type HttpRetryDecision = { retry: true; delayMs: number } | { retry: false; reason: 'final' | 'exhausted' | 'retry_after_too_long' };

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

export function httpRetryDecision(attempt: number, failure: AttemptFailure, policy: HttpRetryPolicy, random: () => number): HttpRetryDecision {
  if (failure.kind === 'status' && !isRetryableStatus(failure.status)) return { retry: false, reason: 'final' };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: 'exhausted' };
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jitter = Math.floor(random() * ceiling);
  const retryAfter = failure.kind === 'status' ? failure.retryAfterMs : undefined;
  if (retryAfter === undefined) return { retry: true, delayMs: jitter };
  if (retryAfter > policy.maxRetryAfterMs) return { retry: false, reason: 'retry_after_too_long' };
  // The server's wait is a floor; a little jitter (at most the base delay) spreads the callers.
  return { retry: true, delayMs: retryAfter + Math.floor(random() * Math.min(policy.baseDelayMs, ceiling)) };
}

/**
 * `Retry-After` in seconds or as an HTTP date (RFC 9110 §10.2.3), or OpenAI's `retry-after-ms`
 * (which the official SDKs prefer when both are present).
 */
export function parseRetryAfter(headers: Headers, now: Date): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}
