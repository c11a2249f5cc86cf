import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import { InputError, NotFoundError } from '../../shared/errors.ts';
import { countRefusedBody } from '../../engine/run-request-metrics.ts';
import { isUuid } from '../../shared/ids.ts';
import type { Run, RunStatus } from '../../store/runs.ts';
import { orgAuth } from '../auth.ts';
import { SECURITY } from '../openapi-responses.ts';
import { OrgParams, OrgRunParams, RouteParams, RunAccepted, RunBody, RunIdParams, RunList, RunsQuery, Run as RunSchema, withErrors } from '../schemas.ts';

/** Running pipelines and reading runs (FR-PIP-002). Every read is scoped to the key's org. */
export function pipelineRoutes(server: FastifyInstance, app: App): void {
  const auth = orgAuth(app.orgs, app.settings);
  const tags = ['pipelines'];
  const security = SECURITY.orgKey;
  const reads = SECURITY.orgKeyOrRoot;

  server.post<{ Params: Static<typeof RouteParams>; Body: Static<typeof RunBody> }>('/api/v1/pipelines/run/:org/:provider/:domain/:pipeline', {
    schema: { tags, security, summary: 'Request a pipeline run', description: 'Admitted within the subscription’s quotas (429 with Retry-After past them) and queued; follow it with the status endpoint. No body runs yesterday. A parameter outside the pipeline’s declared bounds is a 400 naming it.', params: RouteParams, body: RunBody, response: withErrors({ 202: RunAccepted }, 400, 401, 403, 404, 413, 415, 429) },
    // No body asks for the defaults (yesterday), like an empty object.
    preValidation: [auth, async (request) => void (request.body ??= {})],
    // Refusals by the admission are counted by app.requests; a body refused by the schema here, not.
    onError: async (request, _reply, error) => {
      if ('validation' in error && error.validation) countRefusedBody(app, request.params.org, `${request.params.provider}/${request.params.domain}/${request.params.pipeline}`);
    },
  }, async (request, reply) => {
    const { org, provider, domain, pipeline } = request.params;
    const accepted = await app.requests.request({ orgSlug: org, route: `${provider}/${domain}/${pipeline}`, body: request.body, trigger: 'api', createdBy: 'api' });
    return reply.code(202).send(accepted);
  });

  server.get<{ Params: Static<typeof RunIdParams> }>('/api/v1/pipelines/runs/:run_id', {
    schema: { tags, security, summary: 'A run of the key’s org', params: RunIdParams, response: withErrors({ 200: RunSchema }, 400, 401, 404) },
    preValidation: auth,
  }, async (request) => present(await runOrThrow(app, request.orgSlug, request.params.run_id)));

  server.get<{ Querystring: Static<typeof RunsQuery> }>('/api/v1/pipelines/runs', {
    schema: { tags, security, summary: 'Runs of the key’s org, newest first', querystring: RunsQuery, response: withErrors({ 200: RunList }, 400, 401) },
    preValidation: auth,
  }, async (request) => listRuns(app, request.orgSlug, request.query));

  server.get<{ Params: Static<typeof OrgRunParams> }>('/api/v1/pipelines/status/:org/:run_id', {
    schema: { tags, security: reads, summary: 'Status of a run', params: OrgRunParams, response: withErrors({ 200: RunSchema }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request) => present(await runOrThrow(app, request.params.org, request.params.run_id)));

  server.get<{ Params: Static<typeof OrgParams>; Querystring: Static<typeof RunsQuery> }>('/api/v1/pipelines/history/:org', {
    schema: { tags, security: reads, summary: 'Run history of an org', params: OrgParams, querystring: RunsQuery, response: withErrors({ 200: RunList }, 400, 401, 403) },
    preValidation: auth,
  }, async (request) => listRuns(app, request.params.org, request.query));

  server.post<{ Params: Static<typeof OrgRunParams> }>('/api/v1/pipelines/cancel/:org/:run_id', {
    schema: { tags, security, summary: 'Cancel a pending or running run (409 when it already ended)', description: 'status cancelled: a queued run, ended at once; cancelling: a running one, asked to stop (its worker ends it).', params: OrgRunParams, response: withErrors({ 200: Type.Object({ success: Type.Boolean(), status: Type.String() }) }, 400, 401, 403, 404, 409, 413, 415) },
    preValidation: auth,
  }, async (request) => app.requests.cancel(request.params.org, request.params.run_id, 'api'));
}

export async function runOrThrow(app: App, orgSlug: string, runId: string): Promise<Run> {
  const run = await app.runs.get(orgSlug, runId);
  // Another org's run and a run that never existed look the same.
  if (!run) throw new NotFoundError('Run not found');
  return run;
}

export function present(run: Run) {
  return { ...run, pipeline_logging_id: run.run_id };
}

async function listRuns(app: App, orgSlug: string, query: Static<typeof RunsQuery>) {
  const before = query.cursor ? decodeCursor(query.cursor) : undefined;
  const runs = await app.runs.list(orgSlug, { ...query, status: query.status as RunStatus | undefined, ...(before ? { before } : {}) });
  const last = runs.length === query.limit ? runs.at(-1) : undefined;
  return { runs: runs.map(present), next_cursor: last ? Buffer.from(`${last.created_at.toISOString()}|${last.run_id}`).toString('base64url') : null };
}

function decodeCursor(cursor: string): { created_at: Date; run_id: string } {
  const [at, runId] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const created = new Date(at ?? '');
  if (!runId || Number.isNaN(created.getTime()) || !isUuid(runId)) throw new InputError('cursor is not one this API returned', { field: 'cursor' });
  return { created_at: created, run_id: runId };
}
