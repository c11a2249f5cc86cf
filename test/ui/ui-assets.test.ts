import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { openPglite } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';

/** The dashboard's files as the server sends them (the browser suite needs Chromium; this does not). */
let cp: ControlPlane;
let app: App;
let server: FastifyInstance;
before(async () => {
  cp = await openPglite();
  app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0' } });
  server = await buildServer(app);
});
after(async () => {
  await server?.close();
  await app?.close();
  await cp?.close();
});

test('/ui redirects to the page, which loads only same-origin files and no inline script', async () => {
  const redirect = await server.inject({ url: '/ui' });
  assert.equal(redirect.statusCode, 302);
  assert.equal(redirect.headers.location, '/ui/');
  const page = await server.inject({ url: '/ui/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  const sources = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(sources, ['/ui/vendor/uplot.css', '/ui/app.css', '/ui/main.js']);
  assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'an inline script');
  for (const source of sources) assert.equal((await server.inject({ url: source as string })).statusCode, 200, source);
});

test('every module the page imports is served, as JavaScript, and Preact hooks import the served Preact', async () => {
  const seen = new Set<string>();
  const visit = async (path: string): Promise<void> => {
    if (seen.has(path)) return;
    seen.add(path);
    const response = await server.inject({ url: path });
    assert.equal(response.statusCode, 200, path);
    assert.match(String(response.headers['content-type']), /^text\/javascript/, path);
    for (const [, specifier] of response.body.matchAll(/\bimport\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+)["']/g)) {
      assert.match(specifier as string, /^\.\.?\//, `${path} imports the bare specifier ${specifier}, which no browser resolves without an import map`);
      await visit(new URL(specifier as string, `http://x${path}`).pathname);
    }
  };
  await visit('/ui/main.js');
  assert.ok(seen.has('/ui/vendor/preact.js') && seen.has('/ui/vendor/preact-hooks.js') && seen.has('/ui/vendor/uplot.js') && seen.has('/ui/vendor/htm.js'), [...seen].join(' '));
});

test('revalidated by ETag; an unknown or escaping path is a 404 in the error shape', async () => {
  const first = await server.inject({ url: '/ui/app.css' });
  assert.equal(first.headers['cache-control'], 'no-cache');
  const again = await server.inject({ url: '/ui/app.css', headers: { 'if-none-match': String(first.headers.etag) } });
  assert.equal(again.statusCode, 304);
  for (const url of ['/ui/nothing.js', '/ui/../package.json', '/ui/%2e%2e/package.json', '/ui/vendor/../../src/main/app.ts']) {
    const response = await server.inject({ url });
    assert.equal(response.statusCode, 404, url);
    assert.equal((response.json() as { error: { code: string } }).error.code, 'not_found', url);
  }
});
