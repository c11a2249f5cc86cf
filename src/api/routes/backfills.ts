import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { BACKFILL_MODES, DAY_OUTCOMES, MAX_CONCURRENT_CHILDREN, type BackfillStatus } from '../../scheduler/backfills.ts';
import { NotFoundError } from '../../shared/errors.ts';
import { orgAuth } from '../auth.ts';
import { SECURITY } from '../openapi-responses.ts';
import { RouteParams, Slug, withErrors } from '../schemas.ts';

const IsoDate = Type.String({ format: 'date', maxLength: 10, description: 'YYYY-MM-DD' });
const DateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const BACKFILL_STATUSES: BackfillStatus[] = ['running', 'cancelling', 'completed', 'completed_with_failures', 'cancelled'];
const Status = Type.Union(BACKFILL_STATUSES.map((status) => Type.Literal(status)));
const Outcome = Type.Union(DAY_OUTCOMES.map((outcome) => Type.Literal(outcome)));

const BackfillBody = Type.Object(
  {
    start_date: IsoDate,
    end_date: IsoDate,
    mode: Type.Optional(Type.Union(BACKFILL_MODES.map((mode) => Type.Literal(mode)), { default: 'missing', description: 'missing: days with no completed or running run; failed: days whose latest run failed or was cancelled; all: every day' })),
    max_concurrent: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CONCURRENT_CHILDREN, default: 2, description: 'children under way at once' })),
    parameters: Type.Optional(
      Type.Object({}, { additionalProperties: Type.Unknown(), maxProperties: 50, propertyNames: { pattern: '^[a-z][a-z0-9_]{0,63}$' }, description: 'the pipeline’s declared run parameters, given to every child besides its date' }),
    ),
  },
  { additionalProperties: false },
);

const BackfillIdParams = Type.Object({ org: Slug, backfill_id: Type.String({ format: 'uuid', maxLength: 36 }) });
const OrgParams = Type.Object({ org: Slug });
const ListQuery = Type.Object({ status: Type.Optional(Status), limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }) });

const summaryFields = {
  backfill_id: Type.String(),
  org_slug: Type.String(),
  route: Type.String(),
  pipeline_id: Type.String(),
  start_date: Type.String(),
  end_date: Type.String(),
  mode: Type.String(),
  max_concurrent: Type.Integer(),
  parameters: Type.Record(Type.String(), Type.Unknown()),
  status: Status,
  created_by: Type.String(),
  created_at: DateTime,
  ended_at: DateTime,
  last_deferral: Nullable(Type.String({ description: 'why the last pass admitted fewer children than it had room for' })),
  last_deferred_at: DateTime,
  total_days: Type.Integer(),
  counts: Type.Object(Object.fromEntries(DAY_OUTCOMES.map((outcome) => [outcome, Type.Integer()]))),
  progress: Type.Object({ done: Type.Integer(), total: Type.Integer(), percent: Type.Integer() }),
};
const BackfillSummary = Type.Object(summaryFields);
const BackfillDetail = Type.Object({
  ...summaryFields,
  failed_days: Type.Array(Type.Object({ day: Type.String(), run_id: Nullable(Type.String()), error_message: Nullable(Type.String()) })),
  days: Type.Array(Type.Object({ day: Type.String(), status: Outcome, run_id: Nullable(Type.String()), reason: Nullable(Type.String()) })),
});

/** Backfills of an org's pipeline: one child run per day, paced by the scheduler's coordinator (issue 12, item 5). */
export function backfillRoutes(server: FastifyInstance, app: App): void {
  const auth = orgAuth(app.orgs, app.settings);
  const tags = ['backfills'];
  const security = SECURITY.orgKey;
  const reads = SECURITY.orgKeyOrRoot;
  const found = async (org: string, backfillId: string) => {
    const backfill = await app.backfills.get(org, backfillId);
    // Another org's backfill and one that never existed look the same.
    if (!backfill) throw new NotFoundError('Backfill not found');
    return backfill;
  };

  server.post<{ Params: Static<typeof RouteParams>; Body: Static<typeof BackfillBody> }>('/api/v1/pipelines/backfill/:org/:provider/:domain/:pipeline', {
    schema: { tags, security, summary: 'Backfill a pipeline over a range of days', description: 'Accepted at once; the scheduler admits one child run per day, at most max_concurrent under way, within the org’s quotas.', params: RouteParams, body: BackfillBody, response: withErrors({ 202: BackfillSummary }, 400, 401, 403, 404, 413, 415) },
    preValidation: auth,
  }, async (request, reply) => {
    const { org, provider, domain, pipeline } = request.params;
    const { start_date, end_date, mode, max_concurrent, parameters } = request.body;
    const created = await app.backfills.create({
      orgSlug: org, route: `${provider}/${domain}/${pipeline}`, startDate: start_date, endDate: end_date, mode, maxConcurrent: max_concurrent, parameters, createdBy: 'api',
    });
    return reply.code(202).send(created);
  });

  server.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof ListQuery> }>('/api/v1/pipelines/backfill/:org', {
    schema: { tags, security: reads, summary: 'Backfills of an org, newest first', params: OrgParams, querystring: ListQuery, response: withErrors({ 200: Type.Object({ backfills: Type.Array(BackfillSummary) }) }, 400, 401, 403) },
    preValidation: auth,
  }, async (request) => ({ backfills: await app.backfills.list(request.params.org, { limit: request.query.limit, status: request.query.status }) }));

  server.get<{ Params: Static<typeof BackfillIdParams> }>('/api/v1/pipelines/backfill/:org/:backfill_id', {
    schema: { tags, security: reads, summary: 'A backfill: counts by status, failed days with their errors, every day', params: BackfillIdParams, response: withErrors({ 200: BackfillDetail }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request) => found(request.params.org, request.params.backfill_id));

  server.post<{ Params: Static<typeof BackfillIdParams> }>('/api/v1/pipelines/backfill/:org/:backfill_id/cancel', {
    schema: { tags, security, summary: 'Cancel a backfill: no more admissions, its children under way cancelled', params: BackfillIdParams, response: withErrors({ 200: BackfillDetail }, 400, 401, 403, 404, 413, 415) },
    preValidation: auth,
  }, async (request) => app.backfills.cancel(request.params.org, request.params.backfill_id, 'api'));
}
