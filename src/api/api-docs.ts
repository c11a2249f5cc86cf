import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ErrorResponse } from './openapi-responses.ts';

/** Where the docs UI is served; its routes are declared public in auth.ts. */
export const DOCS_PREFIX = '/docs';

/** The operations' tags, in the order the UI shows them. */
export const API_TAGS = [
  { name: 'pipelines', description: 'Request runs, read and cancel them; the org’s schedules' },
  { name: 'logs', description: 'A run’s log lines, steps, transitions, quality results and whole trace' },
  { name: 'backfills', description: 'One child run per day over a range of days' },
  { name: 'focus', description: 'The org’s FOCUS 1.3 rows as a file' },
  { name: 'alerts', description: 'Cost rules over the FOCUS table and the alerts they raise' },
  { name: 'notifications', description: 'Channels (email, Slack, signed webhooks), digests and delivery history' },
  { name: 'subscriptions', description: 'The org’s SaaS subscription plans' },
  { name: 'discovery', description: 'The pipelines that can be run, with their parameters (no key)' },
  { name: 'admin', description: 'Operators (root key): organizations, API keys, subscriptions and quotas' },
  { name: 'credentials', description: 'Operators (root key): an org’s provider credentials; secrets go in, never out' },
  { name: 'scheduler', description: 'Operators (root key): schedules of every org, their tick queue, triggering' },
  { name: 'procedures', description: 'Operators (root key): SQL procedures registered in the warehouse from configs/system/procedures' },
  { name: 'audit', description: 'Who did what, when, with which outcome: admin, credential, schedule, notification and procedure changes' },
  { name: 'health', description: 'Liveness and Prometheus metrics' },
];

/**
 * The docs page's Content-Security-Policy, same-origin only: the UI's script, styles, fonts
 * and the document all come from this server (the bundle @fastify/swagger-ui ships), the logo
 * is a data: image, and the validator badge stays off (validatorUrl unset), so nothing reaches
 * a CDN or validator.swagger.io. Set on the docs routes only, over any policy set for the whole server.
 */
const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
].join('; ');

/**
 * The OpenAPI document, built by @fastify/swagger from the routes' schemas (so it must be
 * registered before them), and the Swagger UI reading it at /docs.
 */
export async function registerApiDocs(server: FastifyInstance): Promise<void> {
  await server.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema 2020-12, as TypeBox writes them (type null, propertyNames); 3.0 has neither.
      openapi: '3.1.0',
      info: { title: 'FinOps pipeline service', version: '1.0.0', description: 'Runs cost pipelines into FOCUS 1.3 tables. Every error is `{ "error": { "code", "message", ... }, "request_id" }`.' },
      tags: API_TAGS,
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An organization’s API key: it reaches that organization only' },
          rootKey: { type: 'apiKey', in: 'header', name: 'X-CA-Root-Key', description: 'The operator’s CA_ROOT_API_KEY' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, for GET /metrics only' },
        },
      },
    },
    // Shared schemas under their own names (components.schemas.ErrorResponse), not def-0.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  server.addSchema(ErrorResponse);
  await server.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    staticCSP: DOCS_CSP,
    // BaseLayout: no top bar, whose URL box would browse other documents and whose SVG logo carries an inline <style> the CSP refuses.
    uiConfig: { layout: 'BaseLayout', deepLinking: true, displayRequestDuration: true },
    theme: { title: 'FinOps pipeline service API' },
  });
}
