import assert from 'node:assert/strict';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import type { ControlPlaneFactory } from '../support/control-planes.ts';
import { ROOT_KEY, testApp, waitForRunEnd } from '../support/test-app.ts';

/** What no response may ever show: a stack frame or the SQL of our queries. */
const STACK_FRAME = '    at ';
const SQL = /\bSELECT\s|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b|\bWHERE\s+org_slug\b|\bFOR\s+UPDATE\b/;

/** One request through inject(); every response is checked for leaks and for 5xx. */
export async function call(server: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse> {
  const response = await server.inject(options);
  const where = `${options.method ?? 'GET'} ${String(options.url)}`;
  assert.ok(!response.body.includes(STACK_FRAME), `${where}: stack trace in body: ${response.body.slice(0, 500)}`);
  assert.doesNotMatch(response.body, SQL, `${where}: SQL in body`);
  assert.ok(response.statusCode < 500, `${where}: ${response.statusCode} ${response.body.slice(0, 500)}`);
  return response;
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; limit?: string; retry_after_seconds?: number };
  request_id: string;
}

const CODES: Record<number, string> = { 401: 'unauthenticated', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 429: 'quota_exceeded' };

/** The one error shape: `{ error: { code, message }, request_id }`, request_id echoed in x-request-id. */
export function assertError(response: LightMyRequestResponse, status: number, expect: { code?: string; field?: string; message?: string | RegExp } = {}): ErrorBody {
  assert.equal(response.statusCode, status, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json() as ErrorBody;
  assert.deepEqual(Object.keys(body).sort(), ['error', 'request_id']);
  assert.equal(typeof body.error.code, 'string');
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0, 'empty error message');
  assert.equal(typeof body.request_id, 'string');
  assert.ok(body.request_id.length > 0);
  assert.equal(response.headers['x-request-id'], body.request_id);
  const code = expect.code ?? CODES[status];
  if (code) assert.equal(body.error.code, code);
  if (expect.field !== undefined) assert.equal(body.error.field, expect.field);
  if (typeof expect.message === 'string') assert.equal(body.error.message, expect.message);
  else if (expect.message) assert.match(body.error.message, expect.message);
  return body;
}

export function assertOk(response: LightMyRequestResponse, status?: number): void {
  if (status === undefined) assert.ok(response.statusCode >= 200 && response.statusCode < 300, `${response.statusCode} ${response.body.slice(0, 500)}`);
  else assert.equal(response.statusCode, status, response.body.slice(0, 500));
  assert.equal(typeof response.headers['x-request-id'], 'string');
}

export interface CreatedOrg {
  org_slug: string;
  key_id: string;
  api_key: string;
  key_prefix: string;
}

/** An org through the admin API; its API key is only in this response. */
export async function createOrg(server: FastifyInstance, orgSlug: string, plan = 'STARTER'): Promise<CreatedOrg> {
  const response = await call(server, { method: 'POST', url: '/api/v1/admin/orgs', headers: { 'x-ca-root-key': ROOT_KEY }, payload: { org_slug: orgSlug, plan } });
  assertOk(response, 201);
  const created = response.json() as CreatedOrg;
  assert.equal(created.org_slug, orgSlug);
  assert.ok(created.api_key.length > 20);
  return created;
}

export async function patchSubscription(server: FastifyInstance, orgSlug: string, patch: Record<string, unknown>): Promise<Record<string, unknown>> {
  const response = await call(server, { method: 'PATCH', url: `/api/v1/admin/orgs/${orgSlug}/subscription`, headers: { 'x-ca-root-key': ROOT_KEY }, payload: patch });
  assertOk(response, 200);
  return response.json() as Record<string, unknown>;
}

export const DEMO_ROUTE = 'demo/usage/daily_cost';

/** POST pipelines/run for the demo pipeline; returns the raw response. */
export function requestRun(server: FastifyInstance, org: CreatedOrg, body: unknown = { date: '2026-01-05' }): Promise<LightMyRequestResponse> {
  return call(server, { method: 'POST', url: `/api/v1/pipelines/run/${org.org_slug}/${DEMO_ROUTE}`, headers: { 'x-api-key': org.api_key }, payload: body as InjectOptions['payload'] });
}

/** A demo run that must be accepted: its run_id. */
export async function startRun(server: FastifyInstance, org: CreatedOrg, body?: unknown): Promise<string> {
  const response = await requestRun(server, org, body);
  assertOk(response, 202);
  return (response.json() as { run_id: string }).run_id;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A served app on a fresh control plane with one org whose demo run has ended. */
export interface ServedOrg {
  controlPlane: ControlPlane;
  app: App;
  server: FastifyInstance;
  org: CreatedOrg;
  runId: string;
}

export async function serveOrgWithRun(factory: ControlPlaneFactory, orgSlug: string): Promise<ServedOrg> {
  const controlPlane = await factory.open();
  const app = await testApp(controlPlane);
  app.worker?.start();
  const server = await buildServer(app);
  const org = await createOrg(server, orgSlug);
  const runId = await startRun(server, org);
  assert.equal((await waitForRunEnd(app, org.org_slug, runId)).status, 'completed');
  return { controlPlane, app, server, org, runId };
}

export async function closeServed(served: Partial<ServedOrg>): Promise<void> {
  await served.server?.close();
  await served.app?.close();
  await served.controlPlane?.close();
}

/** Path parameters that the route walks put in a route's path. */
const SAMPLE_PARAMS: Record<string, string> = {
  org: 'acme',
  run_id: '00000000-0000-4000-8000-000000000001',
  schedule_id: '00000000-0000-4000-8000-000000000002',
  backfill_id: '00000000-0000-4000-8000-000000000003',
  key_id: '00000000-0000-4000-8000-000000000004',
  rule_id: '00000000-0000-4000-8000-000000000005',
};

/** A route's path, in Fastify's (`:name`) or OpenAPI's (`{name}`) spelling, with sample parameters in it. */
export const sampleUrl = (path: string) => path.replace(/:(\w+)|\{(\w+)\}/g, (_match, fastify: string | undefined, openApi: string | undefined) => SAMPLE_PARAMS[(fastify ?? openApi) as string] ?? 'sample');
