import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { App } from '../../main/app.ts';
import type { Run as RunRow } from '../../store/runs.ts';
import { orgAuth } from '../auth.ts';
import { fileResponse, SECURITY } from '../openapi-responses.ts';
import { LogLine, OrgRunParams, QualityResultSchema, QualitySummary, Step, Transition, withErrors } from '../schemas.ts';
import { runOrThrow } from './pipelines.ts';

const QualityQuery = Type.Object({ status: Type.Optional(Type.Union(['pass', 'fail', 'skipped', 'warn'].map((status) => Type.Literal(status)))) });

function summarise(results: { status: string }[]) {
  const count = (status: string) => results.filter((result) => result.status === status).length;
  return { pass: count('pass'), fail: count('fail'), skipped: count('skipped'), warn: count('warn') };
}

/** run_logs.id is a bigint; a larger after_id was a database error and a 500. */
const LogsQuery = Type.Object({ after_id: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }), limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }) });

/** A run's trace: log lines, steps, status transitions, and the whole log as a file. */
export function logRoutes(server: FastifyInstance, app: App): void {
  const auth = orgAuth(app.orgs, app.settings);
  const tags = ['logs'];
  const security = SECURITY.orgKeyOrRoot;

  server.get<{ Params: Static<typeof OrgRunParams>; Querystring: Static<typeof LogsQuery> }>('/api/v1/pipelines/logs/:org/:run_id', {
    schema: { tags, security, summary: 'Log lines of a run (page with after_id)', description: 'Oldest first; the next page starts after the last id returned.', params: OrgRunParams, querystring: LogsQuery, response: withErrors({ 200: Type.Object({ run_id: Type.String(), status: Type.String(), logs: Type.Array(LogLine) }) }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request) => {
    const run = await runOrThrow(app, request.params.org, request.params.run_id);
    const logs = await app.runs.logs(run.org_slug, run.run_id, { afterId: request.query.after_id, limit: request.query.limit });
    return { run_id: run.run_id, status: run.status, logs };
  });

  server.get<{ Params: Static<typeof OrgRunParams> }>('/api/v1/pipelines/logs/:org/:run_id/steps', {
    schema: { tags, security, summary: 'Steps of a run, each with its quality summary', params: OrgRunParams, response: withErrors({ 200: Type.Object({ run_id: Type.String(), steps: Type.Array(Type.Intersect([Step, Type.Object({ quality: QualitySummary })])) }) }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request) => {
    const run = await runOrThrow(app, request.params.org, request.params.run_id);
    const [steps, quality] = await Promise.all([app.runs.steps(run.org_slug, run.run_id), app.runs.quality(run.org_slug, run.run_id)]);
    return { run_id: run.run_id, steps: steps.map((step) => ({ ...step, quality: summarise(quality.filter((result) => result.step_id === step.step_id)) })) };
  });

  server.get<{ Params: Static<typeof OrgRunParams>; Querystring: Static<typeof QualityQuery> }>('/api/v1/pipelines/logs/:org/:run_id/quality', {
    schema: { tags, security, summary: 'Data-quality results of a run: FOCUS rules, reconciliations, warnings', params: OrgRunParams, querystring: QualityQuery, response: withErrors({ 200: Type.Object({ run_id: Type.String(), summary: QualitySummary, results: Type.Array(QualityResultSchema) }) }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request) => {
    const run = await runOrThrow(app, request.params.org, request.params.run_id);
    const results = await app.runs.quality(run.org_slug, run.run_id, request.query.status);
    return { run_id: run.run_id, summary: summarise(results), results };
  });

  server.get<{ Params: Static<typeof OrgRunParams> }>('/api/v1/pipelines/logs/:org/:run_id/transitions', {
    schema: { tags, security, summary: 'Status transitions of a run', params: OrgRunParams, response: withErrors({ 200: Type.Object({ run_id: Type.String(), transitions: Type.Array(Transition) }) }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request) => {
    const run = await runOrThrow(app, request.params.org, request.params.run_id);
    return { run_id: run.run_id, transitions: await app.runs.transitions(run.org_slug, run.run_id) };
  });

  server.get<{ Params: Static<typeof OrgRunParams> }>('/api/v1/pipelines/logs/:org/:run_id/download', {
    schema: { tags, security, summary: 'The whole log of a run as a file (JSON lines)', description: 'One JSON object a line, each with its type: the run, its transitions, steps, log lines and quality results. Written as it is read, so any size of log.', params: OrgRunParams, response: withErrors({ 200: fileResponse('The trace, as a download', ['application/x-ndjson'], { 'content-disposition': 'attachment; filename="run-{run_id}.log.jsonl"' }) }, 400, 401, 403, 404) },
    preValidation: auth,
  }, async (request, reply) => {
    const run = await runOrThrow(app, request.params.org, request.params.run_id);
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="run-${run.run_id}.log.jsonl"`)
      .send(Readable.from(runLogLines(app, run)));
  });
}

/** Log lines read per query: a run may have up to a million of them. */
const DOWNLOAD_PAGE = 1000;

/**
 * The whole log of a run as JSON lines, written as it is read: the log lines page by id, so
 * memory holds one page, not the million lines one string held before (issue 10, item 7).
 */
async function* runLogLines(app: App, run: RunRow): AsyncGenerator<string> {
  const line = (value: object) => `${JSON.stringify(value)}\n`;
  yield line({ type: 'run', ...run });
  for (const transition of await app.runs.transitions(run.org_slug, run.run_id)) yield line({ type: 'transition', ...transition });
  for (const step of await app.runs.steps(run.org_slug, run.run_id)) yield line({ type: 'step', ...step });
  for (let afterId = 0; ; ) {
    const page = await app.runs.logs(run.org_slug, run.run_id, { afterId, limit: DOWNLOAD_PAGE });
    if (page.length > 0) yield page.map((log) => line({ type: 'log', ...log })).join('');
    if (page.length < DOWNLOAD_PAGE) break;
    afterId = Number(page.at(-1)?.id);
  }
  for (const result of await app.runs.quality(run.org_slug, run.run_id)) yield line({ type: 'quality', ...result });
}
