/**
 * Issue 10, "How it is checked": every operation of /openapi.json swept with malformed input
 * (path traversal, NUL bytes, injection strings, 10 KB strings, out-of-range numbers, invalid
 * dates, wrong types, bad JSON, wrong content types, oversize bodies), with valid org and root
 * keys so that validation is reached. No 5xx; every 4xx in the project's error shape; no stack,
 * SQL or server path in any body; and a refused request writes nothing. Fixed cases for each
 * parameter and property, then fast-check's generated ones.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { ROOT_KEY, testApp } from '../support/test-app.ts';
import { createOrg, DEMO_ROUTE, startRun, type CreatedOrg } from './api-helpers.ts';

const ORG = 'sweep_org';
/** Generated requests per operation, after the fixed ones. */
const GENERATED_PER_OPERATION = 25;

/** Malformed path and query values, URL-encoded as a client would send them (some deliberately not). */
const BAD_URL_VALUES = [
  '..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', '%2e%2e%2f%2e%2e%2fetc', 'a%00b', '%00', '%zz', '%C3%28', '%F0%9F%98%80', '%0d%0aSet-Cookie%3Ax',
  encodeURIComponent("' OR '1'='1"), encodeURIComponent("1; DROP TABLE organizations; --"), encodeURIComponent('$1::text'),
  'a'.repeat(10_000), 'a'.repeat(101), '-1', '0', '2147483648', '99999999999999999999999', '1e308', 'NaN', 'Infinity', 'true', 'null',
  '2026-02-30', '9999-99-99', 'urn%3Auuid%3A00000000-0000-4000-8000-000000000000', '00000000-0000-4000-8000-00000000000g', 'UPPER', 'a%20b',
];

/** Malformed JSON values for body properties. */
const BAD_JSON_VALUES: unknown[] = [
  null, 123, -1, 0.5, 1e308, -1e308, 2147483648, 99999999999999999999999, 'x'.repeat(10_000), 'a\u0000b', '\u0000',
  "' OR 1=1 --", '2026-02-30', '9999-99-99', '../../etc/passwd', '', [], {}, true, ['a'], { $gt: '' }, 'NO_SUCH_PLAN', 'pk_other_key',
];

/** Bodies that are not JSON objects at all: [content-type, payload]. */
const BAD_BODIES: [string, string][] = [
  ['application/json', '{"date": '],
  ['application/json', ''],
  ['application/json', 'null'],
  ['application/json', '[1, 2]'],
  ['application/json', '"text"'],
  ['application/json', '{"__proto__": {"admin": true}}'],
  ['application/json', '{"constructor": {"prototype": {"admin": true}}}'],
  ['application/json', `{"pad": "${'x'.repeat(1_100_000)}"}`],
  ['text/plain', 'hello'],
  ['application/xml', '<run date="2026-01-01"/>'],
  ['text/csv', 'date\n2026-01-01'],
  ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--'],
  ['application/x-www-form-urlencoded', 'date=2026-01-01'],
  ['application/json; charset=utf-16', '{}'],
];

/** Plans files that must be refused: broken CSV, NUL, binary, a header only, and over 10 MB. */
const BAD_CSV: string[] = ['"unclosed,a\nb', 'subscription_id\u0000,vendor\nS\u0000,A', '\u00ff\u00fe\u0000\u0001binary', 'subscription_id,vendor\n', `subscription_id\n${'S,'.repeat(5_500_000)}`];

/** What no body may show: a stack frame, our SQL or a database's wording, a server path. */
const LEAKS = [/\bat .+:\d+:\d+\)?$/m, /file:\/\//, /\/tmp\//, /\/work\//, /node_modules/, /\bSELECT\s/i, /\bINSERT\s+INTO\b/i, /\bsyntax for type\b/, /invalid input syntax/, /out of range for type/, /\bbigint\b/, /invalid byte sequence/, /FST_ERR/];

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: string[];
  bodyProps: string[] | undefined;
  csv: boolean;
}

interface Request {
  url: string;
  contentType?: string;
  payload?: string;
}

for (const factory of controlPlaneFactories()) {
  describe(`malformed-input sweep (${factory.name})`, () => {
    let controlPlane: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let org: CreatedOrg;
    let valid: Record<string, string>;
    const figures = { requests: 0, byStatus: new Map<number, number>() };

    before(async () => {
      controlPlane = await factory.open();
      app = await testApp(controlPlane, { settings: { WORKER_CONCURRENCY: '0' } });
      server = await buildServer(app);
      org = await createOrg(server, ORG, 'SCALE');
      const runId = await startRun(server, org);
      const [provider = '', domain = '', pipeline = ''] = DEMO_ROUTE.split('/');
      valid = { org: ORG, run_id: runId, provider, domain, pipeline, key_id: org.key_id };
    });

    after(async () => {
      await server?.close();
      await app?.close();
      await controlPlane?.close();
    });

    /** Rows a refused request could have written (and the subscription, which one could change). */
    const written = async () => (await controlPlane.db.query<Record<string, unknown>>(
      `SELECT (SELECT count(*) FROM organizations)::int AS orgs, (SELECT count(*) FROM pipeline_runs)::int AS runs,
              (SELECT count(*) FROM org_api_keys WHERE revoked_at IS NULL)::int AS keys, (SELECT count(*) FROM org_credentials)::int AS credentials,
              (SELECT string_agg(org_slug || plan || status || daily_limit || '/' || monthly_limit || '/' || concurrent_limit, ',') FROM subscriptions) AS subscriptions`,
    ))[0];

    async function send(operation: Operation, request: Request): Promise<void> {
      const before = await written();
      const options: InjectOptions = {
        method: operation.method as InjectOptions['method'],
        url: request.url,
        headers: { 'x-api-key': org.api_key, 'x-ca-root-key': ROOT_KEY, ...(request.contentType ? { 'content-type': request.contentType } : {}) },
        ...(request.payload !== undefined ? { payload: request.payload } : {}),
      };
      const response = await server.inject(options);
      figures.requests += 1;
      figures.byStatus.set(response.statusCode, (figures.byStatus.get(response.statusCode) ?? 0) + 1);
      const where = `${operation.method} ${request.url.slice(0, 200)} ${request.contentType ?? ''} ${request.payload?.slice(0, 200) ?? ''}`;
      assert.ok(response.statusCode < 500, `${where}: ${response.statusCode} ${response.body.slice(0, 500)}`);
      for (const leak of LEAKS) assert.doesNotMatch(response.body.slice(0, 100_000), leak, `${where}: ${response.body.slice(0, 500)}`);
      if (response.statusCode >= 400) {
        assertErrorShape(response, where);
        assert.deepEqual(await written(), before, `${where}: a refused request wrote rows`);
      }
    }

    test('every operation of /openapi.json refuses malformed input in the error shape, with no 5xx and no write', { timeout: 120_000 }, async () => {
      const started = performance.now();
      const operations = listOperations((await server.inject({ method: 'GET', url: '/openapi.json' })).json());
      assert.ok(operations.length >= 20, `only ${operations.length} operations in /openapi.json`);
      for (const operation of operations) {
        for (const request of fixedRequests(operation)) await send(operation, request);
        await fc.assert(fc.asyncProperty(generatedRequest(operation), (request) => send(operation, request)), { numRuns: GENERATED_PER_OPERATION, seed: 10 });
      }
      const seconds = (performance.now() - started) / 1000;
      const count = (from: number, to: number) => [...figures.byStatus].filter(([status]) => status >= from && status < to).reduce((n, [, c]) => n + c, 0);
      console.log(`sweep (${factory.name}): ${operations.length} operations, ${figures.requests} requests in ${seconds.toFixed(1)} s: ${count(200, 300)} × 2xx, ${count(400, 500)} × 4xx, ${count(500, 600)} × 5xx; by status ${JSON.stringify(Object.fromEntries([...figures.byStatus].sort(([a], [b]) => a - b)))}`);
      assert.equal(count(500, 600), 0);
      assert.ok(count(400, 500) > figures.requests * 0.9, 'malformed input is refused');
    });

    function url(operation: Operation, params: Record<string, string>, query = ''): string {
      return operation.path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? valid[name] ?? 'x') + query;
    }

    function fixedRequests(operation: Operation): Request[] {
      const requests: Request[] = [];
      const json = (body: Record<string, unknown>) => ({ contentType: 'application/json', payload: JSON.stringify(body) });
      const validBody = operation.bodyProps ? json(validBodyOf(operation)) : {};
      for (const name of operation.pathParams) for (const value of BAD_URL_VALUES) requests.push({ url: url(operation, { [name]: value }), ...validBody });
      for (const name of operation.queryParams) for (const value of BAD_URL_VALUES) requests.push({ url: url(operation, {}, `?${name}=${value}`), ...validBody });
      const props = [...(operation.bodyProps ?? []), ...(operation.path.includes('/pipelines/run/') ? ['teams', 'credential_id', 'unknown_param'] : [])];
      for (const prop of props) for (const value of BAD_JSON_VALUES) requests.push({ url: url(operation, {}), ...json({ ...validBodyOf(operation), [prop]: value }) });
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(operation.method)) for (const [contentType, payload] of BAD_BODIES) requests.push({ url: url(operation, {}), contentType, payload });
      if (operation.csv) for (const payload of BAD_CSV) requests.push({ url: url(operation, {}), contentType: 'text/csv', payload });
      return requests;
    }

    function generatedRequest(operation: Operation): fc.Arbitrary<Request> {
      const urlValue = fc.oneof(fc.constantFrom(...BAD_URL_VALUES), fc.string({ unit: 'grapheme', maxLength: 120 }).map(encodeURIComponent), fc.bigInt().map(String), fc.double().map(String));
      const choices: fc.Arbitrary<Request>[] = [];
      const body = operation.bodyProps ? { contentType: 'application/json', payload: JSON.stringify(validBodyOf(operation)) } : {};
      if (operation.pathParams.length > 0) choices.push(fc.record({ name: fc.constantFrom(...operation.pathParams), value: urlValue }).map(({ name, value }) => ({ url: url(operation, { [name]: value }), ...body })));
      if (operation.queryParams.length > 0) choices.push(fc.record({ name: fc.constantFrom(...operation.queryParams), value: urlValue }).map(({ name, value }) => ({ url: url(operation, {}, `?${name}=${value}`), ...body })));
      if (operation.bodyProps) {
        const value = fc.oneof(fc.constantFrom(...BAD_JSON_VALUES), fc.jsonValue(), fc.string({ unit: 'binary', maxLength: 200 }));
        choices.push(fc.record({ prop: fc.constantFrom(...operation.bodyProps), value }).map(({ prop, value }) => ({ url: url(operation, {}), contentType: 'application/json', payload: JSON.stringify({ ...validBodyOf(operation), [prop]: value }) })));
        choices.push(fc.jsonValue().map((value) => ({ url: url(operation, {}), contentType: 'application/json', payload: JSON.stringify(value) })));
      }
      if (choices.length === 0) choices.push(fc.string({ unit: 'grapheme', maxLength: 60 }).map((tail) => ({ url: `${url(operation, {})}?${encodeURIComponent(tail)}=${encodeURIComponent(tail)}` })));
      return fc.oneof(...choices);
    }
  });
}

/** A body that would be accepted, so that each request has one thing wrong. */
function validBodyOf(operation: Operation): Record<string, unknown> {
  if (operation.path.includes('/pipelines/run/')) return { date: '2026-01-05' };
  if (operation.path.endsWith('/credentials/{provider}')) return { secret: 'sk-sweep' };
  if (operation.path.endsWith('/subscription')) return { plan: 'SCALE' };
  if (operation.path === '/api/v1/admin/orgs') return { org_slug: 'sweep_created' };
  return {};
}

function listOperations(doc: { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }; summary?: string }>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => {
      const json = op.requestBody?.content['application/json'];
      return {
        method: method.toUpperCase(),
        path,
        pathParams: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        bodyProps: json ? Object.keys(json.schema.properties ?? {}) : undefined,
        csv: /text\/csv/.test(op.summary ?? ''),
      };
    }),
  );
}

function assertErrorShape(response: LightMyRequestResponse, where: string): void {
  assert.match(String(response.headers['content-type']), /^application\/json/, where);
  const body = response.json() as { error: Record<string, unknown>; request_id: unknown };
  assert.deepEqual(Object.keys(body).sort(), ['error', 'request_id'], `${where}: ${response.body.slice(0, 300)}`);
  assert.equal(typeof body.error.code, 'string', where);
  assert.equal(typeof body.error.message, 'string', where);
  assert.ok((body.error.message as string).length > 0 && (body.error.message as string).length < 20_000, `${where}: message of ${(body.error.message as string).length} characters`);
  assert.ok(body.error.field === undefined || typeof body.error.field === 'string', where);
  for (const key of Object.keys(body.error)) assert.ok(['code', 'message', 'field', 'limit', 'retry_after_seconds'].includes(key), `${where}: error.${key}`);
  assert.equal(typeof body.request_id, 'string', where);
  assert.equal(response.headers['x-request-id'], body.request_id, where);
}
