import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { InputError } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';
import type { ScheduleChanges, ScheduleView, Tick, TickStatus } from '../../store/schedules.ts';
import { orgAuth, rootAuth } from '../auth.ts';
import { SECURITY } from '../openapi-responses.ts';
import { OrgParams, Slug, withErrors } from '../schemas.ts';

const Uuid = Type.String({ format: 'uuid', maxLength: 36 });
const DateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const TICK_STATUSES = ['due', 'deferred', 'enqueued', 'skipped', 'failed'] as const;
const Scalar = Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]);

const ScheduleSchema = Type.Object({
  schedule_id: Type.String(), org_slug: Type.String(), provider: Type.String(), domain: Type.String(), pipeline: Type.String(),
  cron_expression: Type.String(), timezone: Type.String(), parameters: Type.Record(Type.String(), Scalar),
  missed_policy: Type.String(), max_catchup: Type.Integer(), is_enabled: Type.Boolean(), source: Type.String(),
  next_run_at: DateTime, last_tick_at: DateTime, last_scheduled_for: DateTime,
  last_outcome: Type.Union([Type.String(), Type.Null()]), last_reason: Type.Union([Type.String(), Type.Null()]),
  last_run_id: Type.Union([Type.String(), Type.Null()]), last_run_status: Type.Union([Type.String(), Type.Null()]),
});
const ScheduleList = Type.Object({ schedules: Type.Array(ScheduleSchema) });

/** What the org or the operator may change. */
const changeFields = {
  cron_expression: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA timezone the cron is read in' })),
  is_enabled: Type.Optional(Type.Boolean()),
  parameters: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$', maxLength: 64 }), Scalar, { maxProperties: 50, description: 'run-parameter template, e.g. {"start_date": "{{ today - 3 days }}"}' })),
  missed_policy: Type.Optional(Type.Union([Type.Literal('skip'), Type.Literal('once'), Type.Literal('all')])),
  max_catchup: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
};
const ScheduleChangesBody = Type.Object(changeFields, { additionalProperties: false, minProperties: 1 });
const OrgScheduleBody = Type.Object({ schedule_id: Uuid, ...changeFields }, { additionalProperties: false, minProperties: 2 });

const TickSchema = Type.Object({
  org_slug: Type.String(), schedule_id: Type.String(), scheduled_for: Type.String({ format: 'date-time' }), status: Type.String(), reason: Type.Union([Type.String(), Type.Null()]),
  run_id: Type.Union([Type.String(), Type.Null()]), run_status: Type.Union([Type.String(), Type.Null()]), attempts: Type.Integer(), next_attempt_at: DateTime,
});
const QueueQuery = Type.Object({
  org: Type.Optional(Slug),
  schedule_id: Type.Optional(Uuid),
  status: Type.Optional(Type.String({ maxLength: 60, description: `comma-separated: ${TICK_STATUSES.join(', ')} (default due,deferred,enqueued)` })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});
const PassSchema = Type.Object({ schedules: Type.Integer(), enqueued: Type.Integer(), deferred: Type.Integer(), skipped: Type.Integer() });
const DrainBody = Type.Object({ wait_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300, description: 'wait this long at most for the queue to drain' })) }, { additionalProperties: false });

/**
 * Schedules (issue 12): the seeds' scheduler endpoints for the operator (X-CA-Root-Key), which
 * a Cloud Scheduler job calls, and an org's own schedules with its key.
 */
export function scheduleRoutes(server: FastifyInstance, app: App): void {
  const rootOnly = rootAuth(app.settings.rootApiKey);
  const auth = orgAuth(app.orgs, app.settings);

  server.get<{ Querystring: Static<typeof QueueQuery> }>('/api/v1/scheduler/queue', {
    schema: { tags: ['scheduler'], security: SECURITY.root, summary: 'Ticks waiting or queued (due, deferred, enqueued with their runs), newest first', querystring: QueueQuery, response: withErrors({ 200: Type.Object({ ticks: Type.Array(TickSchema), next_cursor: Type.Union([Type.String(), Type.Null()]) }) }, 400, 401, 403) },
    preValidation: rootOnly,
  }, async (request) => {
    const { org, schedule_id: scheduleId, limit, cursor } = request.query;
    const ticks = await app.schedules.ticks({ limit, statuses: statusesOf(request.query.status), ...(org ? { orgSlug: org } : {}), ...(scheduleId ? { scheduleId } : {}), ...(cursor ? { before: decodeCursor(cursor) } : {}) });
    const last = ticks.length === limit ? ticks.at(-1) : undefined;
    return { ticks: ticks.map(presentTick), next_cursor: last ? Buffer.from(`${last.scheduled_for.toISOString()}|${last.schedule_id}`).toString('base64url') : null };
  });

  server.post<{ Body: { schedule_id?: string } }>('/api/v1/scheduler/trigger', {
    schema: { tags: ['scheduler'], security: SECURITY.root, summary: 'Enqueue everything due now, or one tick of one schedule now', description: 'What a Cloud Scheduler job calls. Ticks are admitted within the orgs’ quotas; one past them is deferred, not lost.', body: Type.Object({ schedule_id: Type.Optional(Uuid) }, { additionalProperties: false }), response: withErrors({ 200: PassSchema }, 400, 401, 403, 404, 413, 415) },
    preValidation: [rootOnly, async (request) => void (request.body ??= {})],
  }, async (request) => (request.body.schedule_id ? app.scheduler.triggerNow(request.body.schedule_id) : app.scheduler.pass()));

  for (const path of ['/api/v1/scheduler/process-queue', '/api/v1/scheduler/queue/process']) {
    server.post<{ Body: Static<typeof DrainBody> }>(path, {
      schema: { tags: ['scheduler'], security: SECURITY.root, summary: 'Enqueue what is due and have this process execute the queue now (for deployments that scale to zero between Cloud Scheduler calls)', body: DrainBody, response: withErrors({ 200: Type.Intersect([PassSchema, Type.Object({ queued: Type.Integer(), executing_here: Type.Boolean() })]) }, 400, 401, 403, 413, 415) },
      preValidation: [rootOnly, async (request) => void (request.body ??= {})],
    }, async (request) => {
      const pass = await app.scheduler.pass();
      app.worker?.wake();
      const deadline = Date.now() + (request.body.wait_seconds ?? 0) * 1000;
      let queued = await app.executions.queued();
      while (app.worker && queued > 0 && Date.now() < deadline) {
        await app.clock.sleep(250);
        queued = await app.executions.queued();
      }
      return { ...pass, queued, executing_here: app.worker !== undefined };
    });
  }

  server.put<{ Params: { schedule_id: string }; Body: Static<typeof ScheduleChangesBody> }>('/api/v1/scheduler/schedule/:schedule_id', {
    schema: { tags: ['scheduler'], security: SECURITY.root, summary: "Change any org's schedule", params: Type.Object({ schedule_id: Uuid }), body: ScheduleChangesBody, response: withErrors({ 200: ScheduleSchema }, 400, 401, 403, 404, 413, 415) },
    preValidation: rootOnly,
  }, async (request) => presentSchedule(await app.scheduler.update(request.params.schedule_id, undefined, request.body as ScheduleChanges, 'operator')));

  server.get<{ Querystring: { org?: string } }>('/api/v1/scheduler/schedules', {
    schema: { tags: ['scheduler'], security: SECURITY.root, summary: 'Every schedule, or one org’s', querystring: Type.Object({ org: Type.Optional(Slug) }), response: withErrors({ 200: ScheduleList }, 400, 401, 403) },
    preValidation: rootOnly,
  }, async (request) => ({ schedules: (await app.schedules.list(request.query.org ? { orgSlug: request.query.org } : {})).map(presentSchedule) }));

  server.get<{ Params: Static<typeof OrgParams> }>('/api/v1/pipelines/schedules/:org', {
    schema: { tags: ['pipelines'], security: SECURITY.orgKeyOrRoot, summary: 'The org’s schedules with their next and last ticks', params: OrgParams, response: withErrors({ 200: ScheduleList }, 400, 401, 403) },
    preValidation: auth,
  }, async (request) => ({ schedules: (await app.schedules.list({ orgSlug: request.params.org })).map(presentSchedule) }));

  server.put<{ Params: Static<typeof OrgParams>; Body: Static<typeof OrgScheduleBody> }>('/api/v1/pipelines/schedules/:org', {
    schema: { tags: ['pipelines'], security: SECURITY.orgKey, summary: 'Change one of the org’s schedules (cron, timezone, enabled, parameters, missed-tick policy)', params: OrgParams, body: OrgScheduleBody, response: withErrors({ 200: ScheduleSchema }, 400, 401, 403, 404, 413, 415) },
    preValidation: auth,
  }, async (request) => {
    const { schedule_id: scheduleId, ...changes } = request.body;
    return presentSchedule(await app.scheduler.update(scheduleId, request.params.org, changes as ScheduleChanges, 'org'));
  });

  server.delete<{ Params: { org: string; schedule_id: string } }>('/api/v1/pipelines/schedules/:org/:schedule_id', {
    schema: { tags: ['pipelines'], security: SECURITY.orgKey, summary: 'Delete one of the org’s schedules (the pipeline’s YAML does not bring it back)', params: Type.Object({ org: Slug, schedule_id: Uuid }), response: withErrors({ 204: Type.Null({ description: 'Deleted' }) }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request, reply) => {
    await app.scheduler.update(request.params.schedule_id, request.params.org, { is_deleted: true }, 'org');
    return reply.code(204).send();
  });
}

function statusesOf(text: string | undefined): TickStatus[] {
  if (!text) return ['due', 'deferred', 'enqueued'];
  const statuses = text.split(',').map((s) => s.trim());
  const unknown = statuses.find((s) => !(TICK_STATUSES as readonly string[]).includes(s));
  if (unknown !== undefined) throw new InputError(`status must be among ${TICK_STATUSES.join(', ')}, got ${JSON.stringify(unknown.slice(0, 20))}`, { field: 'status' });
  return statuses as TickStatus[];
}

function decodeCursor(cursor: string): { scheduled_for: Date; schedule_id: string } {
  const [at, scheduleId] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const scheduledFor = new Date(at ?? '');
  if (!scheduleId || Number.isNaN(scheduledFor.getTime()) || !isUuid(scheduleId)) throw new InputError('cursor is not one this API returned', { field: 'cursor' });
  return { scheduled_for: scheduledFor, schedule_id: scheduleId };
}

function presentSchedule(schedule: ScheduleView) {
  const { is_deleted: _deleted, created_at: _created, updated_at: _updated, ...shown } = schedule;
  return shown;
}

function presentTick(tick: Tick) {
  return { ...tick, run_id: tick.status === 'enqueued' ? tick.run_id : null };
}
