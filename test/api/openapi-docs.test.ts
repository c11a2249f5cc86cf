import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerApiDocs } from '../../src/api/api-docs.ts';
import { PUBLIC_ROUTES } from '../../src/api/auth.ts';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { ROOT_KEY, testApp } from '../support/test-app.ts';
import { createOrg, type CreatedOrg } from './api-helpers.ts';

/** API docs (issue 14, item 5): the Swagger UI at /docs, and an OpenAPI document in which every route is documented. */

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; schema?: unknown }[];
  requestBody?: unknown;
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: { $ref?: string } }> }>;
}
interface OpenApiDocument {
  openapi: string;
  tags?: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, unknown> };
}

const ERROR_REF = '#/components/schemas/ErrorResponse';
const BODY_METHODS = new Set(['post', 'put', 'patch']);

/**
 * Departures from the rules below, each with its reason: nothing else may skip them. Keyed by
 * the problem's text as undocumented() words it.
 */
const EXCEPTIONS: Record<string, string> = {
  'GET /health: 503 is not the ErrorResponse': 'a degraded health report (status and checks) with 503, so a load balancer takes the process out',
  'GET /health: does not declare 429': 'never rate limited (limits.ts): a 429 would fail a liveness probe',
  'GET /metrics: does not declare 429': 'never rate limited (limits.ts): a 429 would leave a gap in the metrics',
};

/** `METHOD /path` as auth.ts' PUBLIC_ROUTES names it. */
const routeName = (method: string, path: string) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`;

/**
 * What an operation of the document lacks, one line per problem. A route is documented when it
 * has a summary and declared tags; a 2xx with its schema; every error it can answer by its shape
 * (401 with a key, 403 when it names an org or takes the root key, 400 for what it reads, 400 /
 * 413 / 415 for a body, 429 and 500 always), each referring to the shared ErrorResponse; its
 * security unless it is public; and a schema for each of its path parameters.
 */
function undocumented(document: OpenApiDocument): string[] {
  const problems: string[] = [];
  const declaredTags = new Set((document.tags ?? []).map((tag) => tag.name));
  const schemes = new Set(Object.keys(document.components.securitySchemes ?? {}));
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const name = `${method.toUpperCase()} ${path}`;
      const problem = (text: string) => problems.push(`${name}: ${text}`);
      if (!operation.summary?.trim()) problem('no summary');
      if (!operation.tags?.length) problem('no tags');
      for (const tag of operation.tags ?? []) if (!declaredTags.has(tag)) problem(`tag ${tag} is not among the document's tags (api-docs.ts)`);

      const responses = operation.responses ?? {};
      const codes = Object.keys(responses);
      const successes = codes.filter((code) => /^2\d\d$/.test(code));
      if (successes.length === 0) problem('no 2xx response');
      for (const code of successes) {
        if (code !== '204' && !Object.values(responses[code]?.content ?? {}).some((media) => media.schema)) problem(`${code} has no schema`);
      }
      for (const code of codes.filter((code) => Number(code) >= 400)) {
        const response = responses[code];
        if (!response?.description || response.description === 'Default Response') problem(`${code} has no description`);
        const schemas = Object.entries(response?.content ?? {});
        if (schemas.length !== 1 || schemas[0]?.[0] !== 'application/json' || schemas[0][1].schema?.$ref !== ERROR_REF) problem(`${code} is not the ErrorResponse`);
      }

      const isPublic = PUBLIC_ROUTES.has(routeName(method, path));
      const security = operation.security ?? [];
      const takes = new Set(security.flatMap((requirement) => Object.keys(requirement)));
      if (isPublic && security.length > 0) problem('is public (auth.ts) but declares security');
      if (!isPublic && security.length === 0) problem('declares no security');
      for (const scheme of takes) if (!schemes.has(scheme)) problem(`security scheme ${scheme} is not declared`);

      const parameters = operation.parameters ?? [];
      const pathNames = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      for (const param of pathNames) if (!parameters.some((p) => p.in === 'path' && p.name === param && p.schema)) problem(`path parameter ${param} has no schema`);
      const required = new Set(['429', '500']);
      if (!isPublic) required.add('401');
      if (takes.has('rootKey') || pathNames.includes('org')) required.add('403');
      // A key check comes before validation: with only an org key, a bad {org} is a 403, not a 400.
      const validated = parameters.filter((p) => !(p.in === 'path' && p.name === 'org' && takes.size === 1 && takes.has('apiKey')));
      if (validated.length > 0 || operation.requestBody) required.add('400');
      if (BODY_METHODS.has(method)) for (const code of ['400', '413', '415']) required.add(code);
      for (const code of required) if (!responses[code]) problem(`does not declare ${code}`);
    }
  }
  return problems;
}

let cp: ControlPlane;
let app: App;
let server: FastifyInstance;
let document: OpenApiDocument;
let org: CreatedOrg;
before(async () => {
  cp = await openPglite();
  app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0' } });
  server = await buildServer(app);
  await server.ready();
  org = await createOrg(server, 'docs_org');
  const response = await server.inject({ url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  document = response.json() as OpenApiDocument;
});
after(async () => {
  await server.close();
  await app.close();
  await cp.close();
});

test('GET /docs is the Swagger UI, served with its assets from this server and a same-origin CSP', async () => {
  for (const url of ['/docs', '/docs/']) {
    const page = await server.inject({ url });
    assert.equal(page.statusCode, 200, url);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<div id="swagger-ui">/);
    assert.doesNotMatch(page.body, /(src|href)="(https?:)?\/\//, 'nothing from another origin (a CDN)');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'(;|$)/, csp);
    assert.doesNotMatch(csp, /https?:|unsafe-inline|unsafe-eval|validator\.swagger\.io/, csp);
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => new URL(match[1] ?? '', `http://localhost${url}`).pathname);
    assert.ok(assets.length >= 5, `assets: ${assets.join(', ')}`);
    for (const asset of assets) {
      const loaded = await server.inject({ url: asset });
      assert.equal(loaded.statusCode, 200, asset);
      assert.ok(loaded.rawPayload.length > 100, `${asset} is empty`);
      const type = String(loaded.headers['content-type']);
      if (asset.endsWith('.js')) assert.match(type, /javascript/, asset);
      if (asset.endsWith('.css')) assert.match(type, /text\/css/, asset);
    }
  }
  const initializer = await server.inject({ url: '/docs/static/swagger-initializer.js' });
  assert.match(initializer.body, /resolveUrl\('\.\/json'\)/, 'the UI reads the document from this server');
  assert.match(initializer.body, /validatorUrl: null/, 'no call to validator.swagger.io');
  assert.deepEqual((await server.inject({ url: '/docs/json' })).json(), document, 'the UI shows the document /openapi.json serves');
});

test('/openapi.json is a valid OpenAPI 3.1 document', { skip: validatorMissing() }, async () => {
  assert.equal(document.openapi, '3.1.0');
  const dir = await mkdtemp(join(tmpdir(), 'openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(document));
    const checked = spawnSync('openapi-spec-validator', [file], { encoding: 'utf8' });
    assert.equal(checked.status, 0, `${checked.stdout}${checked.stderr}`.slice(0, 3000));
    // The check is not a formality: a response without its description is refused.
    const broken = structuredClone(document);
    delete (Object.values(Object.values(broken.paths)[0] ?? {})[0]?.responses?.['200'] as { description?: string }).description;
    await writeFile(file, JSON.stringify(broken));
    assert.notEqual(spawnSync('openapi-spec-validator', [file], { encoding: 'utf8' }).status, 0, 'the validator took a response without a description');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every route is documented: summary, tags, request and response schemas, its error codes, its security', () => {
  const operations = Object.values(document.paths).flatMap((operations) => Object.keys(operations));
  assert.ok(operations.length >= 50, `only ${operations.length} operations`);
  const problems = undocumented(document);
  assert.deepEqual(problems.filter((text) => !(text in EXCEPTIONS)), []);
  assert.deepEqual(Object.keys(EXCEPTIONS).filter((exception) => !problems.includes(exception)), [], 'an exception no longer needed');
  assert.ok(document.components.schemas?.ErrorResponse, 'the shared error schema is a component');
});

test('a route added without docs fails the walk', async () => {
  const bare = Fastify();
  await registerApiDocs(bare);
  bare.get('/api/v1/undocumented/:org', async () => ({}));
  bare.post('/api/v1/half/:org', { schema: { summary: 'Half documented', tags: ['pipelines'], security: [{ apiKey: [] }], response: { 200: { type: 'object' } } } }, async () => ({}));
  await bare.ready();
  const problems = undocumented(bare.swagger() as unknown as OpenApiDocument);
  await bare.close();
  for (const expected of ['GET /api/v1/undocumented/{org}: no summary', 'GET /api/v1/undocumented/{org}: no tags', 'GET /api/v1/undocumented/{org}: declares no security', 'GET /api/v1/undocumented/{org}: does not declare 401', 'POST /api/v1/half/{org}: does not declare 413', 'POST /api/v1/half/{org}: does not declare 403']) {
    assert.ok(problems.includes(expected), `${expected} not found among ${problems.join('; ')}`);
  }
});

test('security says which keys each route takes: each scheme it names gets past the key check, any other does not', async () => {
  const SAMPLE: Record<string, string> = { org: org.org_slug, provider: 'demo', domain: 'usage', pipeline: 'daily_cost' };
  const headers: Record<string, Record<string, string>> = { apiKey: { 'x-api-key': org.api_key }, rootKey: { 'x-ca-root-key': ROOT_KEY } };
  const mismatches: string[] = [];
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (PUBLIC_ROUTES.has(routeName(method, path))) continue;
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => SAMPLE[name] ?? '00000000-0000-4000-8000-00000000000f');
      const declared = new Set((operation.security ?? []).flatMap((requirement) => Object.keys(requirement)));
      for (const [scheme, header] of Object.entries(headers)) {
        // Unknown ids and empty bodies, on this test's own org: refused by validation, not found, or harmless.
        const response = await server.inject({ method: method.toUpperCase() as 'GET', url, headers: header, ...(BODY_METHODS.has(method) ? { payload: {} } : {}) });
        const accepted = response.statusCode !== 401;
        if (accepted !== declared.has(scheme)) mismatches.push(`${method.toUpperCase()} ${path} with ${scheme}: ${response.statusCode}, declares ${[...declared].join(', ') || 'nothing'}`);
      }
    }
  }
  assert.deepEqual(mismatches, []);
});

test('the docs UI renders the document in Chromium under its CSP, offline', { skip: existsSync('/usr/bin/chromium') ? false : 'Chromium is not installed (apt-get install chromium; .ci/run installs it)' }, async () => {
  const { chromium } = await import('playwright-core');
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    await page.route('**/*', (route) => (route.request().url().startsWith(address) ? route.continue() : (elsewhere.push(route.request().url()), route.abort())));
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    await page.goto(`${address}/docs`);
    await page.waitForSelector('.swagger-ui .info .title', { timeout: 20_000 });
    assert.match(await page.textContent('.swagger-ui .info .title') ?? '', /FinOps pipeline service/);
    const shown = await page.locator('.opblock').count();
    const documented = Object.values(document.paths).reduce((sum, operations) => sum + Object.keys(operations).length, 0);
    assert.equal(shown, documented, 'every operation is shown');
    assert.deepEqual(violations, [], 'the page keeps to its CSP');
    assert.deepEqual(elsewhere, [], 'nothing is fetched from another origin');
  } finally {
    await browser.close();
  }
});

function validatorMissing(): string | false {
  return spawnSync('openapi-spec-validator', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'openapi-spec-validator is not installed (pip install openapi-spec-validator)';
}
