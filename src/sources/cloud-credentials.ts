import { ProcessorError } from '../shared/errors.ts';
import type { Secret } from '../shared/secret.ts';

/**
 * The org's stored credential for a cloud source, opened inside the step that reads it. Which
 * one: gs:// and bq:// read with the org's `gcp` credential, s3:// with its `aws` credential,
 * both of the run's `credential_id` (`default` unless the run names another). The credential
 * store is keyed by org, so a run can only ever open its own org's credentials.
 */
export interface StoredCredential {
  provider: string;
  credentialId: string;
  secret: Secret;
  metadata: Record<string, unknown>;
}

export const SOURCE_PROVIDERS = { gs: 'gcp', bq: 'gcp', s3: 'aws' } as const;

export interface GoogleServiceAccount {
  client_email: string;
  private_key: string;
  project_id?: string;
  /** Where the key's assertions are exchanged for tokens; Google's own unless the key says otherwise. */
  token_uri: string;
}

const refused = (credential: StoredCredential, what: string) =>
  new ProcessorError(`the org's ${credential.provider} credential "${credential.credentialId}" ${what}`, { retryable: false });

/** A service-account JSON key (what `gcloud iam service-accounts keys create` writes). */
export function googleServiceAccount(credential: StoredCredential): GoogleServiceAccount {
  let parsed: Partial<GoogleServiceAccount> & { type?: unknown };
  try {
    parsed = JSON.parse(credential.secret.reveal()) as typeof parsed;
  } catch {
    throw refused(credential, 'is not a service-account JSON key; gs:// and bq:// sources are read with one (gcloud iam service-accounts keys create)');
  }
  if (parsed?.type !== 'service_account' || typeof parsed.client_email !== 'string' || typeof parsed.private_key !== 'string') {
    throw refused(credential, 'is JSON but not a service-account key (type "service_account", client_email, private_key)');
  }
  const tokenUri = typeof parsed.token_uri === 'string' ? parsed.token_uri : 'https://oauth2.googleapis.com/token';
  if (!/^https?:\/\/\S+$/.test(tokenUri)) throw refused(credential, 'has a token_uri that is not an http(s) URL');
  return { client_email: parsed.client_email, private_key: parsed.private_key, token_uri: tokenUri, ...(typeof parsed.project_id === 'string' ? { project_id: parsed.project_id } : {}) };
}

export interface AwsAccessKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
}

/**
 * Access keys as JSON: `{"access_key_id", "secret_access_key", "session_token"?}`, or the
 * `AccessKeyId` / `SecretAccessKey` / `SessionToken` spelling that `aws iam create-access-key` and
 * `aws sts` print. The region (metadata.region, us-east-1 by default) is where requests are
 * signed for; a bucket elsewhere is followed by its redirect.
 */
export function awsAccessKeys(credential: StoredCredential): AwsAccessKeys {
  if (typeof credential.metadata.role_arn === 'string') {
    throw refused(credential, "names a role (metadata.role_arn): assuming a role needs AWS STS (@aws-sdk/client-sts), which this service does not include; store the access keys of a user or session allowed to read the bucket");
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(credential.secret.reveal()) as Record<string, unknown>;
  } catch {
    throw refused(credential, 'is not JSON access keys; s3:// sources are read with {"access_key_id": "...", "secret_access_key": "..."}');
  }
  const field = (...names: string[]) => names.map((name) => parsed?.[name]).find((value): value is string => typeof value === 'string' && value.length > 0);
  const accessKeyId = field('access_key_id', 'AccessKeyId', 'aws_access_key_id');
  const secretAccessKey = field('secret_access_key', 'SecretAccessKey', 'aws_secret_access_key');
  const sessionToken = field('session_token', 'SessionToken', 'aws_session_token');
  if (!accessKeyId || !/^[A-Z0-9]{16,128}$/.test(accessKeyId) || !secretAccessKey) {
    throw refused(credential, 'needs access_key_id (16-128 uppercase letters or digits) and secret_access_key to read s3:// sources');
  }
  const region = credential.metadata.region ?? 'us-east-1';
  if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region)) throw refused(credential, 'has a metadata.region that is not an AWS region such as eu-west-1');
  return { accessKeyId, secretAccessKey, region, ...(sessionToken ? { sessionToken } : {}) };
}
