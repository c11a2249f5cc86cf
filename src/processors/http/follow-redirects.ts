import { ProcessorError } from '../../shared/errors.ts';
import type { Secret } from '../../shared/secret.ts';
import { applyAuth, describeUrl, type AuthConfig } from './auth.ts';

/** Redirects followed per request; a longer chain is a loop or a misconfigured proxy. */
export const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface OutgoingRequest {
  url: URL;
  method: 'GET' | 'POST';
  /** Every header except the credential's. */
  headers: Headers;
  body?: string | undefined;
}

export interface FollowOptions {
  auth?: { config: AuthConfig; secret: Secret } | undefined;
  provider: string;
  signal: AbortSignal;
  fetch: typeof fetch;
}

/**
 * Sends a request and follows its redirects itself (`redirect: 'manual'`), because fetch's own
 * following strips only `Authorization`: Anthropic's `x-api-key` and a query-string key would
 * go to wherever the server points. The policy, as curl without --location-trusted and the
 * Fetch standard do it for Authorization, extended to every credential the auth added:
 *
 * - same origin: followed, with the credential put on again;
 * - another origin: followed as a plain GET with no credential at all (no auth header, no auth
 *   query parameter), which still serves the legitimate case, a pre-signed download URL that
 *   carries its own authority; refused when the request has a body that would have to go
 *   along (307/308), since a body can itself be a credential (Google's signed JWT assertion),
 *   and refused when the target URL contains the secret (a server echoing the query string);
 * - https to http: refused, whatever the origin (a downgrade).
 */
export async function fetchFollowingRedirects(request: OutgoingRequest, options: FollowOptions): Promise<Response> {
  const origin = request.url.origin;
  let hop: OutgoingRequest = request;
  for (let redirects = 0; ; redirects++) {
    const url = new URL(hop.url);
    const headers = new Headers(hop.headers);
    const sameOrigin = url.origin === origin;
    if (options.auth && sameOrigin) applyAuth(options.auth.config, options.auth.secret, url, headers);
    const response = await options.fetch(url, { method: hop.method, headers, ...(hop.body === undefined ? {} : { body: hop.body }), signal: options.signal, redirect: 'manual' });
    const location = response.headers.get('location');
    if (!REDIRECT_STATUSES.has(response.status) || location === null) return response;
    await response.body?.cancel();
    if (redirects >= MAX_REDIRECTS) throw refused(options.provider, request.url, `more than ${MAX_REDIRECTS} redirects`);
    const next = new URL(location, hop.url);
    hop = nextHop(hop, response.status, next, options, request.url);
  }
}

function nextHop(hop: OutgoingRequest, status: number, next: URL, options: FollowOptions, first: URL): OutgoingRequest {
  if (next.protocol !== 'https:' && next.protocol !== 'http:') throw refused(options.provider, first, `a redirect to a ${next.protocol} URL`);
  if (hop.url.protocol === 'https:' && next.protocol === 'http:') throw refused(options.provider, first, `a redirect from https to http (${describeUrl(next)})`);
  // RFC 9110 §15.4: 303 always, and 301/302 of a POST in practice, continue as a GET without body.
  const asGet = status === 303 || ((status === 301 || status === 302) && hop.method === 'POST');
  const method = asGet ? 'GET' : hop.method;
  const body = asGet ? undefined : hop.body;
  const headers = new Headers(hop.headers);
  if (asGet) headers.delete('content-type');
  if (next.origin === first.origin) return { url: next, method, headers, body };

  const secret = options.auth?.secret.reveal();
  if (secret && next.href.includes(secret)) throw refused(options.provider, first, `a redirect to ${next.origin} whose URL carries the credential`);
  if (body !== undefined) throw refused(options.provider, first, `a ${status} redirect to ${next.origin} that would resend the request body`);
  if (options.auth?.config.type === 'query') next.searchParams.delete(options.auth.config.param);
  return { url: next, method, headers };
}

function refused(provider: string, url: URL, what: string): ProcessorError {
  return new ProcessorError(`${provider} ${describeUrl(url)}: ${what}; not followed`, { retryable: false });
}
