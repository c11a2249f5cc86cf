import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { channelView } from '../../notifications/channel-store.ts';
import type { AttemptStatus as AttemptStatusName, HistoryEntry } from '../../notifications/delivery-store.ts';
import { ROUTABLE_KINDS, type MessageKind as MessageKindName } from '../../notifications/message-kinds.ts';
import { InputError } from '../../shared/errors.ts';
import { orgAuth } from '../auth.ts';
import { SECURITY } from '../openapi-responses.ts';
import { OrgParams, Slug, withErrors } from '../schemas.ts';

const DateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(schema: T) => Type.Union([schema, Type.Null()]);
const ChannelName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', maxLength: 63, description: 'lowercase letters, digits, _ or -' });
const ChannelParams = Type.Object({ org: Slug, name: ChannelName });
const Kind = Type.Union(ROUTABLE_KINDS.map((kind) => Type.Literal(kind)));
const MessageKind = Type.Union([...ROUTABLE_KINDS, 'test', 'digest'].map((kind) => Type.Literal(kind)));
const AttemptStatus = Type.Union(['sent', 'retrying', 'failed', 'interrupted'].map((status) => Type.Literal(status)));

const RouteSchema = Type.Object(
  {
    kind: Kind,
    pipelines: Type.Optional(Type.Array(Type.String({ maxLength: 302, description: 'provider/domain/pipeline; a segment may be *' }), { minItems: 1, maxItems: 100 })),
  },
  { additionalProperties: false },
);

const ChannelBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('email'), Type.Literal('slack'), Type.Literal('webhook')]),
    enabled: Type.Optional(Type.Boolean()),
    recipients: Type.Optional(Type.Array(Type.String({ maxLength: 320 }), { maxItems: 50, description: 'email: the addresses' })),
    url: Type.Optional(Type.String({ maxLength: 2000, description: 'slack: the incoming-webhook URL; webhook: where to POST. Sealed, never returned' })),
    secret: Type.Optional(Type.String({ maxLength: 512, description: 'webhook: the HMAC-SHA256 signing secret. Sealed, never returned' })),
    events: Type.Optional(Type.Array(RouteSchema, { maxItems: ROUTABLE_KINDS.length, description: 'the messages this channel takes (default: failures, recoveries, cost alerts)' })),
    delivery: Type.Optional(Type.Union([Type.Literal('instant'), Type.Literal('digest')], { description: 'instant, or one daily digest at the org digest_time in its timezone' })),
  },
  { additionalProperties: false },
);

const ChannelSchema = Type.Object({
  channel_id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  enabled: Type.Boolean(),
  delivery: Type.String(),
  events: Type.Array(Type.Object({ kind: Type.String(), pipelines: Type.Optional(Type.Array(Type.String())) })),
  recipients: Type.Array(Type.String()),
  url: Nullable(Type.String({ description: 'scheme, host and the last 4 characters' })),
  secret: Nullable(Type.String({ description: 'the last 4 characters' })),
  next_digest_at: DateTime,
  last_error: Nullable(Type.String()),
  last_status_code: Nullable(Type.Integer()),
  last_error_at: DateTime,
  last_success_at: DateTime,
  paused_until: DateTime,
  created_at: DateTime,
  updated_at: DateTime,
});

const SettingsSchema = Type.Object({ timezone: Type.String(), digest_time: Type.String(), reminder_after_failures: Type.Integer(), reminder_after_hours: Type.Integer() });
const SettingsBody = Type.Object(
  {
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA timezone digests are read in' })),
    digest_time: Type.Optional(Type.String({ maxLength: 5, description: 'HH:MM, local time of the daily digest' })),
    reminder_after_failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'a failing pipeline is reminded of after this many more failures...' })),
    reminder_after_hours: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: '...or at its first failure this many hours after the notice' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

const AttemptSchema = Type.Object({ delivery_id: Type.String(), status: Type.String(), response_code: Nullable(Type.Integer()), error: Nullable(Type.String()), attempt: Type.Integer() });
const HistorySchema = Type.Object({
  attempt_id: Type.Integer(), attempt: Type.Integer(), status: Type.String(), response_code: Nullable(Type.Integer()), error: Nullable(Type.String()),
  started_at: DateTime, ended_at: DateTime, next_attempt_at: DateTime,
  delivery_id: Type.String(), delivery_status: Type.String(), message_kind: Type.String(), idempotency_key: Type.String(), details: Type.Record(Type.String(), Type.Unknown()),
  channel: Type.String(), channel_kind: Type.String(), event_id: Nullable(Type.String()), run_id: Nullable(Type.String()), pipeline: Nullable(Type.String()),
});
const HistoryQuery = Type.Object({
  channel: Type.Optional(ChannelName),
  status: Type.Optional(AttemptStatus),
  kind: Type.Optional(MessageKind),
  run_id: Type.Optional(Type.String({ format: 'uuid', maxLength: 36 })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 40 })),
});

/** An org's notification settings, channels, test-sends and delivery history, with its own key (issue 13). */
export function notificationRoutes(server: FastifyInstance, app: App): void {
  const auth = orgAuth(app.orgs, app.settings);
  const tags = ['notifications'];
  const security = SECURITY.orgKey;
  const reads = SECURITY.orgKeyOrRoot;
  const base = '/api/v1/notifications/:org';

  server.get<{ Params: Static<typeof OrgParams> }>(base, {
    schema: { tags, security: reads, summary: 'Notification settings and channels (URLs and secrets as hints only)', params: OrgParams, response: withErrors({ 200: Type.Object({ settings: SettingsSchema, channels: Type.Array(ChannelSchema) }) }, 400, 401, 403) },
    preValidation: auth,
  }, async (request) => ({ settings: presentSettings(await app.notifications.settings(request.params.org)), channels: (await app.notifications.list(request.params.org)).map(channelView) }));

  server.put<{ Params: Static<typeof OrgParams>; Body: Static<typeof SettingsBody> }>(`${base}/settings`, {
    schema: { tags, security, summary: 'Timezone and time of daily digests, when failing pipelines are reminded of', params: OrgParams, body: SettingsBody, response: withErrors({ 200: SettingsSchema }, 400, 401, 403, 413, 415) },
    preValidation: auth,
  }, async (request) => presentSettings(await app.notifications.updateSettings(request.params.org, request.body)));

  server.get<{ Params: Static<typeof ChannelParams> }>(`${base}/channels/:name`, {
    schema: { tags, security: reads, summary: 'A channel', params: ChannelParams, response: withErrors({ 200: ChannelSchema }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request) => channelView(await app.notifications.get(request.params.org, request.params.name)));

  server.put<{ Params: Static<typeof ChannelParams>; Body: Static<typeof ChannelBody> }>(`${base}/channels/:name`, {
    schema: { tags, security, summary: 'Create or replace a channel (email, Slack incoming webhook, signed webhook) and what it takes', description: '201 when it is new, 200 when it replaced one. URLs and secrets are sealed and shown as hints only.', params: ChannelParams, body: ChannelBody, response: withErrors({ 200: ChannelSchema, 201: ChannelSchema }, 400, 401, 403, 413, 415) },
    preValidation: auth,
  }, async (request, reply) => {
    const saved = await app.notifications.putChannel(request.params.org, request.params.name, request.body);
    return reply.code(saved.created ? 201 : 200).send(channelView(saved));
  });

  server.delete<{ Params: Static<typeof ChannelParams> }>(`${base}/channels/:name`, {
    schema: { tags, security, summary: 'Delete a channel and its delivery history', params: ChannelParams, response: withErrors({ 204: Type.Null({ description: 'Deleted' }) }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request, reply) => {
    await app.notifications.deleteChannel(request.params.org, request.params.name);
    return reply.code(204).send();
  });

  server.post<{ Params: Static<typeof OrgParams>; Body: { channel: string } }>(`${base}/test`, {
    schema: { tags, security, summary: 'Send a test message to a channel now; the answer says how it went', params: OrgParams, body: Type.Object({ channel: ChannelName }, { additionalProperties: false }), response: withErrors({ 200: AttemptSchema }, 400, 401, 403, 404, 413, 415) },
    preValidation: auth,
  }, async (request) => app.notifications.testSend(request.params.org, request.body.channel));

  server.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof HistoryQuery> }>(`${base}/history`, {
    schema: { tags, security: reads, summary: 'Every delivery attempt, newest first: status, response code, error, attempt number; paged by next_cursor', params: OrgParams, querystring: HistoryQuery, response: withErrors({ 200: Type.Object({ attempts: Type.Array(HistorySchema), next_cursor: Nullable(Type.String()) }) }, 400, 401, 403) },
    preValidation: auth,
  }, async (request) => {
    const { channel, status, kind, run_id: runId, limit, cursor } = request.query;
    const attempts = await app.notifications.history(request.params.org, { channel, status: status as AttemptStatusName | undefined, kind: kind as MessageKindName | undefined, runId, limit, before: cursor === undefined ? undefined : decodeCursor(cursor) });
    const last = attempts.length === limit ? attempts.at(-1) : undefined;
    return { attempts: attempts.map(presentAttempt), next_cursor: last ? Buffer.from(String(last.attempt_id)).toString('base64url') : null };
  });
}

function decodeCursor(cursor: string): number {
  const id = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(id) || id <= 0) throw new InputError('cursor is not one this API returned', { field: 'cursor' });
  return id;
}

function presentSettings(settings: { timezone: string; digest_time: string; reminder_after_failures: number; reminder_after_hours: number }) {
  const { timezone, digest_time, reminder_after_failures, reminder_after_hours } = settings;
  return { timezone, digest_time, reminder_after_failures, reminder_after_hours };
}

function presentAttempt(entry: HistoryEntry) {
  const { provider, domain, pipeline, ...rest } = entry;
  return { ...rest, pipeline: provider && domain && pipeline ? `${provider}/${domain}/${pipeline}` : null };
}
