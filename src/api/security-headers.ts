import type { FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { Settings } from '../config/settings.ts';

/**
 * The Content-Security-Policy of every response (docs/limits.md). The dashboard (/ui) and the
 * API docs (/docs) are pages of this server whose scripts, styles, fonts and API calls are all
 * same-origin, so nothing else is allowed: no inline or foreign script, no plugin, no framing
 * by another site. Two departures from helmet's defaults, each for a page of ours: styles may
 * be inline (style attributes in the dashboard's markup; a style cannot run code), and
 * upgrade-insecure-requests is left out, which would make a page served over plain HTTP (a
 * development or LAN host) ask for its own assets over HTTPS and get none. A route may set a
 * stricter policy of its own (the docs do).
 */
export const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'unsafe-inline'"],
};

/** Request headers a browser page of another origin may send (its preflight is answered for these). */
const ALLOWED_HEADERS = ['content-type', 'x-api-key', 'x-ca-root-key', 'x-request-id'];
/** Response headers such a page may read: the request id, when to retry, its rate limit, a download's file name. */
const EXPOSED_HEADERS = ['x-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'content-disposition'];

/**
 * Security headers (helmet) on every response, and CORS for the origins of CORS_ORIGINS only:
 * without it no other origin's page may read a response. Both answer in onRequest, so a
 * preflight never reaches the rate limits or auth (a browser sends it without the key).
 */
export async function registerSecurityHeaders(server: FastifyInstance, settings: Settings): Promise<void> {
  await server.register(helmet, { contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY } });
  if (settings.corsOrigins.length === 0) return;
  await server.register(cors, {
    origin: settings.corsOrigins.includes('*') ? '*' : [...settings.corsOrigins],
    credentials: settings.corsAllowCredentials,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    // Ten minutes of cached preflights (Chromium caps it at two hours): one preflight per route and page, not per call.
    maxAge: 600,
  });
}
