import { createSign } from 'node:crypto';
import { ProcessorError } from '../../shared/errors.ts';
import { Secret } from '../../shared/secret.ts';
import { clientFor } from '../http/http-deps.ts';
import type { ProviderCredential } from '../types.ts';
import type { TokenExchange } from './source.ts';

interface ServiceAccountKey {
  type: 'service_account';
  client_email: string;
  private_key: string;
  token_uri?: string;
  project_id?: string;
}

/** A Google service-account JSON key, if that is what the credential holds (else an access token). */
export function serviceAccountKey(secret: Secret): ServiceAccountKey | undefined {
  const text = secret.reveal().trim();
  if (!text.startsWith('{')) return undefined;
  let parsed: Partial<ServiceAccountKey>;
  try {
    parsed = JSON.parse(text) as Partial<ServiceAccountKey>;
  } catch {
    throw new ProcessorError('the Google credential looks like JSON but does not parse; store a service-account key file or an OAuth access token', { retryable: false });
  }
  if (parsed.type !== 'service_account' || typeof parsed.client_email !== 'string' || typeof parsed.private_key !== 'string') {
    throw new ProcessorError('the Google credential is JSON but not a service-account key (type, client_email, private_key)', { retryable: false });
  }
  return parsed as ServiceAccountKey;
}

/**
 * An OAuth2 access token for Cloud Monitoring: the credential itself when it is a token, or one
 * exchanged for a service-account key by the JWT-bearer grant (RFC 7523), as Google's client
 * libraries do: an RS256-signed assertion posted to the key's token_uri.
 */
export async function googleAccessToken(credential: ProviderCredential, exchange: TokenExchange, scope: string): Promise<Secret> {
  const key = serviceAccountKey(credential.secret);
  if (!key) return credential.secret;
  const tokenUri = key.token_uri ?? 'https://oauth2.googleapis.com/token';
  const now = Math.floor(exchange.deps.clock.now().getTime() / 1000);
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode({ iss: key.client_email, scope, aud: tokenUri, iat: now, exp: now + 3600 })}`;
  let signature: string;
  try {
    signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key, 'base64url');
  } catch (cause) {
    throw new ProcessorError('the service-account private_key cannot sign (not a PEM RSA key)', { retryable: false, cause });
  }
  const client = clientFor(exchange.deps, {
    provider: 'gemini',
    label: 'Google OAuth',
    orgSlug: exchange.orgSlug,
    credentialId: `${exchange.credentialId}/token`,
    tuning: {},
    signal: exchange.signal,
    logger: exchange.logger,
  });
  const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${signature}` }).toString();
  const response = await client.json({ url: new URL(tokenUri), method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  const token = (response.body as { access_token?: unknown } | null)?.access_token;
  if (typeof token !== 'string' || token.length === 0) throw new ProcessorError(`Google OAuth ${new URL(tokenUri).pathname}: no access_token in the answer`, { retryable: false });
  return new Secret(token);
}
