/**
 * AWS Signature V4 as the local AWS servers (S3, STS) check it: the Authorization header read,
 * and the signature recomputed with the key's secret by the SDK's own signer, over the headers
 * the request says it signed. Plus XML text escaping for their answers.
 */
import { createHash, createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SigV4Authorization {
  accessKeyId: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** The request's SigV4 Authorization header for `service`, or undefined when it has none of that shape. */
export function sigV4Authorization(req: IncomingMessage, service: string): SigV4Authorization | undefined {
  const match = new RegExp(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\\d{8})/([^/]+)/${service}/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$`).exec(req.headers.authorization ?? '');
  if (!match) return undefined;
  const [, accessKeyId, , region, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string];
  return { accessKeyId, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

/**
 * Whether the signature is the one the SDK's signer gives the request with the key's secret;
 * `body` for a request whose payload is signed by its hash (STS's form posts).
 */
export async function signedWith(req: IncomingMessage, auth: SigV4Authorization, request: { url: URL; path: string; secretAccessKey: string; body?: string }): Promise<boolean> {
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) headers[name] = String(req.headers[name] ?? '');
  const amzDate = headers['x-amz-date'] ?? '';
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const signer = new SignatureV4({ credentials: { accessKeyId: auth.accessKeyId, secretAccessKey: request.secretAccessKey }, region: auth.region, service: auth.service, sha256: Sha256, uriEscapePath: auth.service !== 's3', applyChecksum: false });
  const query: Record<string, string> = {};
  for (const [name, value] of request.url.searchParams) query[name] = value;
  const signed = await signer.sign(
    { method: req.method ?? 'GET', protocol: 'http:', hostname: request.url.hostname, path: request.path, query, headers, ...(request.body !== undefined ? { body: request.body } : {}) },
    { signingDate, unsignableHeaders: new Set(), signableHeaders: new Set(auth.signedHeaders) },
  );
  return /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ''))?.[1] === auth.signature;
}

/** The hash constructor the signer takes (node's crypto behind @smithy's Checksum shape). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: string | ArrayBuffer | ArrayBufferView) {
    this.hash.update(bytes(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
  reset() {}
}

const bytes = (data: string | ArrayBuffer | ArrayBufferView) =>
  typeof data === 'string' ? Buffer.from(data) : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);

export const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
