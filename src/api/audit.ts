import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UnavailableError } from '../shared/errors.ts';
import { apiKeyPrefix } from '../shared/ids.ts';
import type { Logger } from '../shared/logger.ts';
import type { AuditEntry, AuditStore } from '../store/audit.ts';

/** What a declaration reads its target from. `body` is given only once the route's schema validated it. */
export interface AuditContext {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: Record<string, unknown> | undefined;
  /** The reply's object on success (a created key's id, a credential's version); undefined before and on failure. */
  response: Record<string, unknown> | undefined;
  status: number | undefined;
}

export interface AuditedRoute {
  /** A stable name, `<resource>.<verb>`; a function when only the end tells (a set that was a rotation). */
  action: string | ((context: AuditContext) => string);
  /** The org and the resource acted on. Values that are not plain identifiers are dropped. */
  target: (context: AuditContext) => { org?: unknown; id?: unknown };
  /** Non-secret facts, picked field by field: never a body as a whole. */
  details?: (context: AuditContext) => Record<string, unknown>;
}

const org = ({ params }: AuditContext) => params.org;
const byParam = (name: string) => (context: AuditContext) => ({ org: org(context), id: context.params[name] });
const orgOnly = (context: AuditContext) => ({ org: org(context) });
/** Which fields a change named (their values may be long or personal: a schedule's parameters). */
const fieldsOf = ({ body }: AuditContext, except?: string) => (body ? { fields: Object.keys(body).filter((key) => key !== except) } : {});

/**
 * Every mutating route that is an admin or credential action, keyed `METHOD url` as Fastify
 * registers it, with how its target is read. The one place to declare one: the hooks below
 * apply it, no route file changes. test/api/audit-routes.test.ts fails for a mutating route
 * that is in neither this map nor NOT_AUDITED.
 */
export const AUDITED_ROUTES: Readonly<Record<string, AuditedRoute>> = {
  'POST /api/v1/admin/orgs': {
    action: 'org.create',
    target: ({ body, response }) => ({ org: body?.org_slug ?? response?.org_slug, id: body?.org_slug }),
    details: ({ body, response }) => ({ plan: body?.plan, key_id: response?.key_id, key_prefix: response?.key_prefix }),
  },
  'PATCH /api/v1/admin/orgs/:org/subscription': { action: 'subscription.update', target: orgOnly, details: ({ body }) => ({ changes: body }) },
  'POST /api/v1/admin/orgs/:org/keys': { action: 'key.create', target: ({ params, response }) => ({ org: params.org, id: response?.key_id }), details: ({ response }) => ({ key_prefix: response?.key_prefix }) },
  'DELETE /api/v1/admin/orgs/:org/keys/:key_id': { action: 'key.revoke', target: byParam('key_id') },

  'PUT /api/v1/admin/orgs/:org/credentials/:provider': {
    action: ({ response }) => (response?.rotated === true ? 'credential.rotate' : 'credential.set'),
    target: ({ params, body }) => ({ org: params.org, id: `${String(params.provider)}/${String(body?.credential_id ?? 'default')}` }),
    details: ({ response }) => ({ version: response?.version }),
  },
  'DELETE /api/v1/admin/orgs/:org/credentials/:provider': { action: 'credential.delete', target: ({ params, query }) => ({ org: params.org, id: `${String(params.provider)}/${String(query.credential_id ?? 'default')}` }) },

  'PUT /api/v1/scheduler/schedule/:schedule_id': { action: 'schedule.update', target: ({ params, response }) => ({ org: response?.org_slug, id: params.schedule_id }), details: fieldsOf },
  'PUT /api/v1/pipelines/schedules/:org': { action: 'schedule.update', target: ({ params, body }) => ({ org: params.org, id: body?.schedule_id }), details: (context) => fieldsOf(context, 'schedule_id') },
  'DELETE /api/v1/pipelines/schedules/:org/:schedule_id': { action: 'schedule.delete', target: byParam('schedule_id') },

  'POST /api/v1/pipelines/backfill/:org/:provider/:domain/:pipeline': {
    action: 'backfill.create',
    target: ({ params, response }) => ({ org: params.org, id: response?.backfill_id }),
    details: ({ params, body }) => (body ? { route: `${String(params.provider)}/${String(params.domain)}/${String(params.pipeline)}`, start_date: body.start_date, end_date: body.end_date, mode: body.mode } : {}),
  },
  'POST /api/v1/pipelines/backfill/:org/:backfill_id/cancel': { action: 'backfill.cancel', target: byParam('backfill_id') },
  'POST /api/v1/pipelines/cancel/:org/:run_id': { action: 'run.cancel', target: byParam('run_id') },

  'PUT /api/v1/notifications/:org/settings': { action: 'notification.settings.update', target: orgOnly, details: fieldsOf },
  'PUT /api/v1/notifications/:org/channels/:name': {
    action: 'notification.channel.set',
    target: byParam('name'),
    // Never the URL or the secret: the kind, which events it takes, and whether it is new.
    details: ({ body, status }) => ({
      kind: body?.kind,
      events: Array.isArray(body?.events) ? body.events.map((route) => (route as { kind?: unknown }).kind) : undefined,
      created: status === 201 ? true : status === 200 ? false : undefined,
    }),
  },
  'DELETE /api/v1/notifications/:org/channels/:name': { action: 'notification.channel.delete', target: byParam('name') },
  'POST /api/v1/notifications/:org/test': { action: 'notification.channel.test', target: ({ params, body }) => ({ org: params.org, id: body?.channel }) },

  'POST /api/v1/alerts/:org/rules': { action: 'alert_rule.create', target: ({ params, response }) => ({ org: params.org, id: response?.rule_id }), details: ({ body }) => ({ name: body?.name, kind: body?.kind }) },
  'PUT /api/v1/alerts/:org/rules/:rule_id': { action: 'alert_rule.replace', target: byParam('rule_id'), details: ({ body }) => ({ kind: body?.kind }) },
  'PATCH /api/v1/alerts/:org/rules/:rule_id': { action: 'alert_rule.update', target: byParam('rule_id'), details: fieldsOf },
  'DELETE /api/v1/alerts/:org/rules/:rule_id': { action: 'alert_rule.delete', target: byParam('rule_id') },

  'PUT /api/v1/subscriptions/plans/:org': { action: 'saas_plans.replace', target: orgOnly, details: ({ response }) => ({ rows: response?.rows }) },

  // The request; each registration it changed is an entry of its own, with the same request id
  // (procedure.create, .replace, .delete: src/procedures/procedure-audit.ts). Procedures are the service's, of no org.
  'POST /api/v1/procedures/sync': { action: 'procedure.sync', target: () => ({}), details: ({ body }) => ({ force: body?.force }) },
  'POST /api/v1/procedures/:name': { action: 'procedure.put', target: ({ params }) => ({ id: params.name }), details: ({ body, status }) => ({ dialect: body?.dialect, created: status === 201 ? true : status === 200 ? false : undefined }) },
  'DELETE /api/v1/procedures/:name': { action: 'procedure.remove', target: ({ params }) => ({ id: params.name }) },
};

/** Mutating routes that are not admin actions, each with why (the test requires a reason). */
export const NOT_AUDITED: Readonly<Record<string, string>> = {
  'POST /api/v1/pipelines/run/:org/:provider/:domain/:pipeline': 'a run is its own record: pipeline_runs (created_by, trigger) and its transitions',
  'POST /api/v1/scheduler/trigger': 'called by Cloud Scheduler every minute; each run it enqueues is recorded as a run with trigger schedule',
  'POST /api/v1/scheduler/process-queue': 'called by Cloud Scheduler; executes queued runs, changes no setting',
  'POST /api/v1/scheduler/queue/process': 'called by Cloud Scheduler; executes queued runs, changes no setting',
  'POST /api/v1/alerts/:org/evaluate': 'measures spend against the rules, changes none; the alerts it opens are their own record',
};

/** Written per request between the hooks. */
interface AuditState {
  entry: AuditEntry;
  /** The pending row, once the handler was reached. */
  id?: number;
  /** The pending row could not be written: the request was refused, and that was logged. */
  refused?: boolean;
  response?: Record<string, unknown>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every POST, PUT, PATCH and DELETE route registered, `METHOD url`: what the audit declarations must cover. */
    mutatingRoutes: readonly string[];
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
type RouteHooks = Record<'onRequest' | 'preHandler' | 'preSerialization' | 'onSend', unknown>;

/**
 * Applies AUDITED_ROUTES (registered before the routes, in server.ts): each audited route gets
 * the hooks below as its own, the others none, so a GET pays nothing. An action that reaches
 * its handler is written first as `pending` and refused with 503 when that row cannot be
 * written: no admin action runs unrecorded (fail closed). Its outcome is written in onSend,
 * before the response leaves, so a caller that saw a success can read its entry. A request
 * refused before its handler (401, 403, 400) is written once, in onSend. A failed write after
 * the action ran cannot undo it: it is logged as an error with the whole entry.
 */
export function registerAudit(server: FastifyInstance, deps: { audit: AuditStore; logger: Logger }): void {
  const log = deps.logger.child({ component: 'audit' });
  const mutating: string[] = [];
  server.decorate('mutatingRoutes', mutating);
  server.addHook('onRoute', (route) => {
    const methods = [route.method].flat().filter((method) => MUTATING.has(method));
    for (const method of methods) mutating.push(`${method} ${route.url}`);
    const declaration = methods.length === 1 ? AUDITED_ROUTES[`${methods[0]} ${route.url}`] : undefined;
    if (!declaration) return;
    const byRootKey = JSON.stringify((route.schema as { security?: unknown } | undefined)?.security ?? []).includes('rootKey');
    const options = route as unknown as Partial<RouteHooks>;
    for (const [name, hook] of Object.entries(auditHooks(declaration, byRootKey, deps.audit, log)) as [keyof RouteHooks, unknown][]) {
      options[name] = [...[options[name] ?? []].flat(), hook];
    }
  });
  server.addHook('onReady', async () => {
    const undeclared = mutating.filter((route) => !(route in AUDITED_ROUTES) && !(route in NOT_AUDITED));
    if (undeclared.length > 0) log.warn({ routes: undeclared }, 'mutating routes neither audited nor declared NOT_AUDITED in src/api/audit.ts');
  });
}

function auditHooks(route: AuditedRoute, byRootKey: boolean, audit: AuditStore, log: Logger): RouteHooks {
  const states = new WeakMap<FastifyRequest, AuditState>();
  return {
    onRequest: async (request: FastifyRequest) => {
      states.set(request, { entry: { ...actorOf(request, byRootKey), via: 'api', action: '', org_slug: null, request_id: request.id, outcome: 'pending' } });
    },
    preHandler: async (request: FastifyRequest) => {
      const state = states.get(request) as AuditState;
      Object.assign(state.entry, described(route, contextOf(request, undefined, undefined)));
      try {
        state.id = await audit.record(state.entry);
      } catch (error) {
        state.refused = true;
        log.error({ err: error, audit: state.entry }, 'audit write failed: the action was refused');
        throw new UnavailableError('The audit log cannot be written: admin actions are refused until it can', { cause: error });
      }
    },
    preSerialization: async (request: FastifyRequest, _reply: FastifyReply, payload: unknown) => {
      const state = states.get(request);
      if (state && typeof payload === 'object' && payload !== null) state.response = payload as Record<string, unknown>;
      return payload;
    },
    onSend: async (request: FastifyRequest, reply: FastifyReply) => {
      const state = states.get(request);
      if (!state || state.refused) return;
      const end = outcomeOf(reply, state.response);
      if (state.id === undefined) {
        // Refused before its handler: its body was not validated, so it is not read.
        const entry = { ...state.entry, ...described(route, contextOf(request, undefined, reply.statusCode, false)), ...end };
        await audit.record(entry).catch((error: unknown) => log.error({ err: error, audit: entry }, 'audit write failed'));
        return;
      }
      const after = described(route, contextOf(request, end.outcome === 'success' ? state.response : undefined, reply.statusCode));
      await audit
        .settle(state.id, { ...end, ...after })
        .catch((error: unknown) => log.error({ err: error, audit: { ...state.entry, ...after, ...end, id: state.id } }, 'audit write failed: the action ran, its entry stays pending'));
    },
  };
}

function contextOf(request: FastifyRequest, response: Record<string, unknown> | undefined, status: number | undefined, validated = true): AuditContext {
  const record = (value: unknown) => (typeof value === 'object' && value !== null && !Buffer.isBuffer(value) ? (value as Record<string, unknown>) : {});
  return { params: record(request.params), query: record(request.query), body: validated ? record(request.body) : undefined, response, status };
}

function described(route: AuditedRoute, context: AuditContext): Pick<AuditEntry, 'action' | 'org_slug' | 'target_id' | 'details'> {
  const target = route.target(context);
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return { action: typeof route.action === 'string' ? route.action : route.action(context), org_slug: text(target.org), target_id: text(target.id), details: route.details?.(context) ?? {} };
}

function outcomeOf(reply: FastifyReply, response: Record<string, unknown> | undefined): { outcome: 'success' | 'failure'; status: number; error_code: string | null } {
  const status = reply.statusCode;
  if (status < 400) return { outcome: 'success', status, error_code: null };
  const code = (response?.error as { code?: unknown } | undefined)?.code;
  return { outcome: 'failure', status, error_code: typeof code === 'string' ? code.slice(0, 64) : null };
}

/**
 * Who acted, as the route authenticates: the root key, or an org key by its display prefix
 * (what `key create` prints and org_api_keys.key_prefix keeps), never the key. On a refused
 * request it is what was presented.
 */
function actorOf(request: FastifyRequest, byRootKey: boolean): Pick<AuditEntry, 'actor' | 'actor_org'> {
  if (byRootKey) return { actor: typeof request.headers['x-ca-root-key'] === 'string' ? 'root' : 'anonymous', actor_org: null };
  const key = request.headers['x-api-key'];
  // An org route the operator may use with the root key alone (orgAuth's operator reads).
  if (typeof key !== 'string' || key.length === 0) return { actor: typeof request.headers['x-ca-root-key'] === 'string' ? 'root' : 'anonymous', actor_org: null };
  const known = apiKeyPrefix(key);
  return known ? { actor: `key:${known.prefix}`, actor_org: known.orgSlug } : { actor: 'invalid-key', actor_org: null };
}
