import { resolve } from 'node:path';
import { Secret } from '../shared/secret.ts';

/**
 * The only reader of process.env: parsed once, validated, frozen. Everything else receives
 * a Settings object, so tests build their own without touching the environment.
 */
export interface Settings {
  readonly environment: 'development' | 'staging' | 'production';
  /** Short name used in dataset names: `{org_slug}_{env}`. */
  readonly env: 'dev' | 'stage' | 'prod';
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly configsDir: string;
  /** Files runs may read: org X reads only below `{sourceRoot}/X/`. */
  readonly sourceRoot: string;
  readonly databaseUrl: string | undefined;
  readonly rootApiKey: string | undefined;
  /** Cloud KMS key wrapping credential data keys; a local key file under dataDir without it. */
  readonly kmsKeyName: string | undefined;
  /** DuckDB's memory limit (e.g. `4GB`); DuckDB's own default (80% of RAM) without it. */
  readonly warehouseMemoryLimit: string | undefined;
  readonly projectId: string;
  readonly logLevel: string;
  /** Runs one worker executes at once. */
  readonly workerConcurrency: number;
  /** Independent steps of one run executed at once. */
  readonly stepConcurrency: number;
  readonly leaseSeconds: number;
  /** How long a timed-out or cancelled step's processor gets to stop before the step is failed without a retry. */
  readonly stepStopGraceSeconds: number;
  /** Run log lines and data-quality results older than this many days are pruned by a periodic sweep. */
  readonly logRetentionDays: number;
  readonly qualityRetentionDays: number;
  /** Longest start_date..end_date a run may cover. */
  readonly maxRangeDays: number;
  /** Seconds between two scheduler passes of a long-lived process; 0 runs no scheduler in it. */
  readonly schedulerIntervalSeconds: number;
  /** What a person should be told at start-up about the environment (NODE_ENV=production is not ENVIRONMENT=production). */
  readonly warnings: readonly string[];
  /** Provider API base URLs from the environment, as the official SDKs read them; a credential's base_url wins. */
  readonly providerBaseUrls: Readonly<Record<string, string>>;
  /** Org slugs as a label of the per-run counters of /metrics (off: a label per tenant is the operator's choice). */
  readonly metricsOrgLabels: boolean;
  /** GET /metrics without a key, for a port only the monitoring network reaches. */
  readonly metricsPublic: boolean;
  /** A scrape-only token for GET /metrics (`Authorization: Bearer`), so Prometheus never holds the root key. */
  readonly metricsToken: Secret | undefined;
  /** Notifications' SMTP server: `smtp://user:pass@host:587` (STARTTLS) or `smtps://…:465`; email channels fail without it. */
  readonly smtpUrl: Secret | undefined;
  readonly smtpFrom: string;
  /** Where people reach this service: the links in notifications. */
  readonly publicBaseUrl: string;
  /** Seconds between two notifier passes of a long-lived process; 0 runs no notifier in it. */
  readonly notifyIntervalSeconds: number;
  /** Every SMTP or HTTP exchange of a notification ends within this. */
  readonly notifyTimeoutSeconds: number;
}

const ENVIRONMENTS = { development: 'dev', staging: 'stage', production: 'prod' } as const;

export class SettingsError extends Error {}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: string[] = [];
  const environment = (env.ENVIRONMENT ?? 'development') as Settings['environment'];
  if (!(environment in ENVIRONMENTS)) problems.push(`ENVIRONMENT must be one of ${Object.keys(ENVIRONMENTS).join(', ')}, got "${environment}"`);

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const bool = (name: string): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '' || raw === 'false') return false;
    if (raw === 'true') return true;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return false;
  };

  const dataDir = resolve(env.PIPELINE_DATA_DIR ?? 'data');
  const settings: Settings = {
    environment,
    env: ENVIRONMENTS[environment] ?? 'dev',
    host: env.HOST ?? '0.0.0.0',
    port: int('PORT', 8001, 0, 65535),
    dataDir,
    configsDir: resolve(env.PIPELINE_CONFIGS_DIR ?? 'configs'),
    sourceRoot: resolve(env.PIPELINE_SOURCE_ROOT || resolve(dataDir, 'sources')),
    databaseUrl: env.DATABASE_URL || undefined,
    rootApiKey: env.CA_ROOT_API_KEY || undefined,
    kmsKeyName: env.KMS_KEY_NAME || undefined,
    warehouseMemoryLimit: env.WAREHOUSE_MEMORY_LIMIT || undefined,
    projectId: env.GCP_PROJECT_ID ?? 'local',
    logLevel: env.LOG_LEVEL ?? 'info',
    workerConcurrency: int('WORKER_CONCURRENCY', 4, 0, 64),
    stepConcurrency: int('STEP_CONCURRENCY', 4, 1, 64),
    leaseSeconds: int('RUN_LEASE_SECONDS', 30, 2, 3600),
    stepStopGraceSeconds: int('STEP_STOP_GRACE_SECONDS', 30, 1, 3600),
    logRetentionDays: int('RUN_LOG_RETENTION_DAYS', 90, 1, 3660),
    qualityRetentionDays: int('QUALITY_RETENTION_DAYS', 400, 1, 3660),
    maxRangeDays: int('MAX_RUN_RANGE_DAYS', 366, 1, 3660),
    schedulerIntervalSeconds: int('SCHEDULER_INTERVAL_SECONDS', 15, 0, 3600),
    warnings:
      env.NODE_ENV === 'production' && environment !== 'production'
        ? [`NODE_ENV=production is ignored: this service reads ENVIRONMENT (now ${environment}); set ENVIRONMENT=production for production's checks and dataset names`]
        : [],
    providerBaseUrls: providerBaseUrls(env, problems),
    metricsOrgLabels: bool('METRICS_ORG_LABELS'),
    metricsPublic: bool('METRICS_PUBLIC'),
    metricsToken: env.METRICS_TOKEN ? new Secret(env.METRICS_TOKEN) : undefined,
    smtpUrl: smtpUrl(env.SMTP_URL, problems),
    smtpFrom: env.SMTP_FROM || 'FinOps pipelines <notifications@localhost>',
    publicBaseUrl: (env.PUBLIC_BASE_URL || `http://localhost:${env.PORT || 8001}`).replace(/\/+$/, ''),
    notifyIntervalSeconds: int('NOTIFY_INTERVAL_SECONDS', 5, 0, 3600),
    notifyTimeoutSeconds: int('NOTIFY_TIMEOUT_SECONDS', 10, 1, 120),
  };
  if (!/^https?:\/\/\S+$/.test(settings.publicBaseUrl)) problems.push(`PUBLIC_BASE_URL must be an http or https URL, got "${settings.publicBaseUrl}"`);

  if (environment === 'production') problems.push(...productionProblems(settings));
  if (problems.length > 0) throw new SettingsError(`Invalid settings:\n- ${problems.join('\n- ')}`);
  return Object.freeze(settings);
}

/** OPENAI_BASE_URL and ANTHROPIC_BASE_URL, read as the official SDKs read them. */
const BASE_URL_VARIABLES = { openai: 'OPENAI_BASE_URL', anthropic: 'ANTHROPIC_BASE_URL' } as const;

function providerBaseUrls(env: NodeJS.ProcessEnv, problems: string[]): Readonly<Record<string, string>> {
  const urls: Record<string, string> = {};
  for (const [provider, name] of Object.entries(BASE_URL_VARIABLES)) {
    const value = env[name];
    if (!value) continue;
    if (/^https?:\/\/\S+$/.test(value)) urls[provider] = value;
    else problems.push(`${name} must be an http or https URL, got "${value}"`);
  }
  return Object.freeze(urls);
}

/** SMTP_URL holds the SMTP password: kept as a Secret, and never quoted in a problem. */
function smtpUrl(value: string | undefined, problems: string[]): Secret | undefined {
  if (!value) return undefined;
  if (!/^smtps?:\/\/\S+$/.test(value)) problems.push('SMTP_URL must be smtp://[user:pass@]host[:port] or smtps://...');
  return new Secret(value);
}

/** Production refuses to start on weak settings rather than run insecurely. */
function productionProblems(settings: Settings): string[] {
  const problems: string[] = [];
  if (!settings.rootApiKey) problems.push('CA_ROOT_API_KEY is required in production');
  else if (settings.rootApiKey.length < 32) problems.push('CA_ROOT_API_KEY must be at least 32 characters in production');
  if (!settings.kmsKeyName) problems.push('KMS_KEY_NAME is required in production (credentials must not be sealed with a local key file)');
  if (!settings.databaseUrl) problems.push('DATABASE_URL is required in production (the embedded PGlite control plane is single-process)');
  if (settings.metricsToken !== undefined && settings.metricsToken.reveal().length < 32) problems.push('METRICS_TOKEN must be at least 32 characters in production');
  if (settings.metricsPublic && settings.metricsOrgLabels) problems.push('METRICS_PUBLIC=true with METRICS_ORG_LABELS=true would show every tenant\'s name to anyone who reaches /metrics; set METRICS_TOKEN instead');
  return problems;
}
