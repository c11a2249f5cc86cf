import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ProcessorError } from '../shared/errors.ts';
import type { AwsAccessKeys } from './cloud-credentials.ts';
import type { ObjectStore } from './object-store.ts';
import { retrying } from './retry.ts';

/**
 * An S3 bucket read with the org's access keys (@aws-sdk/client-s3, SigV4). `endpoint`
 * (AWS_ENDPOINT_URL_S3) is an S3-compatible store or a test server, addressed path-style. The
 * SDK retries throttling (SlowDown, 429) and 5xx answers itself, 4 attempts in all with its
 * jittered backoff; what fails after that fails the step, retryable.
 */
export function s3Objects(bucket: string, keys: AwsAccessKeys, options: { endpoint?: string | undefined; label: string }): ObjectStore {
  const client = new S3Client({
    region: keys.region,
    credentials: { accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey, ...(keys.sessionToken ? { sessionToken: keys.sessionToken } : {}) },
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

/** S3's error code and status in words that name the bucket or object, never the keys. */
function s3Failure(error: unknown, what: string): ProcessorError {
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
