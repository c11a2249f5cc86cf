/**
 * Google's OAuth token endpoint for service accounts, locally: the JWT-bearer grant (RFC 7523)
 * as Google answers it. An assertion signed (RS256) by a key this server issued, for its own URL
 * as audience, unexpired, gets an access token; anything else an `invalid_grant` 400 as Google
 * words it. The GCS and BigQuery test servers ask it which service account a bearer token is.
 */
import { createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { listenLocal } from './listen-local.ts';

export interface GoogleOAuthTestServer {
  tokenUri: string;
  /** A new service account's JSON key file text (what an org stores as its gcp credential). */
  serviceAccount(email: string, projectId: string): string;
  /** The service account a request's `Authorization: Bearer` token was issued to. */
  identity(authorization: string | undefined): string | undefined;
  /** Tokens issued so far. */
  readonly issued: number;
  close(): Promise<void>;
}

export async function startGoogleOAuthServer(): Promise<GoogleOAuthTestServer> {
  const publicKeys = new Map<string, string>();
  const tokens = new Map<string, string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const refuse = (description: string) => {
        res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: 'invalid_grant', error_description: description }));
      };
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      if (req.method !== 'POST' || form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return refuse('Unsupported grant type.');
      const [header = '', payload = '', signature = ''] = (form.get('assertion') ?? '').split('.');
      let claims: { iss?: string; aud?: string; exp?: number; scope?: string };
      try {
        claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as typeof claims;
      } catch {
        return refuse('Invalid JWT.');
      }
      const key = publicKeys.get(claims.iss ?? '');
      if (!key) return refuse('Invalid grant: account not found');
      if (!createVerify('RSA-SHA256').update(`${header}.${payload}`).verify(key, signature, 'base64url')) return refuse('Invalid JWT Signature.');
      if (claims.aud !== tokenUri) return refuse('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
      if (!claims.scope || (claims.exp ?? 0) * 1000 < Date.now()) return refuse('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
      const token = `ya29.${randomBytes(24).toString('base64url')}`;
      tokens.set(token, claims.iss!);
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }));
    });
  });
  const listening = await listenLocal(server);
  const tokenUri = `${listening.url}/token`;
  return {
    tokenUri,
    serviceAccount(email, projectId) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      publicKeys.set(email, publicKey.export({ type: 'spki', format: 'pem' }) as string);
      return JSON.stringify({
        type: 'service_account',
        project_id: projectId,
        private_key_id: randomBytes(20).toString('hex'),
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        client_email: email,
        client_id: '1234567890',
        token_uri: tokenUri,
      });
    },
    identity(authorization) {
      const token = /^Bearer (\S+)$/i.exec(authorization ?? '')?.[1];
      return token ? tokens.get(token) : undefined;
    },
    get issued() {
      return tokens.size;
    },
    close: listening.close,
  };
}
