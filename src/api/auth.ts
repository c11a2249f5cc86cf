import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { AuthenticationError, NotAllowedError } from '../shared/errors.ts';
import { sha256 } from '../shared/ids.ts';
import type { Secret } from '../shared/secret.ts';
import type { OrgStore } from '../store/orgs.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The org the request's X-API-Key belongs to. */
    orgSlug: string;
  }
}

/** Marks the hooks below, so a route without one of them is seen (closedByDefault). */
const AUTH = Symbol('auth');
const authHook = <T extends (request: FastifyRequest) => Promise<void>>(hook: T): T => Object.assign(hook, { [AUTH]: true });

/**
 * Routes open to anyone, declared here and nowhere else: every other route must name orgAuth
 * or rootAuth in its preValidation, or the server refuses to start (a new route is closed
 * unless it is added to this list).
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  'GET /health',
  // CORS preflights (security-headers.ts, @fastify/cors): a browser sends them without the key.
  'OPTIONS *',
  'GET /openapi.json',
  'GET /api/v1/validator/pipelines',
  'GET /api/v1/validator/pipelines/:provider',
  // The docs UI (api-docs.ts, @fastify/swagger-ui): its page, the bundled assets, the document it reads.
  'GET /docs',
  'GET /docs/static/*',
  'GET /docs/static/index.html',
  'GET /docs/static/swagger-initializer.js',
  'GET /docs/json',
  'GET /docs/yaml',
  // The dashboard's page and assets (routes/ui.ts): they hold no data, which comes from the API with the key the user enters.
  'GET /ui',
  'GET /ui/*',
]);

/** Each request's X-API-Key is looked up once: the rate limiter keys on its org before auth runs (limits.ts). */
const keyOrgs = new WeakMap<FastifyRequest, Promise<string | undefined>>();

/** The org of the request's X-API-Key, undefined for an unknown or revoked key. */
export function orgOfKey(orgs: OrgStore, request: FastifyRequest, key: string): Promise<string | undefined> {
  let org = keyOrgs.get(request);
  if (!org) keyOrgs.set(request, (org = orgs.orgForKey(key)));
  return org;
}

/** An onRoute hook: a route that is neither public by the list nor guarded by an auth hook is a startup error. */
export function closedByDefault(route: { method: string | string[]; url: string; preValidation?: unknown; schema?: { hide?: boolean } }): void {
  const methods = [route.method].flat().filter((method) => method !== 'HEAD');
  const hooks = [route.preValidation].flat().filter((hook): hook is Record<symbol, unknown> => typeof hook === 'function');
  if (hooks.some((hook) => hook[AUTH] === true)) return;
  for (const method of methods) {
    if (!PUBLIC_ROUTES.has(`${method} ${route.url}`)) throw new Error(`route ${method} ${route.url} has no auth: add orgAuth or rootAuth to its preValidation, or declare it in PUBLIC_ROUTES`);
  }
}

/**
 * X-API-Key: the key's org, which must be the `{org}` of the path when there is one. Given the
 * settings, a GET of a path naming `{org}` also takes X-CA-Root-Key (without X-API-Key): the
 * operator reads any org, as the dashboard's all-orgs view does; changes stay with the org's key.
 */
export function orgAuth(orgs: OrgStore, operatorReads?: { rootApiKey: string | undefined }) {
  const root = operatorReads ? rootAuth(operatorReads.rootApiKey) : undefined;
  return authHook(async (request: FastifyRequest) => {
    const pathOrg = (request.params as { org?: string }).org;
    if (root && request.method === 'GET' && pathOrg !== undefined && request.headers['x-api-key'] === undefined && request.headers['x-ca-root-key'] !== undefined) {
      await root(request);
      request.orgSlug = pathOrg;
      return;
    }
    const key = request.headers['x-api-key'];
    if (typeof key !== 'string' || key.length === 0) throw new AuthenticationError('X-API-Key header required');
    const orgSlug = await orgOfKey(orgs, request, key);
    if (!orgSlug) throw new AuthenticationError('Invalid or revoked API key');
    if (pathOrg !== undefined && pathOrg !== orgSlug) throw new NotAllowedError(`This API key does not belong to organization ${pathOrg}`);
    request.orgSlug = orgSlug;
  });
}

/**
 * GET /metrics: METRICS_TOKEN as `Authorization: Bearer` (what Prometheus' `authorization`
 * scrape setting sends, so the scraper never holds the root key), or the root key. With
 * METRICS_PUBLIC=true, the operator's explicit choice for a port only monitoring reaches, no key.
 */
export function metricsAuth(settings: { metricsPublic: boolean; metricsToken: Secret | undefined; rootApiKey: string | undefined }) {
  const root = rootAuth(settings.rootApiKey);
  const token = settings.metricsToken ? Buffer.from(sha256(settings.metricsToken.reveal()), 'hex') : undefined;
  return authHook(async (request: FastifyRequest) => {
    if (settings.metricsPublic) return;
    const authorization = request.headers.authorization;
    if (token && typeof authorization === 'string' && authorization.startsWith('Bearer ')) {
      if (timingSafeEqual(Buffer.from(sha256(authorization.slice('Bearer '.length)), 'hex'), token)) return;
      throw new AuthenticationError('Invalid metrics token');
    }
    await root(request);
  });
}

/** X-CA-Root-Key, compared in constant time (over digests, so lengths never leak either). */
export function rootAuth(rootApiKey: string | undefined) {
  const expected = rootApiKey ? Buffer.from(sha256(rootApiKey), 'hex') : undefined;
  return authHook(async (request: FastifyRequest) => {
    const key = request.headers['x-ca-root-key'];
    if (typeof key !== 'string' || key.length === 0) throw new AuthenticationError('X-CA-Root-Key header required');
    if (!expected) throw new NotAllowedError('The admin API is disabled: CA_ROOT_API_KEY is not set');
    if (!timingSafeEqual(Buffer.from(sha256(key), 'hex'), expected)) throw new AuthenticationError('Invalid root key');
  });
}
