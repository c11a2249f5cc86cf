import type { FastifyInstance } from 'fastify';
import type { App } from '../../main/app.ts';
import { metricsAuth } from '../auth.ts';
import { fileResponse, unthrottled } from '../openapi-responses.ts';
import { withErrors } from '../schemas.ts';

/**
 * GET /metrics, the Prometheus text exposition. Closed by default: the service is
 * multi-tenant, and even without org labels its counters tell one tenant about the others'
 * activity. A scraper sends METRICS_TOKEN as a bearer token, an operator may use the root key,
 * and METRICS_PUBLIC=true opens it (see metricsAuth).
 */
export function metricsRoutes(server: FastifyInstance, app: App): void {
  server.get('/metrics', {
    schema: {
      tags: ['health'],
      summary: 'Prometheus metrics (text exposition format)',
      ...(app.settings.metricsPublic ? {} : { security: [{ metricsToken: [] }, { rootKey: [] }] }),
      description: 'For Prometheus: a bearer METRICS_TOKEN (or the root key), unless METRICS_PUBLIC=true. Orgs appear as a label only when the operator enables it.',
      response: unthrottled(withErrors({ 200: fileResponse('The metrics, in the Prometheus text exposition format', ['text/plain']) }, 401, 403)),
    },
    preValidation: metricsAuth(app.settings),
  }, async (_request, reply) => {
    const { contentType, body } = await app.metrics.scrape();
    return reply.type(contentType).send(body);
  });
}
