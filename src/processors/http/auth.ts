import { Type, type Static, type TProperties } from '@sinclair/typebox';
import type { Secret } from '../../shared/secret.ts';

/** How a request carries the credential (the seeds' four kinds), with `extra` fields on each. */
export function authSchema<P extends TProperties>(extra: P) {
  return Type.Union([
    Type.Object({ ...extra, type: Type.Literal('bearer') }, { additionalProperties: false, description: 'Authorization: Bearer <secret>' }),
    Type.Object(
      { ...extra, type: Type.Literal('header'), name: Type.String({ pattern: '^[A-Za-z0-9-]+$' }), prefix: Type.Optional(Type.String()) },
      { additionalProperties: false, description: 'the secret in a header, e.g. x-api-key' },
    ),
    Type.Object({ ...extra, type: Type.Literal('query'), param: Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }) }, { additionalProperties: false, description: 'the secret as a query parameter' }),
    Type.Object(
      { ...extra, type: Type.Literal('basic'), username: Type.Optional(Type.String()) },
      { additionalProperties: false, description: 'HTTP Basic: the secret is "user:password", or the password of `username`' },
    ),
  ]);
}
export const AuthSchema = authSchema({});
export type AuthConfig = Static<typeof AuthSchema>;

/**
 * Puts the credential on one request. The secret is revealed here only, at the moment it is
 * sent; nothing returned or thrown contains it.
 */
export function applyAuth(auth: AuthConfig, secret: Secret, url: URL, headers: Headers): void {
  switch (auth.type) {
    case 'bearer':
      headers.set('authorization', `Bearer ${secret.reveal()}`);
      return;
    case 'header':
      headers.set(auth.name, `${auth.prefix ?? ''}${secret.reveal()}`);
      return;
    case 'query':
      url.searchParams.set(auth.param, secret.reveal());
      return;
    case 'basic': {
      const pair = auth.username === undefined ? secret.reveal() : `${auth.username}:${secret.reveal()}`;
      headers.set('authorization', `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`);
      return;
    }
  }
}

/** What may be logged of a URL: origin and path, never the query (a query credential lives there). */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}
