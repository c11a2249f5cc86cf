import { Type, type Static } from '@sinclair/typebox';
import type { Clock } from '../../shared/clock.ts';
import type { Logger } from '../../shared/logger.ts';
import type { HttpMetrics } from '../../shared/metrics.ts';
import type { Secret } from '../../shared/secret.ts';
import type { AuthConfig } from './auth.ts';
import { httpClient, type HttpClient } from './http-client.ts';
import type { RateLimiters } from './rate-limiter.ts';
import { DEFAULT_HTTP_RETRY, type HttpRetryPolicy } from './retry-policy.ts';

/** What every API processor of one process shares: above all the rate limiters. */
export interface HttpDeps {
  limiters: RateLimiters;
  clock: Clock;
  random: () => number;
  fetch?: typeof fetch;
  metrics?: HttpMetrics;
}

/** The `rate_limit`, `retry`, `request_timeout_seconds` and `max_page_mib` fields every API step config may set. */
export const HttpTuningSchema = {
  rate_limit: Type.Optional(
    Type.Object(
      { requests_per_second: Type.Number({ exclusiveMinimum: 0, maximum: 1000 }), burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
      { additionalProperties: false, description: 'requests per second per org, provider and credential, shared by concurrent runs' },
    ),
  ),
  retry: Type.Optional(
    Type.Object(
      {
        max_attempts: Type.Integer({ minimum: 1, maximum: 20 }),
        base_delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
        max_delay_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 600 })),
        max_retry_after_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 3600 })),
      },
      { additionalProperties: false, description: 'retries of one request on 429, 5xx and network errors' },
    ),
  ),
  request_timeout_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
  max_page_mib: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'a response body larger than this is refused as it arrives (64 MiB by default)' })),
};
const TuningObject = Type.Object(HttpTuningSchema);
export type HttpTuning = Static<typeof TuningObject>;

export interface ClientFor {
  provider: string;
  /** Display name in messages ("OpenAI"). */
  label: string;
  orgSlug: string;
  credentialId: string;
  auth?: { config: AuthConfig; secret: Secret } | undefined;
  headers?: Record<string, string>;
  tuning: HttpTuning;
  /** The credential's metadata: its `requests_per_second` and `burst` set the rate of that credential. */
  metadata?: Record<string, unknown>;
  /** Defaults of the provider, under the step's and the credential's settings. */
  defaults?: { requestsPerSecond?: number; burst?: number };
  signal: AbortSignal;
  logger: Logger;
}

/** A client for one step: the limiter of its org, provider and credential, its retry policy. */
export function clientFor(deps: HttpDeps, target: ClientFor): HttpClient {
  const { tuning } = target;
  const retry: HttpRetryPolicy = {
    maxAttempts: tuning.retry?.max_attempts ?? DEFAULT_HTTP_RETRY.maxAttempts,
    baseDelayMs: tuning.retry?.base_delay_ms ?? DEFAULT_HTTP_RETRY.baseDelayMs,
    maxDelayMs: (tuning.retry?.max_delay_seconds ?? DEFAULT_HTTP_RETRY.maxDelayMs / 1000) * 1000,
    maxRetryAfterMs: (tuning.retry?.max_retry_after_seconds ?? DEFAULT_HTTP_RETRY.maxRetryAfterMs / 1000) * 1000,
  };
  const positive = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined);
  // The step's setting, else the credential's (an org whose tier allows more), else the provider's.
  const requestsPerSecond = tuning.rate_limit?.requests_per_second ?? positive(target.metadata?.requests_per_second) ?? target.defaults?.requestsPerSecond ?? 5;
  const burst = tuning.rate_limit?.burst ?? positive(target.metadata?.burst) ?? target.defaults?.burst ?? Math.max(1, Math.ceil(requestsPerSecond));
  const limiter = deps.limiters.get(`${target.orgSlug}/${target.provider}/${target.credentialId}`, { requestsPerSecond, burst: Math.floor(burst) });
  return httpClient({
    provider: target.label,
    auth: target.auth,
    headers: target.headers,
    limiter,
    retry,
    random: deps.random,
    clock: deps.clock,
    signal: target.signal,
    logger: target.logger,
    requestTimeoutMs: (tuning.request_timeout_seconds ?? 60) * 1000,
    maxBodyBytes: tuning.max_page_mib === undefined ? undefined : tuning.max_page_mib * 1024 * 1024,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    metrics: deps.metrics && { recorder: deps.metrics, labels: { org: target.orgSlug, provider: target.provider } },
  });
}
