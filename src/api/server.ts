import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { App } from '../main/app.ts';
import { toHttpError } from './error-response.ts';
import { adminRoutes } from './routes/admin.ts';
import { credentialRoutes } from './routes/credentials.ts';
import { focusRoutes } from './routes/focus.ts';
import { subscriptionPlanRoutes } from './routes/subscription-plans.ts';
import { logRoutes } from './routes/logs.ts';
import { pipelineRoutes } from './routes/pipelines.ts';
import { validatorRoutes } from './routes/validator.ts';

/** Builds the HTTP API without listening, so tests drive it with inject(). */
export async function buildServer(app: App): Promise<FastifyInstance> {
  const server = Fastify({
    loggerInstance: app.logger as FastifyBaseLogger,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,100}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: 1_048_576,
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  });

  server.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  server.setErrorHandler((error, request, reply) => {
    const http = toHttpError(error);
    if (http.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ status: http.status, code: http.code }, http.message);
    return reply
      .code(http.status)
      .headers(http.headers ?? {})
      .send({ error: { code: http.code, message: http.message, ...http.details }, request_id: request.id });
  });
  server.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'not_found', message: `No route ${request.method} ${request.url.split('?')[0]}` }, request_id: request.id }),
  );

  await server.register(swagger, {
    openapi: {
      info: { title: 'FinOps pipeline service', version: '1.0.0', description: 'Runs cost pipelines into FOCUS 1.3 tables.' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          rootKey: { type: 'apiKey', in: 'header', name: 'X-CA-Root-Key' },
        },
      },
    },
  });

  server.get('/health', { schema: { tags: ['health'], summary: 'Control plane and warehouse reachable' } }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    await app.controlPlane.db.query('SELECT 1').then(() => (checks.control_plane = 'ok'), () => (checks.control_plane = 'unreachable'));
    if (app.warehouse) await app.warehouse.health().then(() => (checks.warehouse = 'ok'), () => (checks.warehouse = 'unreachable'));
    const healthy = Object.values(checks).every((check) => check === 'ok');
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'degraded', checks, pipelines: app.pipelines.list().length });
  });
  server.get('/openapi.json', { schema: { hide: true } }, async () => server.swagger());

  validatorRoutes(server, app);
  pipelineRoutes(server, app);
  logRoutes(server, app);
  focusRoutes(server, app);
  subscriptionPlanRoutes(server, app);
  adminRoutes(server, app);
  credentialRoutes(server, app);
  return server;
}
