import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { rootAuth } from '../auth.ts';
import { SECURITY } from '../openapi-responses.ts';
import { OrgParams, Slug, withErrors } from '../schemas.ts';

const ProviderParams = Type.Object({ org: Slug, provider: Type.String({ pattern: '^[a-z][a-z0-9_]{1,40}$', maxLength: 41 }) });
const CredentialQuery = Type.Object({ credential_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })) });
const PutBody = Type.Object(
  {
    secret: Type.String({ minLength: 1, maxLength: 16_384, description: 'the API key or service-account JSON; never returned' }),
    credential_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' })),
    metadata: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' }), Type.Unknown(), { maxProperties: 50, description: 'non-secret settings such as base_url' })),
  },
  { additionalProperties: false },
);
const CredentialInfo = Type.Object({
  provider: Type.String(),
  credential_id: Type.String(),
  version: Type.Integer(),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  created_at: Type.String({ format: 'date-time' }),
  rotated_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

/** Operators set, rotate, list and delete an org's provider credentials. The secret goes in, never out. */
export function credentialRoutes(server: FastifyInstance, app: App): void {
  const rootOnly = rootAuth(app.settings.rootApiKey);
  const tags = ['credentials'];
  const security = SECURITY.root;

  server.put<{ Params: Static<typeof ProviderParams>; Body: Static<typeof PutBody> }>('/api/v1/admin/orgs/:org/credentials/:provider', {
    schema: { tags, security, summary: 'Set or rotate a provider credential (envelope-encrypted)', description: 'The secret is sealed and never returned; a PUT of an existing provider and credential_id rotates it (version + 1). A pipeline the org can now run gets its schedule.', params: ProviderParams, body: PutBody, response: withErrors({ 200: Type.Intersect([CredentialInfo, Type.Object({ rotated: Type.Boolean() })]) }, 400, 401, 403, 404, 413, 415) },
    preValidation: rootOnly,
  }, async (request) => {
    await app.orgs.subscription(request.params.org);
    const stored = await app.credentials.set(request.params.org, { provider: request.params.provider, credentialId: request.body.credential_id, secret: request.body.secret, metadata: request.body.metadata });
    // A pipeline the org can now run gets its schedule.
    await app.scheduler.sync(request.params.org);
    return stored;
  });

  server.get<{ Params: Static<typeof OrgParams> }>('/api/v1/admin/orgs/:org/credentials', {
    schema: { tags, security, summary: 'List credentials (metadata only)', params: OrgParams, response: withErrors({ 200: Type.Object({ credentials: Type.Array(CredentialInfo) }) }, 400, 401, 403) },
    preValidation: rootOnly,
  }, async (request) => ({ credentials: await app.credentials.list(request.params.org) }));

  server.delete<{ Params: Static<typeof ProviderParams>; Querystring: Static<typeof CredentialQuery> }>('/api/v1/admin/orgs/:org/credentials/:provider', {
    schema: { tags, security, summary: 'Delete a credential', description: 'credential_id: which of the provider’s credentials (default: default).', params: ProviderParams, querystring: CredentialQuery, response: withErrors({ 204: Type.Null({ description: 'Deleted' }) }, 400, 401, 403, 404) },
    preValidation: rootOnly,
  }, async (request, reply) => {
    await app.credentials.delete(request.params.org, request.params.provider, request.query.credential_id);
    return reply.code(204).send();
  });
}
