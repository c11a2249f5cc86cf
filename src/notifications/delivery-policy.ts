/** What a transport made of one attempt. Transports never throw: every failure is an outcome. */
export type SendOutcome =
  | { ok: true; code?: number | undefined }
  | {
      ok: false;
      /** The receiver refused the message itself (a bad payload, a revoked webhook): sending it again cannot help. */
      permanent: boolean;
      code?: number | undefined;
      error: string;
      /** The receiver said when to come back (429 / 503 Retry-After). */
      retryAfterMs?: number | undefined;
    };

export interface DeliveryPolicy {
  baseMs: number;
  maxMs: number;
}

/** 30 s, 1 min, 2 min ... capped at 1 h: ten attempts span about six hours of a receiver's outage. */
export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { baseMs: 30_000, maxMs: 3_600_000 };
export const DEFAULT_MAX_ATTEMPTS = 10;
/** A Retry-After further out than this is read as this: a typo or a hostile receiver cannot park a message for a year. */
const MAX_RETRY_AFTER_MS = 6 * 3_600_000;

export type Decision = { action: 'sent' } | { action: 'retry'; delayMs: number } | { action: 'give_up'; reason: 'permanent' | 'attempts_exhausted' };

/** The retry decision: a pure function of the attempt number (1-based), its outcome and the policy. */
export function decide(attempt: number, maxAttempts: number, outcome: SendOutcome, policy: DeliveryPolicy): Decision {
  if (outcome.ok) return { action: 'sent' };
  if (outcome.permanent) return { action: 'give_up', reason: 'permanent' };
  if (attempt >= maxAttempts) return { action: 'give_up', reason: 'attempts_exhausted' };
  if (outcome.retryAfterMs !== undefined) return { action: 'retry', delayMs: Math.min(Math.max(outcome.retryAfterMs, 0), MAX_RETRY_AFTER_MS) };
  return { action: 'retry', delayMs: Math.min(policy.baseMs * 2 ** (attempt - 1), policy.maxMs) };
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3), in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: Date): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(at - now.getTime(), 0);
}
