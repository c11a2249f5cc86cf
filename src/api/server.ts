import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { App } from '../main/app.ts';
import { registerApiDocs } from './api-docs.ts';
import { closedByDefault } from './auth.ts';
import { registerLimits, trustProxy } from './limits.ts';
import { registerSecurityHeaders } from './security-headers.ts';
import { registerAudit } from './audit.ts';
import { toHttpError } from './error-response.ts';
import { unthrottled } from './openapi-responses.ts';
import { requestValidatorCompiler } from './request-validation.ts';
import { Health, withErrors } from './schemas.ts';
import { adminRoutes } from './routes/admin.ts';
import { procedureRoutes } from './routes/procedures.ts';
import { auditRoutes } from './routes/audit.ts';
import { credentialRoutes } from './routes/credentials.ts';
import { focusRoutes } from './routes/focus.ts';
import { costSummaryRoutes } from './routes/cost-summary.ts';
import { uiRoutes } from './routes/ui.ts';
import { subscriptionPlanRoutes } from './routes/subscription-plans.ts';
import { logRoutes } from './routes/logs.ts';
import { pipelineRoutes } from './routes/pipelines.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { backfillRoutes } from './routes/backfills.ts';
import { alertRoutes } from './routes/alerts.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { validatorRoutes } from './routes/validator.ts';

/** Builds the HTTP API without listening, so tests drive it with inject(). */
export async function buildServer(app: App): Promise<FastifyInstance> {
  const sendError = (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const http = toHttpError(error);
    if (http.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ status: http.status, code: http.code }, http.message);
    return reply
      .code(http.status)
      .headers(http.headers ?? {})
      .send({ error: { code: http.code, message: http.message, ...http.details }, request_id: request.id });
  };
  const server = Fastify({
    loggerInstance: app.logger as FastifyBaseLogger,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,100}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: app.settings.bodyLimitBytes,
    trustProxy: trustProxy(app.settings),
    // Errors Fastify raises before routing (a malformed %-escape, a path parameter longer than
    // maxParamLength) in the project's shape rather than Fastify's, which echoes the URL.
    frameworkErrors: (error, request, reply) => {
      reply.header('x-request-id', request.id);
      return sendError(error, request, reply);
    },
  });
  server.setValidatorCompiler(requestValidatorCompiler());
  // Before any route: each one is checked as it is added (auth.ts).
  server.addHook('onRoute', closedByDefault);
  // Before any route too: the rate limits attach to each route as it is added (limits.ts).
  await registerSecurityHeaders(server, app.settings);
  await registerLimits(server, app);
  // Before any route too: admin and credential actions are recorded by their declaration there.
  registerAudit(server, app);

  server.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  server.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  server.setNotFoundHandler((request, reply) => {
    // The path is named only when it is plain: an unknown URL may be anything a client sent.
    const path = request.url.split('?')[0] ?? '';
    const named = /^[A-Za-z0-9/_-]{1,200}$/.test(path) ? ` ${request.method} ${path}` : ' for this method and path';
    return reply.code(404).send({ error: { code: 'not_found', message: `No route${named}` }, request_id: request.id });
  });

  await registerApiDocs(server);

  server.get('/health', {
    schema: { tags: ['health'], summary: 'Control plane and warehouse reachable', description: 'For load balancers and probes: 503 with the same body when a check fails. Never rate limited.', response: unthrottled(withErrors({ 200: Health, 503: { ...Health, description: 'Degraded' } })) },
  }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    await app.controlPlane.db.query('SELECT 1').then(() => (checks.control_plane = 'ok'), () => (checks.control_plane = 'unreachable'));
    if (app.warehouse) await app.warehouse.health().then(() => (checks.warehouse = 'ok'), () => (checks.warehouse = 'unreachable'));
    const healthy = Object.values(checks).every((check) => check === 'ok');
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'degraded', checks, pipelines: app.pipelines.list().length });
  });
  server.get('/openapi.json', { schema: { hide: true } }, async () => server.swagger());
  metricsRoutes(server, app);

  validatorRoutes(server, app);
  pipelineRoutes(server, app);
  scheduleRoutes(server, app);
  backfillRoutes(server, app);
  alertRoutes(server, app);
  notificationRoutes(server, app);
  logRoutes(server, app);
  focusRoutes(server, app);
  costSummaryRoutes(server, app);
  uiRoutes(server);
  // In a scope of its own: only this route takes text/csv, and 10 MB bodies.
  await server.register(async (scope) => subscriptionPlanRoutes(scope, app));
  adminRoutes(server, app);
  procedureRoutes(server, app);
  auditRoutes(server, app);
  credentialRoutes(server, app);
  return server;
}
