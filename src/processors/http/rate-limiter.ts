import type { Clock } from '../../shared/clock.ts';

export interface RateLimit {
  requestsPerSecond: number;
  /** Requests that may go at once after a quiet spell. */
  burst: number;
}

export interface RateLimiter {
  /** Waits for a request slot; the slot is reserved at once, so callers are served in order. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Holds every caller back for `ms` (a 429's Retry-After applies to all runs sharing the key). */
  pause(ms: number): void;
}

export interface RateLimiters {
  /** The limiter of one key (org, provider, credential): the same object for every run asking. */
  get(key: string, limit: RateLimit): RateLimiter;
}

/**
 * In-process request rates per key, shared by every run of the process: two concurrent runs of
 * one org's OpenAI credential draw from one bucket. A token bucket whose tokens may go negative:
 * a caller takes its token at once and sleeps off the debt, so waiting callers keep their order.
 */
export function rateLimiters(clock: Clock): RateLimiters {
  const limiters = new Map<string, ReturnType<typeof tokenBucket>>();
  return {
    get(key, limit) {
      let limiter = limiters.get(key);
      if (!limiter) limiters.set(key, (limiter = tokenBucket(clock, limit)));
      // The latest config wins: a pipeline whose rate was lowered applies at once.
      limiter.configure(limit);
      return limiter;
    },
  };
}

function tokenBucket(clock: Clock, initial: RateLimit) {
  let rate = initial.requestsPerSecond;
  let burst = Math.max(1, initial.burst);
  let tokens = burst;
  let refilledAt = clock.now().getTime();
  let pausedUntil = 0;

  const refill = (now: number) => {
    tokens = Math.min(burst, tokens + ((now - refilledAt) / 1000) * rate);
    refilledAt = now;
  };

  return {
    configure(limit: RateLimit) {
      refill(clock.now().getTime());
      rate = limit.requestsPerSecond;
      burst = Math.max(1, limit.burst);
      tokens = Math.min(tokens, burst);
    },
    async acquire(signal?: AbortSignal) {
      signal?.throwIfAborted();
      const now = clock.now().getTime();
      refill(now);
      tokens -= 1;
      const waitMs = Math.max(tokens < 0 ? (-tokens / rate) * 1000 : 0, pausedUntil - now);
      if (waitMs <= 0) return;
      try {
        await clock.sleep(Math.ceil(waitMs), signal);
      } catch (error) {
        tokens += 1; // an aborted caller hands its slot back
        throw error;
      }
    },
    pause(ms: number) {
      pausedUntil = Math.max(pausedUntil, clock.now().getTime() + ms);
    },
  };
}
