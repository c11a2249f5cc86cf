import { createSign } from 'node:crypto';
import { ProcessorError } from '../shared/errors.ts';
import type { GoogleServiceAccount } from './cloud-credentials.ts';

/**
 * The `authClient` given to @google-cloud/storage and @google-cloud/bigquery for an org's
 * service-account key: OAuth2 access tokens from the JWT-bearer grant (RFC 7523) that Google's
 * libraries use, posted to the key's own `token_uri` as the key file defines it (the Node
 * library's JWT client posts to a fixed Google URL, which rules out any other token service, a
 * test's included). Tokens are cached until five minutes before they expire.
 *
 * Both libraries wrap it in their GoogleAuth and ask it only for request headers; the headers are
 * a plain object, which both their google-auth-library versions (9 and 10) merge.
 */
export interface SourceAuthClient {
  readonly universeDomain: string;
  getRequestHeaders(url?: string): Promise<Record<string, string>>;
  getAccessToken(): Promise<{ token: string }>;
}

const REFRESH_MARGIN_MS = 5 * 60_000;

export function serviceAccountAuthClient(key: GoogleServiceAccount, options: { scope: string; label: string; signal: AbortSignal; now?: () => number }): SourceAuthClient {
  const now = options.now ?? Date.now;
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const exchange = async (): Promise<string> => {
    const iat = Math.floor(now() / 1000);
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iss: key.client_email, scope: options.scope, aud: key.token_uri, iat, exp: iat + 3600 })}`;
    let signature: string;
    try {
      signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key, 'base64url');
    } catch (cause) {
      throw new ProcessorError(`${options.label}: the service-account private_key cannot sign (not a PEM RSA key)`, { retryable: false, cause });
    }
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${signature}` });
    let response: Response;
    try {
      response = await fetch(key.token_uri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, signal: AbortSignal.any([options.signal, AbortSignal.timeout(30_000)]) });
    } catch (cause) {
      options.signal.throwIfAborted();
      throw new ProcessorError(`${options.label}: Google OAuth could not be reached (${(cause as Error).message})`, { retryable: true, cause });
    }
    const answer = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (!response.ok || typeof answer.access_token !== 'string') {
      const reason = [answer.error, answer.error_description].filter((part) => typeof part === 'string').join(': ') || `HTTP ${response.status}`;
      // 4xx: the key is wrong, disabled or deleted; retrying changes nothing.
      throw new ProcessorError(`${options.label}: Google OAuth refused the service account ${key.client_email} (${reason.slice(0, 200)})`, { retryable: response.status >= 500 || response.status === 429 });
    }
    const seconds = typeof answer.expires_in === 'number' ? answer.expires_in : 3600;
    cached = { token: answer.access_token, expiresAt: now() + seconds * 1000 };
    return answer.access_token;
  };

  const token = async (): Promise<string> => {
    if (cached && cached.expiresAt - REFRESH_MARGIN_MS > now()) return cached.token;
    pending ??= exchange().finally(() => (pending = undefined));
    return pending;
  };

  return {
    universeDomain: 'googleapis.com',
    getRequestHeaders: async () => ({ Authorization: `Bearer ${await token()}` }),
    getAccessToken: async () => ({ token: await token() }),
  };
}
