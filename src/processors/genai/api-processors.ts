import { systemClock } from '../../shared/clock.ts';
import { apiExtractor } from '../http/api-extractor.ts';
import type { HttpDeps } from '../http/http-deps.ts';
import { rateLimiters } from '../http/rate-limiter.ts';
import type { Processor } from '../types.ts';
import { paygCost } from './payg-cost.ts';
import { paygUsage } from './payg-usage.ts';
import { unifiedSummary } from './unified-summary.ts';

/**
 * The processors that call provider APIs (and the GenAI ones beside them), built together so
 * they share one set of rate limiters: every run of the process asking with the same org,
 * provider and credential draws from one bucket, whichever processor it uses.
 */
export function apiProcessors(deps: Partial<HttpDeps> = {}): Processor[] {
  const clock = deps.clock ?? systemClock;
  const http: HttpDeps = { limiters: deps.limiters ?? rateLimiters(clock), clock, random: deps.random ?? Math.random, ...(deps.fetch ? { fetch: deps.fetch } : {}), ...(deps.metrics ? { metrics: deps.metrics } : {}) };
  return [apiExtractor(http), paygUsage(http), paygCost(), unifiedSummary()];
}
