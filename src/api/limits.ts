import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import type { Settings } from '../config/settings.ts';
import type { App } from '../main/app.ts';
import { RateLimitedError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { orgOfKey, rootAuth } from './auth.ts';

/**
 * Probes and scrapes are never throttled: a 429 would fail a liveness probe (a restart) or
 * leave a gap in the metrics exactly when the service is busiest. /health costs one SELECT 1 and
 * /metrics is closed behind its token (routes/metrics.ts).
 */
const UNLIMITED_ROUTES: ReadonlySet<string> = new Set(['/health', '/metrics']);

/**
 * Nor are the dashboard's and the docs' pages and files: they hold no data and cost no query
 * (what they show comes from the API, limited), and one dashboard load is a dozen files, so
 * counting them would spend a tenth of an address's minute per page and break the page for users
 * behind one NAT.
 */
const STATIC_PREFIXES = ['/ui', '/docs'];

function unlimited(request: FastifyRequest): boolean {
  const url = request.routeOptions.url ?? '';
  return UNLIMITED_ROUTES.has(url) || STATIC_PREFIXES.some((prefix) => url === prefix || url.startsWith(`${prefix}/`));
}

/** The operator's own requests (a valid X-CA-Root-Key) are not a tenant's: only the global limit counts them. */
const OPERATOR = 'operator';
const UNLIMITED = 'unlimited';

const MINUTE_MS = 60_000;

/** A Redis on the same network answers in about a millisecond; a quarter second is an outage. */
const COMMAND_TIMEOUT_MS = 250;

/**
 * Request rate limits (docs/limits.md), checked when a request has been routed, before its body
 * is read. First the client's limit, RATE_LIMIT_REQUESTS_PER_MINUTE: a valid X-API-Key counts
 * for its org (the `{org}` of every path that key may use, so nobody without an org's key can
 * spend that org's budget); a request without a valid key counts for its client address (behind
 * a load balancer, see TRUST_PROXY). Then RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE over everything
 * the client limits let through, so one busy org is refused before it can use up everyone's
 * share. CORS preflights are answered before either (by @fastify/cors, in onRequest).
 *
 * With REDIS_URL the counters live in Redis and every process shares them; otherwise each
 * process counts its own. When Redis does not answer, requests are let through unlimited
 * (and that is logged): the limits protect the service, and must not be what takes it down.
 */
export async function registerLimits(server: FastifyInstance, app: App): Promise<void> {
  const { settings } = app;
  if (!settings.rateLimitEnabled) return;
  const redis = settings.redisUrl ? await sharedCounters(settings.redisUrl.reveal(), app.logger) : undefined;
  if (redis) server.addHook('onClose', async () => redis.disconnect());
  const store = (scope: string) => (redis ? { redis, nameSpace: `${settings.rateLimitRedisPrefix}${scope}:` } : {});
  const isRoot = rootAuth(settings.rootApiKey);

  const clientKey = async (request: FastifyRequest): Promise<string> => {
    // Decided before any key lookup: an unlimited route costs none.
    if (unlimited(request)) return UNLIMITED;
    const apiKey = request.headers['x-api-key'];
    if (typeof apiKey === 'string' && apiKey.length > 0) {
      // A failed lookup falls back to the address; auth then answers it as it always does.
      const org = await orgOfKey(app.orgs, request, apiKey).catch(() => undefined);
      if (org) return `org:${org}`;
    } else if (request.headers['x-ca-root-key'] !== undefined && (await isRoot(request).then(() => true, () => false))) {
      return OPERATOR;
    }
    return `ip:${normalizeIP(request.ip)}`;
  };

  await server.register(rateLimit, {
    max: settings.rateLimitPerOrgPerMinute,
    timeWindow: MINUTE_MS,
    keyGenerator: clientKey,
    allowList: (_request, key) => key === OPERATOR || key === UNLIMITED,
    skipOnError: true,
    // Enough for every org and address of a busy minute; evicting one only forgets its count.
    cache: 100_000,
    errorResponseBuilder: (_request, context) =>
      refused('org_requests_per_minute', context.ttl, `More than ${context.max} requests per minute for this organization (or, without a valid API key, from this address)`),
    ...store('client'),
  });
  await server.register(rateLimit, {
    max: settings.rateLimitGlobalPerMinute,
    timeWindow: MINUTE_MS,
    keyGenerator: () => 'all',
    allowList: unlimited,
    skipOnError: true,
    // The X-RateLimit-* headers describe the client's own limit; this one only says when to retry.
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (_request, context) => refused('global_requests_per_minute', context.ttl, `The service is taking more than ${context.max} requests per minute from all clients`),
    ...store('global'),
  });
}

/** TRUST_PROXY as Fastify takes it (its types have no hop count, so a hop count is a function of the hop). */
export function trustProxy(settings: Settings): boolean | string[] | ((address: string, hop: number) => boolean) {
  const trusted = settings.trustProxy;
  if (typeof trusted === 'number') return (_address, hop) => hop < trusted;
  return typeof trusted === 'boolean' ? trusted : [...trusted];
}

function refused(limit: RateLimitedError['limit'], ttlMs: number, what: string): RateLimitedError {
  const retryAfterSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
  return new RateLimitedError(`Rate limit exceeded: ${what}; retry in ${retryAfterSeconds} s`, { limit, retryAfterSeconds });
}

/**
 * The Redis client of the counters. A command fails at once while disconnected (no offline
 * queue) and within COMMAND_TIMEOUT_MS when Redis hangs, so an unreachable Redis adds at most
 * that to a request; the client keeps reconnecting on its own. Outages and recoveries are
 * logged once each, not on every reconnect attempt. Returned once connected or once the first
 * attempt failed, so a process that can reach Redis limits its very first requests too.
 */
async function sharedCounters(url: string, logger: Logger): Promise<Redis> {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, connectTimeout: 2000, commandTimeout: COMMAND_TIMEOUT_MS, socketTimeout: 2000, connectionName: 'finops-pipeline-rate-limit' });
  let reachable: boolean | undefined;
  redis.on('ready', () => {
    if (reachable === false) logger.info('rate limit store reachable again: limits enforced');
    reachable = true;
  });
  redis.on('error', (error: Error) => {
    if (reachable !== false) logger.warn({ err: { message: error.message } }, 'rate limit store (REDIS_URL) unreachable: requests are not rate limited until it answers');
    reachable = false;
  });
  await new Promise<void>((resolve) => {
    redis.once('ready', resolve);
    redis.once('error', () => resolve());
  });
  return redis;
}
