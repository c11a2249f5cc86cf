import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { createOrganization } from '../../main/organizations.ts';
import type { PlanLimits } from '../../store/orgs.ts';
import { rootAuth } from '../auth.ts';
import { SECURITY } from '../openapi-responses.ts';
import { CreatedKey, CreateOrgBody, OrgParams, Slug, Subscription, SubscriptionPatch, withErrors } from '../schemas.ts';

const KeyParams = Type.Object({ org: Slug, key_id: Type.String({ format: 'uuid', maxLength: 36 }) });

/** Operator endpoints (X-CA-Root-Key): organisations, their keys and subscriptions. */
export function adminRoutes(server: FastifyInstance, app: App): void {
  const rootOnly = rootAuth(app.settings.rootApiKey);
  const tags = ['admin'];
  const security = SECURITY.root;
  // Plans are those of configs/system/plans.json: an unknown one was stored as given.
  const plans = Object.keys(app.plans);
  const createBody = CreateOrgBody(plans);
  const patchBody = SubscriptionPatch(plans);

  server.post<{ Body: Static<typeof createBody> }>('/api/v1/admin/orgs', {
    schema: { tags, security, summary: 'Create an organisation; its first API key is returned once', description: 'The plan (TRIAL unless given, one of configs/system/plans.json) sets its run quotas. The API key is in this response only: the service keeps its hash.', body: createBody, response: withErrors({ 201: CreatedKey }, 400, 401, 403, 409, 413, 415) },
    preValidation: rootOnly,
  }, async (request, reply) => reply.code(201).send(await createOrganization(app, request.body)));

  server.get('/api/v1/admin/orgs', {
    schema: { tags, security, summary: 'List organisations', response: withErrors({ 200: Type.Object({ orgs: Type.Array(Type.Object({ org_slug: Type.String(), name: Type.String(), created_at: Type.String({ format: 'date-time' }) })) }) }, 401, 403) },
    preValidation: rootOnly,
  }, async () => ({ orgs: await app.orgs.list() }));

  server.get<{ Params: Static<typeof OrgParams> }>('/api/v1/admin/orgs/:org/subscription', {
    schema: { tags, security, summary: 'Subscription and quota usage', description: 'The plan, its status and limits, and the runs counted against them today, this month and now.', params: OrgParams, response: withErrors({ 200: Subscription }, 400, 401, 403, 404) },
    preValidation: rootOnly,
  }, async (request) => app.orgs.subscription(request.params.org, app.clock.now()));

  server.patch<{ Params: Static<typeof OrgParams>; Body: Static<typeof patchBody> }>('/api/v1/admin/orgs/:org/subscription', {
    schema: { tags, security, summary: 'Change plan, status or limits', params: OrgParams, body: patchBody, response: withErrors({ 200: Subscription }, 400, 401, 403, 404, 413, 415) },
    preValidation: rootOnly,
  }, async (request) => app.orgs.updateSubscription(request.params.org, request.body as Partial<PlanLimits>));

  server.post<{ Params: Static<typeof OrgParams> }>('/api/v1/admin/orgs/:org/keys', {
    schema: { tags, security, summary: 'Create an API key (returned once)', params: OrgParams, response: withErrors({ 201: CreatedKey }, 400, 401, 403, 404, 413, 415) },
    preValidation: rootOnly,
  }, async (request, reply) => reply.code(201).send({ org_slug: request.params.org, ...(await app.orgs.createKey(request.params.org)) }));

  server.delete<{ Params: Static<typeof KeyParams> }>('/api/v1/admin/orgs/:org/keys/:key_id', {
    schema: { tags, security, summary: 'Revoke an API key', description: 'The key is refused from the next request on.', params: KeyParams, response: withErrors({ 204: Type.Null({ description: 'Revoked' }) }, 400, 401, 403, 404) },
    preValidation: rootOnly,
  }, async (request, reply) => {
    await app.orgs.revokeKey(request.params.org, request.params.key_id);
    return reply.code(204).send();
  });
}
