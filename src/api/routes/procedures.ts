import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { PROCEDURE_NAME_PATTERN } from '../../procedures/procedure-name.ts';
import type { ProcedureActor } from '../../procedures/procedure-service.ts';
import { rootAuth } from '../auth.ts';
import { withErrors } from '../schemas.ts';

const Dialect = Type.Union([Type.Literal('duckdb'), Type.Literal('bigquery')], { description: 'the SQL dialect of the warehouse' });
const Hash = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of the SQL text, hex' });
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

const NameParams = Type.Object({
  name: Type.String({ pattern: PROCEDURE_NAME_PATTERN, maxLength: 128, description: 'sp_ then lowercase letters, digits and underscores, as sp_genai_1_consolidate_usage_daily' }),
});

const Procedure = Type.Object({
  name: Type.String(),
  dialect: Dialect,
  content_hash: Hash,
  source_file: Type.Union([Type.String({ description: 'the file under configs/system/procedures it was synced from' }), Type.Null()], { description: 'null when registered through the API or the CLI' }),
  registered_at: Type.String({ format: 'date-time', description: 'first registered' }),
  synced_at: Type.String({ format: 'date-time', description: 'last registered in the warehouse' }),
});

const ProcedureFile = Type.Object({
  name: Type.String(),
  domain: Type.String(),
  dialect: Dialect,
  path: Type.String({ description: 'relative to configs/system/procedures' }),
  content_hash: Hash,
  status: Type.Union(['in_sync', 'changed', 'not_registered', 'invalid'].map((s) => Type.Literal(s)), {
    description: 'in_sync: registered with this text; changed: registered with other text (a sync registers the file); not_registered; invalid: see problem',
  }),
  registered_hash: Nullable(Hash),
  problem: Nullable(Type.String()),
});

const SyncBody = Type.Object({ force: Type.Boolean({ default: false, description: 'register every file, unchanged ones too' }) }, { additionalProperties: false });

const SyncResult = Type.Object({
  dialect: Dialect,
  force: Type.Boolean(),
  created: Type.Array(Type.String(), { description: 'procedures registered for the first time' }),
  updated: Type.Array(Type.String(), { description: 'procedures whose registered text was replaced by their file' }),
  unchanged: Type.Array(Type.String(), { description: 'files already registered with the same content hash (not registered again)' }),
  failed: Type.Array(Type.Object({ name: Type.String(), path: Type.String(), reason: Type.String() }), { description: 'files refused; their registration, if any, is unchanged' }),
});

const ProcedureDetail = Type.Object({
  name: Type.String(),
  dialect: Dialect,
  runs: Type.Union([Type.Literal('registered'), Type.Literal('file')], { description: 'what a step naming this procedure runs now' }),
  sql: Type.String({ description: 'the SQL it runs' }),
  registered: Type.Union([Procedure, Type.Null()]),
  file: Type.Union([Type.Object({ path: Type.String(), content_hash: Hash, in_sync: Type.Boolean() }), Type.Null()]),
});

const PutBody = Type.Object(
  {
    // PostgreSQL text cannot hold NUL; the largest procedure file is about 30 kB.
    sql: Type.String({ minLength: 1, maxLength: 200_000, pattern: '^[^\\u0000]*$', description: 'the procedure: SQL statements separated by ;, templates {org_dataset}-style for the service’s identifiers only, $name parameters' }),
    dialect: Type.Optional(Dialect),
  },
  { additionalProperties: false },
);

const Registered = Type.Object({ procedure: Procedure, created: Type.Boolean() });
const Deleted = Type.Object({ name: Type.String(), dialect: Dialect, deleted: Type.Literal(true), runs: Type.Union([Type.Literal('file'), Type.Literal('nothing')], { description: 'what a step naming it runs from now on' }) });

/**
 * The seeds' procedure management (X-CA-Root-Key): the procedures registered in the warehouse,
 * the files they come from, sync, and one procedure's text, replacement and removal
 * (docs/procedures.md). The SQL given here is the operator's: no org's caller reaches it.
 */
export function procedureRoutes(server: FastifyInstance, app: App): void {
  const rootOnly = rootAuth(app.settings.rootApiKey);
  const tags = ['procedures'];
  const security = [{ rootKey: [] }];
  const by = (request: FastifyRequest): ProcedureActor => ({ actor: 'root', via: 'api', requestId: request.id });

  server.get('/api/v1/procedures', {
    schema: { tags, security, summary: 'Procedures registered in the warehouse', response: withErrors({ 200: Type.Object({ dialect: Dialect, procedures: Type.Array(Procedure) }) }, 401, 403) },
    preValidation: rootOnly,
  }, async () => ({ dialect: app.procedures.dialect, procedures: await app.procedures.list() }));

  server.get('/api/v1/procedures/files', {
    schema: { tags, security, summary: 'Procedure files of the warehouse’s dialect under configs/system/procedures, and whether each is in sync', response: withErrors({ 200: Type.Object({ dialect: Dialect, files: Type.Array(ProcedureFile) }) }, 401, 403) },
    preValidation: rootOnly,
  }, async () => ({ dialect: app.procedures.dialect, files: await app.procedures.files() }));

  server.post<{ Body: Static<typeof SyncBody> }>('/api/v1/procedures/sync', {
    schema: { tags, security, summary: 'Register the procedure files whose content hash changed (every file with force)', body: SyncBody, response: withErrors({ 200: SyncResult }, 400, 401, 403, 413, 415) },
    preValidation: rootOnly,
  }, async (request) => app.procedures.sync({ force: request.body.force }, by(request)));

  server.get<{ Params: Static<typeof NameParams> }>('/api/v1/procedures/:name', {
    schema: { tags, security, summary: 'A procedure: the SQL steps run, its registration and its file', params: NameParams, response: withErrors({ 200: ProcedureDetail }, 400, 401, 403, 404) },
    preValidation: rootOnly,
  }, async (request) => app.procedures.show(request.params.name));

  server.post<{ Params: Static<typeof NameParams>; Body: Static<typeof PutBody> }>('/api/v1/procedures/:name', {
    schema: {
      tags,
      security,
      summary: 'Create or replace a procedure from SQL; checked in the warehouse’s dialect before it is registered',
      params: NameParams,
      body: PutBody,
      response: withErrors({ 200: Registered, 201: Registered }, 400, 401, 403, 413, 415, 422),
    },
    preValidation: rootOnly,
  }, async (request, reply) => {
    const registered = await app.procedures.put(request.params.name, request.body, by(request));
    return reply.code(registered.created ? 201 : 200).send(registered);
  });

  server.delete<{ Params: Static<typeof NameParams> }>('/api/v1/procedures/:name', {
    schema: { tags, security, summary: 'Remove a registered procedure; steps naming it run its file again, if it has one', params: NameParams, response: withErrors({ 200: Deleted }, 400, 401, 403, 404) },
    preValidation: rootOnly,
  }, async (request) => app.procedures.remove(request.params.name, by(request)));
}
