import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AuthenticationError, NotAllowedError } from '../shared/errors.ts';
import { sha256 } from '../shared/ids.ts';
import type { OrgStore } from '../store/orgs.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The org the request's X-API-Key belongs to. */
    orgSlug: string;
  }
}

/** X-API-Key: the key's org, which must be the `{org}` of the path when there is one. */
export function orgAuth(orgs: OrgStore) {
  return async (request: FastifyRequest) => {
    const key = request.headers['x-api-key'];
    if (typeof key !== 'string' || key.length === 0) throw new AuthenticationError('X-API-Key header required');
    const orgSlug = await orgs.orgForKey(key);
    if (!orgSlug) throw new AuthenticationError('Invalid or revoked API key');
    const pathOrg = (request.params as { org?: string }).org;
    if (pathOrg !== undefined && pathOrg !== orgSlug) throw new NotAllowedError(`This API key does not belong to organization ${pathOrg}`);
    request.orgSlug = orgSlug;
  };
}

/** X-CA-Root-Key, compared in constant time (over digests, so lengths never leak either). */
export function rootAuth(rootApiKey: string | undefined) {
  const expected = rootApiKey ? Buffer.from(sha256(rootApiKey), 'hex') : undefined;
  return async (request: FastifyRequest) => {
    const key = request.headers['x-ca-root-key'];
    if (typeof key !== 'string' || key.length === 0) throw new AuthenticationError('X-CA-Root-Key header required');
    if (!expected) throw new NotAllowedError('The admin API is disabled: CA_ROOT_API_KEY is not set');
    if (!timingSafeEqual(Buffer.from(sha256(key), 'hex'), expected)) throw new AuthenticationError('Invalid root key');
  };
}
