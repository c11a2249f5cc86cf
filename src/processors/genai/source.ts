import type { Logger } from '../../shared/logger.ts';
import type { Secret } from '../../shared/secret.ts';
import type { AuthConfig } from '../http/auth.ts';
import type { HttpClient } from '../http/http-client.ts';
import type { HttpDeps } from '../http/http-deps.ts';
import type { ProviderCredential } from '../types.ts';

export const GENAI_PROVIDERS = ['openai', 'anthropic', 'gemini', 'deepseek'] as const;
export type GenaiProvider = (typeof GENAI_PROVIDERS)[number];
export type GenaiReport = 'usage' | 'costs' | 'balance';

/** The provider organisation a credential belongs to: FOCUS BillingAccountId / Name. */
export interface BillingAccount {
  id: string;
  name: string;
}

export interface SourceRun {
  client: HttpClient;
  baseUrl: URL;
  /** The run's days, inclusive. */
  startDate: string;
  endDate: string;
  account: BillingAccount;
  credential: ProviderCredential;
  options: SourceOptions;
  now: Date;
  logger: Logger;
}

/** The step config fields a source reads. */
export interface SourceOptions {
  endpoints?: string[] | undefined;
  bucket_limit?: number | undefined;
  gcp_project_id?: string | undefined;
  metrics?: { type: string; direction: 'input' | 'output' }[] | undefined;
}

/** One report of one provider: where it is, how to authenticate, and its rows. */
export interface ReportSource {
  provider: GenaiProvider;
  report: GenaiReport;
  /** "OpenAI", for messages. */
  label: string;
  table: string;
  /** Schema file under configs/schemas. */
  schema: string;
  defaultBaseUrl: string;
  headers?: Record<string, string>;
  /** How the credential goes on requests; a source may first exchange it (Google service accounts). */
  authorize(credential: ProviderCredential, exchange: TokenExchange): Promise<{ config: AuthConfig; secret: Secret }>;
  /** The rows, one batch per page, fetched as they are consumed. */
  rows(run: SourceRun): AsyncIterable<Record<string, unknown>[]>;
  /** The x_pipeline_run_date of each row: a column of the raw table. */
  runDateColumn: string;
  /**
   * A report of the moment rather than of the run's days (DeepSeek's balance): each run adds
   * one snapshot, filed by this column (its time), and replaces only a snapshot of the same time.
   */
  snapshotTimeColumn?: string;
}

/** What a source may use to turn its credential into a request token. */
export interface TokenExchange {
  deps: HttpDeps;
  signal: AbortSignal;
  logger: Logger;
  orgSlug: string;
  credentialId: string;
}

/** Unix seconds of a day's midnight (UTC). */
export function unixDay(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/** The UTC day of a Unix time or an ISO time. */
export function dayOf(value: number | string): string {
  return new Date(typeof value === 'number' ? value * 1000 : value).toISOString().slice(0, 10);
}

export function isoOf(value: number | string): string {
  return new Date(typeof value === 'number' ? value * 1000 : value).toISOString();
}

/** A bucket outside the run's days would fall outside the partition replaced; such rows are counted and dropped. */
export function inRange(day: string, run: Pick<SourceRun, 'startDate' | 'endDate'>): boolean {
  return day >= run.startDate && day <= run.endDate;
}
