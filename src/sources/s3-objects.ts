import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { ProcessorError } from '../shared/errors.ts';
import type { AwsAccessKeys, AwsRole } from './cloud-credentials.ts';
import type { ObjectStore } from './object-store.ts';
import { retrying } from './retry.ts';

/**
 * An S3 bucket read with the org's access keys (@aws-sdk/client-s3, SigV4), or with the session
 * keys of the role they assume (`sessionName` is what the bucket owner's CloudTrail shows).
 * `endpoint` (AWS_ENDPOINT_URL_S3) is an S3-compatible store or a test server, addressed
 * path-style; `stsEndpoint` (AWS_ENDPOINT_URL_STS) is where roles are assumed. The
 * SDK retries throttling (SlowDown, 429) and 5xx answers itself, 4 attempts in all with its
 * jittered backoff; what fails after that fails the step, retryable.
 */
export function s3Objects(bucket: string, keys: AwsAccessKeys, options: { endpoint?: string | undefined; stsEndpoint?: string | undefined; sessionName: string; label: string }): ObjectStore {
  const own: AccessKeys = { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey, ...(keys.sessionToken ? { sessionToken: keys.sessionToken } : {}) };
  const client = new S3Client({
    region: keys.region,
    credentials: keys.role ? assumedRole(keys.role, own, { region: keys.region, endpoint: options.stsEndpoint, sessionName: options.sessionName, label: options.label }) : own,
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : { followRegionRedirects: true }),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  });
  const failed = (error: unknown, what: string, signal: AbortSignal) => {
    signal.throwIfAborted();
    return s3Failure(error, `${options.label}: ${what}`);
  };
  return {
    scheme: 's3',
    bucket,
    async *list(prefix, signal) {
      let token: string | undefined;
      do {
        const command = new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 1000 });
        const page = await retrying(
          () =>
            client.send(command, { abortSignal: signal }).catch((error: unknown) => {
              throw failed(error, `listing s3://${bucket}/${prefix}`, signal);
            }),
          signal,
        );
        yield (page.Contents ?? []).map((object) => ({ name: object.Key ?? '', size: Number(object.Size ?? 0) }));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },
    async open({ name }, signal) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: name }), { abortSignal: signal }).catch((error: unknown) => {
        throw failed(error, `reading s3://${bucket}/${name}`, signal);
      });
      const gzip = /\bgzip\b/i.test(object.ContentEncoding ?? '');
      return { body: object.Body as Readable, contentEncoding: gzip ? 'gzip' : 'identity', gunzip: gzip };
    },
    readFailure: (error, name) => s3Failure(error, `${options.label}: reading s3://${bucket}/${name}`),
    close: () => client.destroy(),
  };
}

type AccessKeys = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/**
 * The role's session keys, asked of AWS STS (AssumeRole) with the stored keys when the first
 * request is signed, and again before they expire (the SDK's provider). A refusal fails the step
 * naming the role, not retried unless STS was throttling or failing.
 */
function assumedRole(role: AwsRole, own: AccessKeys, options: { region: string; endpoint?: string | undefined; sessionName: string; label: string }): ReturnType<typeof fromTemporaryCredentials> {
  const provider = fromTemporaryCredentials({
    masterCredentials: own,
    params: { RoleArn: role.arn, RoleSessionName: options.sessionName, DurationSeconds: 3600, ...(role.externalId ? { ExternalId: role.externalId } : {}) },
    clientConfig: { region: options.region, maxAttempts: 3, ...(options.endpoint ? { endpoint: options.endpoint } : {}) },
  });
  return (identityProperties) =>
    provider(identityProperties).catch((error: unknown) => {
      const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
      const code = (error as Error)?.name ?? 'Error';
      const said = (error as Error)?.message && (error as Error).message !== code ? `: ${(error as Error).message.slice(0, 300)}` : '';
      const retryable = status === undefined || status >= 500 || /Throttl|RequestLimitExceeded/.test(code);
      throw new ProcessorError(`${options.label}: assuming role ${role.arn} failed (${code}${status ? `, HTTP ${status}` : ''}${said})`, { retryable, cause: error });
    });
}

/** S3's error code and status in words that name the bucket or object, never the keys. */
function s3Failure(error: unknown, what: string): ProcessorError {
  if (error instanceof ProcessorError) return error;
  if (!(error instanceof S3ServiceException)) {
    return new ProcessorError(`${what}: ${(error as Error)?.message ?? String(error)}`, { retryable: true, cause: error });
  }
  const status = error.$metadata.httpStatusCode ?? 0;
  const code = error.name;
  const said = error.message && error.message !== code && error.message !== 'UnknownError' ? `: ${error.message.slice(0, 300)}` : '';
  const explain: Record<string, string> = {
    AccessDenied: "access denied to the org's aws credential",
    InvalidAccessKeyId: "the org's aws access key id is not known to S3",
    SignatureDoesNotMatch: "the org's aws secret access key does not match its key id",
    NoSuchBucket: 'the bucket does not exist',
    NoSuchKey: 'the object is gone (deleted after it was listed)',
  };
  const retryable = status === 429 || status >= 500 || code === 'SlowDown' || code === 'NoSuchKey';
  return new ProcessorError(`${what}: ${explain[code] ?? 'failed'} (${code}, HTTP ${status}${said})`, { retryable, cause: error });
}
