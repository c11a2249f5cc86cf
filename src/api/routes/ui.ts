import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The dashboard's own files: a page, ES modules and CSS served as they are (no build step). */
const UI_DIR = join(import.meta.dirname, '..', '..', 'ui');

/**
 * The front-end libraries, served from their installed packages under fixed names. Preact's
 * hooks import the bare specifier "preact", which a browser resolves only through an import map:
 * an inline script a same-origin CSP refuses, so the specifier is pointed at the served file instead.
 */
const VENDOR: Record<string, { specifier: string; rewrite?: [string, string] }> = {
  'preact.js': { specifier: 'preact' },
  'preact-hooks.js': { specifier: 'preact/hooks', rewrite: ['from"preact"', 'from"./preact.js"'] },
  'htm.js': { specifier: 'htm' },
  'uplot.js': { specifier: 'uplot/dist/uPlot.esm.js' },
  'uplot.css': { specifier: 'uplot/dist/uPlot.min.css' },
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(name: string, body: Buffer): Asset {
  const type = TYPES[extname(name)];
  if (!type) throw new Error(`dashboard asset ${name} has no known content type`);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** Every asset by its path under /ui/, read once at start: a request can only name one of them, never a file path. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(UI_DIR, { withFileTypes: true })) if (entry.isFile()) assets.set(entry.name, asset(entry.name, readFileSync(join(UI_DIR, entry.name))));
  for (const [name, { specifier, rewrite }] of Object.entries(VENDOR)) {
    let text = readFileSync(fileURLToPath(import.meta.resolve(specifier)), 'utf8');
    if (rewrite) {
      if (!text.includes(rewrite[0])) throw new Error(`dashboard asset vendor/${name}: ${specifier} no longer imports ${rewrite[0]}; update src/api/routes/ui.ts`);
      text = text.replaceAll(rewrite[0], rewrite[1]);
    }
    assets.set(`vendor/${name}`, asset(name, Buffer.from(text)));
  }
  const index = assets.get('index.html');
  if (!index) throw new Error(`dashboard page ${join(UI_DIR, 'index.html')} is missing`);
  assets.set('', index);
  return assets;
}

/** The dashboard at /ui (issue 14, item 6). Public: the page holds no data; it asks the API with the key the user signs in with. */
export function uiRoutes(server: FastifyInstance): void {
  const assets = loadAssets();
  server.get('/ui', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui/'));
  server.get<{ Params: { '*': string } }>('/ui/*', { schema: { hide: true } }, async (request, reply) => {
    const found = assets.get(request.params['*']);
    if (!found) return reply.code(404).send({ error: { code: 'not_found', message: 'No such dashboard file' }, request_id: request.id });
    // Revalidated on every load (ETag), so a new version of the service is never mixed with cached modules.
    reply.header('cache-control', 'no-cache').header('etag', found.etag).header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === found.etag) return reply.code(304).send();
    return reply.type(found.type).send(found.body);
  });
}
