import type { TSchema, Static } from '@sinclair/typebox';
import type { Logger } from '../shared/logger.ts';
import type { QualityResult } from '../shared/quality.ts';
import type { Secret } from '../shared/secret.ts';
import type { RunScratch } from '../sources/scratch.ts';
import type { Lineage, Warehouse } from '../warehouse/warehouse.ts';
import type { ProcedureTexts } from '../procedures/procedure-texts.ts';

/** What a step's processor is given. It never sees the control plane or HTTP. */
export interface ProcessorContext {
  orgSlug: string;
  /** The org's dataset, `{org_slug}_{env}`. */
  dataset: string;
  runId: string;
  pipelineId: string;
  stepId: string;
  credentialId: string;
  /** The run's resolved date range, inclusive (`YYYY-MM-DD`). */
  startDate: string;
  endDate: string;
  /** Every template variable of the run (dates, ids, run parameters), for SQL parameters. */
  variables: Record<string, string>;
  lineage: Lineage;
  warehouse: Warehouse;
  configsDir: string;
  /** Procedure SQL (configs/system/procedures): the version registered in the warehouse, else the file. */
  procedures: ProcedureTexts;
  /** Files runs may read; this org's are below `{sourceRoot}/{orgSlug}/` and nowhere else (src/sources/). */
  sourceRoot: string;
  /** The run's bounded scratch folder, removed when the run ends: where gs://, s3:// and bq:// sources are downloaded (src/sources/scratch.ts). */
  scratch: RunScratch;
  /** Provider API base URLs from the environment (OPENAI_BASE_URL, ANTHROPIC_BASE_URL under a credential's own base_url; the sources' GCS_API_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_STS, BIGQUERY_API_ENDPOINT). */
  providerBaseUrls: Readonly<Record<string, string>>;
  logger: Logger;
  /** Aborted on timeout and on cancel: long work must pass it on or check it. */
  signal: AbortSignal;
  /** The org's provider credentials, decrypted only when a step asks for them. */
  credentials: CredentialAccess;
  /** Keeps data-quality results with the run (stored even when the step then fails). */
  recordQuality(results: QualityResult[]): void;
}

export type { QualityResult };

export interface ProviderCredential {
  provider: string;
  credentialId: string;
  secret: Secret;
  /** Non-secret settings stored with it: base_url, organization id, scopes, ... */
  metadata: Record<string, unknown>;
}

export interface CredentialAccess {
  /** The run's credential for `provider` (the run's credential_id unless given); NotFoundError when there is none. */
  get(provider: string, credentialId?: string): Promise<ProviderCredential>;
}

export interface ProcessorResult {
  rowsWritten: number;
  tables: string[];
  details?: Record<string, unknown>;
}

export interface Processor<S extends TSchema = TSchema> {
  /** `provider.name`, the `ps_type` of the steps it runs. */
  readonly type: string;
  readonly description: string;
  /** Schema of the step's `config` block, checked when configs load. */
  readonly configSchema: S;
  run(config: Static<S>, context: ProcessorContext): Promise<ProcessorResult>;
  /** Providers whose credential the step needs: checked while the run is validating, before any step runs. */
  requiredCredentials?(config: Static<S>): string[];
}

export function defineProcessor<S extends TSchema>(processor: Processor<S>): Processor<S> {
  return processor;
}
