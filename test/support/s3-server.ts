/**
 * A local S3 speaking the REST API the way @aws-sdk/client-s3 calls it with `endpoint` and
 * `forcePathStyle` (`/{bucket}/{key}`): ListObjectsV2 XML pages with continuation tokens,
 * GetObject streamed from memory or from a file on disk, and S3's XML errors with their real
 * status codes (NoSuchBucket and NoSuchKey 404, AccessDenied, InvalidAccessKeyId and
 * SignatureDoesNotMatch 403, SlowDown 503). Every request must carry a SigV4 Authorization
 * header of a known access key, whose signature is recomputed with that key's secret (the SDK's
 * own signer, over the headers the request says it signed); a key reads only the buckets it was
 * granted.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sigV4Authorization, signedWith, xml } from './aws-sigv4.ts';
import { listenLocal } from './listen-local.ts';

interface StoredObject {
  body?: Buffer;
  file?: string;
  size: number;
  contentEncoding?: string;
  etag: string;
}

export interface S3Request {
  method: string;
  bucket: string;
  key: string;
  query: Record<string, string>;
  accessKeyId: string | undefined;
  status: number;
}

export interface S3Fault {
  /** Which requests it hits: `list`, `get`, or both when absent; a key to hit only that object. */
  operation?: 'list' | 'get';
  key?: string;
  status: number;
  code: string;
  message: string;
  /** How many requests it answers before it is spent. */
  times: number;
}

export interface S3TestServer {
  endpoint: string;
  /** Every request answered, in order. */
  requests: S3Request[];
  /** Registers an access key and the buckets it may read; a session's key also needs its token (x-amz-security-token). */
  grant(accessKeyId: string, secretAccessKey: string, buckets: string[], sessionToken?: string): void;
  put(bucket: string, key: string, body: Buffer | string, options?: { contentEncoding?: string }): void;
  /** An object served from a file (benchmarks: nothing is held in memory). */
  putFile(bucket: string, key: string, path: string, options?: { contentEncoding?: string }): Promise<void>;
  /** Answers the next matching requests with an S3 error. */
  fail(fault: S3Fault): void;
  /** Objects per ListObjectsV2 page, whatever max-keys asks (to test continuation). */
  pageSize: number;
  /** GetObject bodies sent this many bytes at a time, one chunk per 50 ms (to cancel a download midway); 0: at once. */
  trickleBytes: number;
  /** GetObject responses whose client went away before the whole body was sent. */
  readonly abortedBodies: number;
  close(): Promise<void>;
}

export async function startS3Server(): Promise<S3TestServer> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const keys = new Map<string, { secret: string; buckets: Set<string>; sessionToken?: string | undefined }>();
  const faults: S3Fault[] = [];
  const requests: S3Request[] = [];
  const tokens = new Map<string, string>();
  const state = { pageSize: 1000, trickleBytes: 0, abortedBodies: 0 };

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalError', (error as Error).message);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // The path as sent: URL() would resolve the `..` segments a key may hold, and S3 signs them as they are.
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const [bucket = '', ...rest] = rawPath.slice(1).split('/');
    const key = decodeURIComponent(rest.join('/'));
    const query = Object.fromEntries(url.searchParams);
    const record: S3Request = { method: req.method ?? '', bucket, key, query, accessKeyId: undefined, status: 200 };
    requests.push(record);
    const answer = (status: number, code: string, message: string) => {
      record.status = status;
      sendError(res, status, code, message, bucket, key);
    };

    const auth = sigV4Authorization(req, 's3');
    if (!auth) return answer(403, 'AccessDenied', 'Anonymous access is denied: a SigV4 Authorization header is required.');
    record.accessKeyId = auth.accessKeyId;
    const granted = keys.get(auth.accessKeyId);
    if (!granted) return answer(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    if (!(await signedWith(req, auth, { url, path: rawPath, secretAccessKey: granted.secret }))) {
      return answer(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
    }
    if (granted.sessionToken !== undefined && (req.headers['x-amz-security-token'] !== granted.sessionToken || !auth.signedHeaders.includes('x-amz-security-token'))) {
      return answer(400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
    }

    const operation = key === '' ? 'list' : 'get';
    const fault = faults.find((f) => (!f.operation || f.operation === operation) && (!f.key || f.key === key));
    if (fault) {
      if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
      return answer(fault.status, fault.code, fault.message);
    }
    const objects = buckets.get(bucket);
    if (!objects) return answer(404, 'NoSuchBucket', 'The specified bucket does not exist');
    if (!granted.buckets.has(bucket)) return answer(403, 'AccessDenied', 'Access Denied');
    if (req.method !== 'GET') return answer(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');

    if (operation === 'list') {
      if (query['list-type'] !== '2') return answer(400, 'InvalidArgument', 'Only ListObjectsV2 is served here');
      const prefix = query.prefix ?? '';
      const names = [...objects.keys()].filter((name) => name.startsWith(prefix)).sort(byBytes);
      const after = query['continuation-token'] ? tokens.get(query['continuation-token']) : query['start-after'];
      if (query['continuation-token'] && after === undefined) return answer(400, 'InvalidArgument', 'The continuation token provided is incorrect');
      const from = after === undefined ? 0 : names.findIndex((name) => byBytes(name, after) > 0);
      const max = Math.min(Number(query['max-keys'] ?? 1000), state.pageSize);
      const page = from < 0 ? [] : names.slice(from, from + max);
      const truncated = from >= 0 && from + max < names.length;
      const next = truncated ? randomUUID() : undefined;
      if (next) tokens.set(next, page[page.length - 1]!);
      const encode = query['encoding-type'] === 'url' ? (text: string) => encodeURIComponent(text).replace(/%2F/g, '/') : (text: string) => text;
      const contents = page
        .map((name) => {
          const object = objects.get(name)!;
          return `<Contents><Key>${xml(encode(name))}</Key><LastModified>2026-06-02T04:00:00.000Z</LastModified><ETag>&quot;${object.etag}&quot;</ETag><Size>${object.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
        })
        .join('');
      const body =
        `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xml(bucket)}</Name><Prefix>${xml(encode(prefix))}</Prefix>` +
        `<KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys>${query['encoding-type'] === 'url' ? '<EncodingType>url</EncodingType>' : ''}<IsTruncated>${truncated}</IsTruncated>` +
        `${query['continuation-token'] ? `<ContinuationToken>${xml(query['continuation-token'])}</ContinuationToken>` : ''}${next ? `<NextContinuationToken>${next}</NextContinuationToken>` : ''}${contents}</ListBucketResult>`;
      res.writeHead(200, { 'content-type': 'application/xml', 'x-amz-request-id': requestId() });
      res.end(body);
      return;
    }

    const object = objects.get(key);
    if (!object) return answer(404, 'NoSuchKey', 'The specified key does not exist.');
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(object.size),
      etag: `"${object.etag}"`,
      'last-modified': 'Tue, 02 Jun 2026 04:00:00 GMT',
      'x-amz-request-id': requestId(),
      ...(object.contentEncoding ? { 'content-encoding': object.contentEncoding } : {}),
    });
    res.on('close', () => {
      if (!res.writableFinished) state.abortedBodies++;
    });
    if (state.trickleBytes > 0 && object.body) return trickle(res, object.body, state.trickleBytes);
    if (object.body) res.end(object.body);
    else createReadStream(object.file!).pipe(res);
  }

  const listening = await listenLocal(server);
  const bucketOf = (name: string) => {
    let objects = buckets.get(name);
    if (!objects) buckets.set(name, (objects = new Map()));
    return objects;
  };
  return {
    endpoint: listening.url,
    requests,
    get pageSize() {
      return state.pageSize;
    },
    set pageSize(value: number) {
      state.pageSize = value;
    },
    get trickleBytes() {
      return state.trickleBytes;
    },
    set trickleBytes(value: number) {
      state.trickleBytes = value;
    },
    get abortedBodies() {
      return state.abortedBodies;
    },
    grant(accessKeyId, secretAccessKey, names, sessionToken) {
      keys.set(accessKeyId, { secret: secretAccessKey, buckets: new Set(names), sessionToken });
    },
    put(bucket, key, body, options = {}) {
      const bytes = Buffer.from(body);
      bucketOf(bucket).set(key, { body: bytes, size: bytes.length, etag: createHash('md5').update(bytes).digest('hex'), ...options });
    },
    async putFile(bucket, key, path, options = {}) {
      const { size } = await stat(path);
      bucketOf(bucket).set(key, { file: path, size, etag: createHash('md5').update(`${path}:${size}`).digest('hex'), ...options });
    },
    fail(fault) {
      faults.push({ ...fault });
    },
    close: listening.close,
  };
}

function trickle(res: ServerResponse, body: Buffer, size: number) {
  let offset = 0;
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer);
    res.write(body.subarray(offset, offset + size));
    offset += size;
    if (offset >= body.length) {
      clearInterval(timer);
      res.end();
    }
  }, 50);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, bucket = '', key = '') {
  const id = requestId();
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message>${bucket ? `<BucketName>${xml(bucket)}</BucketName>` : ''}${key ? `<Key>${xml(key)}</Key>` : ''}<RequestId>${id}</RequestId><HostId>${Buffer.from(id).toString('base64')}</HostId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': id, ...(code === 'SlowDown' ? { 'retry-after': '0' } : {}) });
  res.end(body);
}

const requestId = () => randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
/** S3 lists keys in UTF-8 byte order. */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
