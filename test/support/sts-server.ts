/**
 * A local AWS STS answering AssumeRole the way @aws-sdk/client-sts sends it (a form POST in the
 * query protocol, SigV4 for service `sts`) with STS's XML: a known key may assume the roles that
 * trust it, giving the external id a role's trust policy asks for; the session keys it hands out
 * are granted the role's buckets on the S3 test server, with their session token. Errors as STS
 * words them: InvalidClientTokenId and SignatureDoesNotMatch 403, AccessDenied 403 (a role that
 * does not trust the key, a missing or wrong external id), ValidationError 400, and injected
 * faults (Throttling 400, ServiceUnavailable 503).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { sigV4Authorization, signedWith, xml } from './aws-sigv4.ts';
import { listenLocal } from './listen-local.ts';
import type { S3TestServer } from './s3-server.ts';

export interface AssumeRoleRequest {
  accessKeyId: string;
  roleArn: string | undefined;
  roleSessionName: string | undefined;
  externalId: string | undefined;
  durationSeconds: number | undefined;
  status: number;
  /** The session key it handed out (a 200). */
  issued?: string;
}

export interface StsTestServer {
  endpoint: string;
  requests: AssumeRoleRequest[];
  /** A key that may call STS (an IAM user's). */
  key(accessKeyId: string, secretAccessKey: string): void;
  /** A role: the keys its trust policy lets assume it, the external id it asks, the buckets its sessions read. */
  role(arn: string, options: { trusts: string[]; externalId?: string; buckets: string[] }): void;
  /** Answers the next AssumeRole requests with an error. */
  fail(fault: { status: number; code: string; message: string; times: number }): void;
  close(): Promise<void>;
}

export async function startStsServer(s3: S3TestServer): Promise<StsTestServer> {
  const keys = new Map<string, string>();
  const roles = new Map<string, { trusts: Set<string>; externalId?: string | undefined; buckets: string[] }>();
  const faults: { status: number; code: string; message: string; times: number }[] = [];
  const requests: AssumeRoleRequest[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const auth = sigV4Authorization(req, 'sts');
    if (!auth) return sendError(res, 403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    const { accessKeyId } = auth;
    const form = new URLSearchParams(body);
    const duration = form.get('DurationSeconds');
    const record: AssumeRoleRequest = {
      accessKeyId,
      roleArn: form.get('RoleArn') ?? undefined,
      roleSessionName: form.get('RoleSessionName') ?? undefined,
      externalId: form.get('ExternalId') ?? undefined,
      durationSeconds: duration === null ? undefined : Number(duration),
      status: 200,
    };
    requests.push(record);
    const answer = (status: number, code: string, message: string) => {
      record.status = status;
      sendError(res, status, code, message);
    };
    const secret = keys.get(accessKeyId);
    if (!secret) return answer(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    if (!(await signedWith(req, auth, { url, path: url.pathname, secretAccessKey: secret, body }))) {
      return answer(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    }
    if (form.get('Action') !== 'AssumeRole' || form.get('Version') !== '2011-06-15') return answer(400, 'InvalidAction', `Could not find operation ${form.get('Action')} for version ${form.get('Version')}`);
    const fault = faults[0];
    if (fault) {
      if (--fault.times <= 0) faults.shift();
      return answer(fault.status, fault.code, fault.message);
    }
    const { roleArn, roleSessionName: session } = record;
    if (!session || !/^[\w+=,.@-]{2,64}$/.test(session)) {
      return answer(400, 'ValidationError', `1 validation error detected: Value '${session ?? ''}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`);
    }
    if (record.durationSeconds !== undefined && (record.durationSeconds < 900 || record.durationSeconds > 43_200)) {
      return answer(400, 'ValidationError', `1 validation error detected: Value '${record.durationSeconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900`);
    }
    const role = roleArn ? roles.get(roleArn) : undefined;
    if (!role || !role.trusts.has(accessKeyId) || (role.externalId !== undefined && record.externalId !== role.externalId)) {
      return answer(403, 'AccessDenied', `User: arn:aws:iam::444455556666:user/finops-vendor is not authorized to perform: sts:AssumeRole on resource: ${roleArn ?? ''}`);
    }
    const issued = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const sessionSecret = randomBytes(30).toString('base64');
    const token = randomBytes(96).toString('base64');
    s3.grant(issued, sessionSecret, role.buckets, token);
    record.issued = issued;
    const account = /::(\d{12}):/.exec(roleArn ?? '')?.[1] ?? '000000000000';
    const name = (roleArn ?? '').split('/').pop();
    const expiration = new Date(Date.now() + (record.durationSeconds ?? 3600) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
    res.end(
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <AssumeRoleResult>\n` +
        `    <AssumedRoleUser>\n      <AssumedRoleId>AROA${randomBytes(8).toString('hex').toUpperCase()}:${session}</AssumedRoleId>\n      <Arn>arn:aws:sts::${account}:assumed-role/${name}/${session}</Arn>\n    </AssumedRoleUser>\n` +
        `    <Credentials>\n      <AccessKeyId>${issued}</AccessKeyId>\n      <SecretAccessKey>${sessionSecret}</SecretAccessKey>\n      <SessionToken>${token}</SessionToken>\n      <Expiration>${expiration}</Expiration>\n    </Credentials>\n` +
        `  </AssumeRoleResult>\n  <ResponseMetadata>\n    <RequestId>${randomUUID()}</RequestId>\n  </ResponseMetadata>\n</AssumeRoleResponse>\n`,
    );
  }

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'InternalFailure', (error as Error).message);
      else res.destroy();
    });
  });
  const listening = await listenLocal(server);
  return {
    endpoint: listening.url,
    requests,
    key: (accessKeyId, secretAccessKey) => void keys.set(accessKeyId, secretAccessKey),
    role: (arn, options) => void roles.set(arn, { trusts: new Set(options.trusts), externalId: options.externalId, buckets: options.buckets }),
    fail: (fault) => void faults.push({ ...fault }),
    close: listening.close,
  };
}

function sendError(res: ServerResponse, status: number, code: string, message: string) {
  const id = randomUUID();
  res.writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': id });
  res.end(
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n    <Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type>\n    <Code>${code}</Code>\n    <Message>${xml(message)}</Message>\n  </Error>\n  <RequestId>${id}</RequestId>\n</ErrorResponse>\n`,
  );
}
