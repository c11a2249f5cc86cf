import type { Clock } from '../../shared/clock.ts';
import { ProcessorError } from '../../shared/errors.ts';
import type { Logger } from '../../shared/logger.ts';
import type { HttpMetrics, HttpOutcome } from '../../shared/metrics.ts';
import type { Secret } from '../../shared/secret.ts';
import type { AuthConfig } from './auth.ts';
import { fetchFollowingRedirects } from './follow-redirects.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { DEFAULT_MAX_BODY_BYTES, readBody } from './read-body.ts';
import { httpRetryDecision, parseRetryAfter, type AttemptFailure, type HttpRetryPolicy } from './retry-policy.ts';

export interface HttpClientOptions {
  /** Names the provider in messages ("OpenAI"). */
  provider: string;
  /** How the credential goes on each request; none for public endpoints (a token exchange). */
  auth?: { config: AuthConfig; secret: Secret } | undefined;
  /** Headers of every request (`anthropic-version`, ...). */
  headers?: Record<string, string> | undefined;
  limiter: RateLimiter;
  retry: HttpRetryPolicy;
  /** The jitter's randomness: Math.random in production, fixed in tests. */
  random: () => number;
  clock: Clock;
  /** The step's signal: a timeout or a cancel aborts the request in flight. */
  signal: AbortSignal;
  logger: Logger;
  /** One request (headers and body) may take this long before it counts as a network error. */
  requestTimeoutMs: number;
  /** A body (chunked or not) larger than this is abandoned as it arrives, never held whole; 64 MiB by default. */
  maxBodyBytes?: number | undefined;
  fetch?: typeof fetch;
  /** Counts attempts, retries and 429s under these labels (the provider's key, not its display name). */
  metrics?: { recorder: HttpMetrics; labels: { org: string; provider: string } } | undefined;
}

export interface HttpRequest {
  url: URL;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpResponse {
  /** The URL asked for, without the credential (and not the one a redirect led to). */
  url: URL;
  status: number;
  headers: Headers;
  body: unknown;
}

export interface HttpClient {
  /** The parsed JSON body of a 2xx answer, after retries; a ProcessorError otherwise. */
  json(request: HttpRequest): Promise<HttpResponse>;
}

/**
 * Requests with the credential, the shared rate limit and the retry policy. Failures become
 * ProcessorErrors whose message names the provider, the path and the provider's own words
 * (a 401's missing scope), with the secret scrubbed from anything the server echoed.
 */
export function httpClient(options: HttpClientOptions): HttpClient {
  const doFetch = options.fetch ?? fetch;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const scrub = (text: string) => {
    const secret = options.auth?.secret.reveal();
    return secret && secret.length >= 6 ? text.split(secret).join('[redacted]') : text;
  };

  async function attempt(request: HttpRequest): Promise<{ ok: true; response: HttpResponse } | { ok: false; failure: AttemptFailure; detail: string; status?: number }> {
    const headers = new Headers({ accept: 'application/json', ...options.headers, ...request.headers });
    const timeout = AbortSignal.timeout(options.requestTimeoutMs);
    const signal = AbortSignal.any([options.signal, timeout]);
    let response: Response;
    let text: string;
    try {
      const outgoing = { url: request.url, method: request.method ?? 'GET', headers, body: request.body } as const;
      response = await fetchFollowingRedirects(outgoing, { auth: options.auth, provider: options.provider, signal, fetch: doFetch });
      text = await readBody(response, request.url, options.provider, maxBodyBytes);
    } catch (error) {
      if (options.signal.aborted) throw options.signal.reason;
      if (error instanceof ProcessorError) throw error;
      const message = timeout.aborted ? `no answer within ${options.requestTimeoutMs} ms` : networkMessage(error);
      return { ok: false, failure: { kind: 'network', message }, detail: message };
    }
    if (response.status < 200 || response.status >= 300) {
      const retryAfterMs = parseRetryAfter(response.headers, options.clock.now());
      return { ok: false, failure: { kind: 'status', status: response.status, retryAfterMs }, detail: scrub(providerMessage(text)), status: response.status };
    }
    try {
      return { ok: true, response: { url: request.url, status: response.status, headers: response.headers, body: text.length === 0 ? null : JSON.parse(text) } };
    } catch {
      // A body cut off mid-way (a dropped connection behind a proxy) parses as broken JSON.
      const message = `the body is not complete JSON (${text.length} bytes)`;
      return { ok: false, failure: { kind: 'invalid_body', message }, detail: message };
    }
  }

  const metrics = options.metrics;
  return {
    async json(request) {
      for (let n = 1; ; n++) {
        await options.limiter.acquire(options.signal);
        const result = await attempt(request);
        metrics?.recorder.providerRequest({ ...metrics.labels, outcome: outcomeOf(result) });
        if (result.ok) return result.response;
        const { failure } = result;
        if (failure.kind === 'status' && failure.status === 429) metrics?.recorder.providerRateLimited(metrics.labels);
        const path = request.url.pathname;
        if (failure.kind === 'status' && failure.status === 429 && failure.retryAfterMs !== undefined) options.limiter.pause(failure.retryAfterMs);
        const decision = httpRetryDecision(n, failure, options.retry, options.random);
        if (decision.retry) {
          metrics?.recorder.providerRetry(metrics.labels);
          options.logger.warn({ provider: options.provider, path, attempt: n, status: result.status, error: failure.kind === 'status' ? undefined : failure.message, retry_in_ms: decision.delayMs }, 'http request failed, retrying');
          await options.clock.sleep(decision.delayMs, options.signal);
          continue;
        }
        throw failureError(options.provider, path, n, failure, result.detail, decision.reason);
      }
    },
  };
}

function outcomeOf(result: { ok: true } | { ok: false; failure: AttemptFailure }): HttpOutcome {
  if (result.ok) return '2xx';
  const { failure } = result;
  if (failure.kind === 'network') return 'network_error';
  if (failure.kind === 'invalid_body') return 'invalid_body';
  return failure.status >= 500 ? '5xx' : failure.status >= 400 ? '4xx' : failure.status >= 300 ? '3xx' : '2xx';
}

function failureError(provider: string, path: string, attempts: number, failure: AttemptFailure, detail: string, reason: 'final' | 'exhausted' | 'retry_after_too_long'): ProcessorError {
  if (failure.kind !== 'status') return new ProcessorError(`${provider} ${path}: ${detail}, after ${attempts} attempts`, { retryable: true });
  const { status } = failure;
  if (status === 401 || status === 403) {
    const scopes = /missing scopes?:\s*([^\s",]+(?:,\s*[^\s",]+)*)/i.exec(detail)?.[1]?.replace(/\.$/, '');
    const what = scopes ? `the credential lacks the scope ${scopes}` : 'the credential was refused';
    return new ProcessorError(`${provider} answered ${status} on ${path}: ${what} (${detail})`, { retryable: false });
  }
  if (reason === 'retry_after_too_long') return new ProcessorError(`${provider} answered ${status} on ${path} and asks to wait ${Math.round((failure.retryAfterMs ?? 0) / 1000)} s, longer than this step waits (${detail})`, { retryable: true });
  if (reason === 'exhausted') return new ProcessorError(`${provider} answered ${status} on ${path} ${attempts} times; giving up (${detail})`, { retryable: true });
  return new ProcessorError(`${provider} answered ${status} on ${path}: ${detail}`, { retryable: false });
}

/** The provider's own words: OpenAI and Anthropic `error.message`, Google `error.message`, else the text. */
function providerMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.message);
    if (typeof message === 'string' && message.length > 0) return message.slice(0, 500);
  } catch {
    // not JSON: the text itself
  }
  return text.trim().slice(0, 300) || 'no body';
}

function networkMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${(error.cause as NodeJS.ErrnoException).code ?? error.cause.message}` : '';
  return `${error.message}${cause}`;
}
