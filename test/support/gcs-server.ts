/**
 * A local GCS speaking the JSON API the way @google-cloud/storage calls it with `apiEndpoint`:
 * `GET /storage/v1/b/{bucket}/o` pages (prefix, maxResults, pageToken / nextPageToken, sizes as
 * strings), media downloads (`/o/{name}?alt=media`) with `x-goog-hash` (crc32c and md5) and
 * `x-goog-stored-content-encoding`; a gzip-encoded object is sent as stored to a client that
 * accepts gzip and decoded for one that does not (GCS's decompressive transcoding). Errors are
 * GCS's JSON bodies with their status (401, 403 forbidden, 404 notFound, 429 rateLimitExceeded,
 * 503 backendError). Requests carry a bearer token of the OAuth test server; a service account
 * reads only the buckets it was granted.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { CRC32C } from '@google-cloud/storage';
import type { GoogleOAuthTestServer } from './google-oauth-server.ts';
import { listenLocal } from './listen-local.ts';

interface StoredObject {
  body: Buffer;
  contentEncoding?: string;
  generation: string;
}

export interface GcsRequest {
  method: string;
  bucket: string;
  object: string | undefined;
  query: Record<string, string>;
  identity: string | undefined;
  status: number;
}

export interface GcsFault {
  operation?: 'list' | 'get';
  object?: string;
  status: 403 | 404 | 429 | 500 | 503;
  times: number;
}

export interface GcsTestServer {
  apiEndpoint: string;
  requests: GcsRequest[];
  /** Lets a service account (by email) read a bucket. */
  grant(email: string, bucket: string): void;
  put(bucket: string, name: string, body: Buffer | string, options?: { contentEncoding?: string }): void;
  fail(fault: GcsFault): void;
  pageSize: number;
  close(): Promise<void>;
}

const REASONS: Record<number, [string, string]> = {
  401: ['required', 'Anonymous caller does not have storage.objects.list access to the Google Cloud Storage bucket.'],
  403: ['forbidden', 'does not have storage.objects.get access to the Google Cloud Storage object. Permission denied on resource (or it may not exist).'],
  404: ['notFound', 'The specified bucket does not exist.'],
  429: ['rateLimitExceeded', 'The rate of change requests to the bucket exceeds the rate limit. Please reduce the rate of create, update, and delete requests.'],
  500: ['backendError', 'We encountered an internal error. Please try again.'],
  503: ['backendError', 'We encountered an internal error. Please try again.'],
};

export async function startGcsServer(oauth: GoogleOAuthTestServer): Promise<GcsTestServer> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const grants = new Map<string, Set<string>>();
  const faults: GcsFault[] = [];
  const requests: GcsRequest[] = [];
  const state = { pageSize: 1000, generation: 1_780_000_000_000_000 };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (error) {
      sendError(res, 500, (error as Error).message);
    }
  });

  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
    const query = Object.fromEntries(url.searchParams);
    const bucket = decodeURIComponent(match?.[1] ?? '');
    const name = match?.[2] === undefined ? undefined : decodeURIComponent(match[2]);
    const record: GcsRequest = { method: req.method ?? '', bucket, object: name, query, identity: oauth.identity(req.headers.authorization), status: 200 };
    requests.push(record);
    const answer = (status: number, message?: string) => {
      record.status = status;
      sendError(res, status, message ?? (status === 403 ? `${record.identity ?? 'Anonymous caller'} ${REASONS[403]![1]}` : REASONS[status]?.[1] ?? 'Error'));
    };
    if (!match || req.method !== 'GET') return answer(404, 'Not Found');
    if (!record.identity) return answer(401, 'Invalid Credentials');
    const operation = name === undefined ? 'list' : 'get';
    const fault = faults.find((f) => (!f.operation || f.operation === operation) && (!f.object || f.object === name));
    if (fault) {
      if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
      return answer(fault.status);
    }
    const objects = buckets.get(bucket);
    if (!objects) return answer(404);
    if (!grants.get(record.identity)?.has(bucket)) return answer(403);

    if (operation === 'list') {
      const prefix = query.prefix ?? '';
      const names = [...objects.keys()].filter((n) => n.startsWith(prefix)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const from = query.pageToken ? Number(Buffer.from(query.pageToken, 'base64url').toString()) : 0;
      const max = Math.min(Number(query.maxResults ?? 1000), state.pageSize);
      const page = names.slice(from, from + max);
      const items = page.map((n) => resource(bucket, n, objects.get(n)!));
      const next = from + max < names.length ? Buffer.from(String(from + max)).toString('base64url') : undefined;
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify({ kind: 'storage#objects', ...(next ? { nextPageToken: next } : {}), ...(items.length ? { items } : {}) }));
      return;
    }
    const object = objects.get(name!);
    if (!object) return answer(404, `No such object: ${bucket}/${name}`);
    if (query.alt !== 'media') {
      res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(resource(bucket, name!, object)));
      return;
    }
    const gzip = object.contentEncoding === 'gzip';
    const sendStored = !gzip || /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = sendStored ? object.body : gunzipSync(object.body);
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'x-goog-generation': object.generation,
      'x-goog-stored-content-encoding': gzip ? 'gzip' : 'identity',
      'x-goog-stored-content-length': String(object.body.length),
      'x-goog-hash': `crc32c=${crc32c(object.body)},md5=${createHash('md5').update(object.body).digest('base64')}`,
      ...(gzip && sendStored ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(body);
  }

  function resource(bucket: string, name: string, object: StoredObject) {
    return {
      kind: 'storage#object',
      id: `${bucket}/${name}/${object.generation}`,
      name,
      bucket,
      generation: object.generation,
      size: String(object.body.length),
      contentType: 'application/octet-stream',
      ...(object.contentEncoding ? { contentEncoding: object.contentEncoding } : {}),
      md5Hash: createHash('md5').update(object.body).digest('base64'),
      crc32c: crc32c(object.body),
      timeCreated: '2026-06-02T04:00:00.000Z',
      updated: '2026-06-02T04:00:00.000Z',
    };
  }

  const listening = await listenLocal(server);
  return {
    apiEndpoint: listening.url,
    requests,
    get pageSize() {
      return state.pageSize;
    },
    set pageSize(value: number) {
      state.pageSize = value;
    },
    grant(email, bucket) {
      if (!grants.has(email)) grants.set(email, new Set());
      grants.get(email)!.add(bucket);
    },
    put(bucket, name, body, options = {}) {
      if (!buckets.has(bucket)) buckets.set(bucket, new Map());
      buckets.get(bucket)!.set(name, { body: Buffer.from(body), generation: String(state.generation++), ...options });
    },
    fail(fault) {
      faults.push({ ...fault });
    },
    close: listening.close,
  };
}

function crc32c(body: Buffer): string {
  const crc = new CRC32C();
  crc.update(body);
  return crc.toString();
}

function sendError(res: ServerResponse, status: number, message: string) {
  const reason = REASONS[status]?.[0] ?? 'invalid';
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } }));
}
