import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { InputError } from '../../shared/errors.ts';
import type { AuditCursor, AuditFilter, AuditOutcome, AuditRow } from '../../store/audit.ts';
import { orgAuth, rootAuth } from '../auth.ts';
import { OrgParams, Slug, withErrors } from '../schemas.ts';

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(schema: T) => Type.Union([schema, Type.Null()]);

const filters = {
  action: Type.Optional(Type.String({ pattern: '^[a-z_]+(\\.[a-z_]+)*(\\.\\*)?$', maxLength: 100, description: 'an action such as credential.rotate, or a prefix such as credential.*' })),
  actor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_:.@-]+$', maxLength: 100, description: 'root, key:<key prefix>, cli:<user>, engine, anonymous' })),
  outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('pending')])),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'entries at or after this instant' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'entries before this instant' })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 100, description: 'next_cursor of the previous page' })),
};
const OrgAuditQuery = Type.Object(filters, { additionalProperties: false });
const AdminAuditQuery = Type.Object({ org: Type.Optional(Slug), ...filters }, { additionalProperties: false });

const Entry = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time', description: 'the database clock' }),
  org_slug: Nullable(Type.String()),
  actor: Type.String(),
  actor_org: Nullable(Type.String()),
  via: Type.String({ description: 'api, cli or engine' }),
  action: Type.String(),
  target_id: Nullable(Type.String()),
  request_id: Nullable(Type.String()),
  outcome: Type.String({ description: 'success, failure, or pending (the action ran, its end was not recorded)' }),
  status: Nullable(Type.Integer()),
  error_code: Nullable(Type.String()),
  run_id: Nullable(Type.String()),
  step_id: Nullable(Type.String()),
  details: Type.Record(Type.String(), Type.Unknown()),
});
const AuditPage = Type.Object({ entries: Type.Array(Entry), next_cursor: Nullable(Type.String()) });

/** The audit log (docs/audit.md): every org's for the operator, an org's own with its key. */
export function auditRoutes(server: FastifyInstance, app: App): void {
  const tags = ['audit'];

  server.get<{ Querystring: Static<typeof AdminAuditQuery> }>('/api/v1/admin/audit', {
    schema: { tags, security: [{ rootKey: [] }], summary: 'Admin and credential actions of every org, newest first; paged by next_cursor', querystring: AdminAuditQuery, response: withErrors({ 200: AuditPage }, 400, 401, 403) },
    preValidation: rootAuth(app.settings.rootApiKey),
  }, async (request) => page(app, request.query.org, request.query, false, (row) => row));

  server.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof OrgAuditQuery> }>('/api/v1/audit/:org', {
    schema: { tags, security: [{ apiKey: [] }], summary: 'Admin and credential actions on this org, newest first; paged by next_cursor', params: OrgParams, querystring: OrgAuditQuery, response: withErrors({ 200: AuditPage }, 400, 401, 403) },
    preValidation: orgAuth(app.orgs),
  }, async (request) => {
    const own = request.params.org;
    // An attempt on this org with another org's key is shown, but not whose key it was (nor found by it).
    return page(app, own, request.query, true, (row) => (row.actor_org !== null && row.actor_org !== own ? { ...row, actor: 'key:another-org', actor_org: null } : row));
  });
}

async function page(app: App, orgSlug: string | undefined, query: Static<typeof OrgAuditQuery>, ownActorsOnly: boolean, shown: (row: AuditRow) => AuditRow) {
  const filter: AuditFilter = {
    action: query.action,
    actor: query.actor,
    ownActorsOnly,
    outcome: query.outcome as AuditOutcome | undefined,
    since: query.since === undefined ? undefined : new Date(query.since),
    until: query.until === undefined ? undefined : new Date(query.until),
    before: query.cursor === undefined ? undefined : decodeCursor(query.cursor),
    limit: query.limit,
  };
  if (filter.since && filter.until && filter.since >= filter.until) throw new InputError('since must be before until', { field: 'since' });
  const rows = await app.audit.list(orgSlug, filter);
  const last = rows.length === query.limit ? rows.at(-1) : undefined;
  return { entries: rows.map((row) => present(shown(row))), next_cursor: last ? encodeCursor(last) : null };
}

function present(row: AuditRow) {
  const { created_at: at, ...rest } = row;
  return { ...rest, at: at.toISOString() };
}

function encodeCursor(row: AuditCursor): string {
  return Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): AuditCursor {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  const n = Number(id);
  if (Number.isNaN(createdAt.getTime()) || !Number.isSafeInteger(n) || n <= 0) throw new InputError('cursor is not one this API returned', { field: 'cursor' });
  return { created_at: createdAt, id: n };
}
