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
  /** A role the keys assume (AWS STS AssumeRole) to read the bucket; its session keys sign the requests. */
  role?: AwsRole;
}

export interface AwsRole {
  arn: string;
  /** The external id the role's trust policy asks of this service (a third party's guard against the confused deputy). */
  externalId?: string;
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

/**
 * Access keys as JSON: `{"access_key_id", "secret_access_key", "session_token"?}`, or the
 * `AccessKeyId` / `SecretAccessKey` / `SessionToken` spelling that `aws iam create-access-key` and
 * `aws sts` print. The region (metadata.region, us-east-1 by default) is where requests are
 * signed for; a bucket elsewhere is followed by its redirect. With metadata.role_arn (and
 * metadata.external_id when the role's trust policy asks for one) the keys assume that role, the
 * way a customer grants a vendor's account access to its bucket.
 */
export function awsAccessKeys(credential: StoredCredential): AwsAccessKeys {
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
  const { role_arn: arn, external_id: externalId } = credential.metadata;
  if (arn !== undefined && (typeof arn !== 'string' || !ROLE_ARN.test(arn))) throw refused(credential, 'has a metadata.role_arn that is not an IAM role ARN such as arn:aws:iam::111122223333:role/cur-reader');
  if (externalId !== undefined && (arn === undefined || typeof externalId !== 'string' || !EXTERNAL_ID.test(externalId))) {
    throw refused(credential, arn === undefined ? 'has a metadata.external_id but no metadata.role_arn to assume with it' : 'has a metadata.external_id that is not 2-1224 letters, digits or +=,.@:/-_');
  }
  return {
    accessKeyId,
    secretAccessKey,
    region,
    ...(sessionToken ? { sessionToken } : {}),
    ...(typeof arn === 'string' ? { role: { arn, ...(typeof externalId === 'string' ? { externalId } : {}) } } : {}),
  };
}
