import type { Logger } from '../shared/logger.ts';
import { NotFoundError, ProcessorError } from '../shared/errors.ts';
import { awsAccessKeys, googleServiceAccount, SOURCE_PROVIDERS, type StoredCredential } from './cloud-credentials.ts';
import { serviceAccountAuthClient } from './google-auth-client.ts';
import type { ObjectStore } from './object-store.ts';
import { downloadObjects, type DownloadedObjects } from './remote-objects.ts';
import type { RunScratch } from './scratch.ts';
import type { SourceUri } from './source-uri.ts';

/** What reading a remote source needs of the step that reads it. */
export interface RemoteReadContext {
  orgSlug: string;
  pipelineId: string;
  runId: string;
  /** The run's credentials of its own org only (ProcessorContext.credentials). */
  credentials: { get(provider: string): Promise<StoredCredential> };
  scratch: RunScratch;
  /** GCS_API_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_STS, BIGQUERY_API_ENDPOINT (ProcessorContext.providerBaseUrls). */
  endpoints: Readonly<Record<string, string>>;
  dates: { start: string; end: string };
  signal: AbortSignal;
  logger: Logger;
}

const GCS_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_only';
const BIGQUERY_SCOPE = 'https://www.googleapis.com/auth/bigquery';

/** The org's credential for a scheme; none is a permanent failure naming how to add it (not an engine error). */
async function credentialFor(scheme: keyof typeof SOURCE_PROVIDERS, context: RemoteReadContext): Promise<StoredCredential> {
  try {
    return await context.credentials.get(SOURCE_PROVIDERS[scheme]);
  } catch (error) {
    if (error instanceof NotFoundError) throw new ProcessorError(`${scheme}:// sources are read with the org's ${SOURCE_PROVIDERS[scheme]} credential: ${error.message}`, { retryable: false, cause: error });
    throw error;
  }
}

/** The objects of a gs:// or s3:// source, downloaded into the scratch folder `folderName`. */
export async function fetchObjects(
  source: Extract<SourceUri, { kind: 'object_store' }>,
  context: RemoteReadContext,
  options: { folderName: string; keep: (name: string) => boolean },
): Promise<DownloadedObjects> {
  const credential = await credentialFor(source.scheme, context);
  const label = `${source.scheme}:// with the org's ${credential.provider} credential "${credential.credentialId}"`;
  let store: ObjectStore;
  if (source.scheme === 's3') {
    // The cloud SDKs load on first use: every CLI command and API process would pay for them at start (~0.4 s).
    const { s3Objects } = await import('./s3-objects.ts');
    store = s3Objects(source.bucket, awsAccessKeys(credential), { endpoint: context.endpoints.s3, stsEndpoint: context.endpoints.sts, sessionName: `finops-pipeline-${context.runId}`, label });
  } else {
    const key = googleServiceAccount(credential);
    const auth = serviceAccountAuthClient(key, { scope: GCS_SCOPE, label, signal: context.signal });
    const { gcsObjects } = await import('./gcs-objects.ts');
    store = gcsObjects(source.bucket, { auth, projectId: key.project_id, apiEndpoint: context.endpoints.gcs, label });
  }
  try {
    const folder = await context.scratch.folder(options.folderName);
    return await downloadObjects(store, source.pattern, { folder, keep: options.keep, signal: context.signal, logger: context.logger });
  } finally {
    store.close();
  }
}

/** A bq:// table's rows of the run's days, as one JSON-lines file in the scratch folder `folderName`. */
export async function fetchBigQueryTable(source: Extract<SourceUri, { kind: 'bigquery_table' }>, context: RemoteReadContext, options: { folderName: string }) {
  const credential = await credentialFor('bq', context);
  const label = `bq:// with the org's gcp credential "${credential.credentialId}"`;
  const key = googleServiceAccount(credential);
  const jobProject = key.project_id ?? source.project;
  if (!jobProject) throw new ProcessorError(`${label}: the service-account key names no project_id to run the query in`, { retryable: false });
  const auth = serviceAccountAuthClient(key, { scope: BIGQUERY_SCOPE, label, signal: context.signal });
  const folder = await context.scratch.folder(options.folderName);
  const { readBigQueryTable } = await import('./bigquery-table.ts');
  return readBigQueryTable(source, {
    auth,
    jobProject,
    apiEndpoint: context.endpoints.bigquery,
    dates: context.dates,
    labels: { org: labelValue(context.orgSlug), pipeline: labelValue(context.pipelineId), run: labelValue(context.runId) },
    folder,
    signal: context.signal,
    logger: context.logger,
    label,
  });
}

/** BigQuery label values: at most 63 lowercase letters, digits, `_` or `-`. */
function labelValue(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9_-]/g, '_').slice(0, 63);
}
