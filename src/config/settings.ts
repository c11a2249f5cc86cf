import { isIP } from 'node:net';
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
  /** WAREHOUSE: the embedded DuckDB file, or BigQuery (a dataset per org; any number of worker processes). */
  readonly warehouse: 'duckdb' | 'bigquery';
  /** BigQuery's project (BIGQUERY_PROJECT), location of datasets and jobs, every query job's maximumBytesBilled, and the dataset procedures are created in (BIGQUERY_PROCEDURES_DATASET). */
  readonly bigquery: { readonly project: string | undefined; readonly location: string; readonly maximumBytesBilled: number | undefined; readonly proceduresDataset: string };
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
  /** Audit log entries older than this many days are deleted by the same sweep; 0 keeps them forever (docs/audit.md). */
  readonly auditRetentionDays: number;
  /** Longest start_date..end_date a run may cover. */
  readonly maxRangeDays: number;
  /** Seconds between two scheduler passes of a long-lived process; 0 runs no scheduler in it. */
  readonly schedulerIntervalSeconds: number;
  /** What a person should be told at start-up about the environment (NODE_ENV=production is not ENVIRONMENT=production). */
  readonly warnings: readonly string[];
  /** Provider API base URLs from the environment, as the official SDKs read them; a credential's base_url wins. */
  readonly providerBaseUrls: Readonly<Record<string, string>>;
  /** Most bytes one run's gs:// and s3:// downloads may hold in its scratch folder (`{dataDir}/scratch/`). */
  readonly sourceScratchMaxBytes: number;
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
  /** Request rate limits (docs/limits.md): per org (per client address without a valid key) and over all requests. */
  readonly rateLimitEnabled: boolean;
  readonly rateLimitPerOrgPerMinute: number;
  readonly rateLimitGlobalPerMinute: number;
  /** The rate limits' counters, shared by every process; each process counts its own without it. */
  readonly redisUrl: Secret | undefined;
  /** Prefix of the counters' Redis keys, so deployments sharing one Redis keep apart. */
  readonly rateLimitRedisPrefix: string;
  /** Browser origins allowed to call the API (`*` for any); none by default. */
  readonly corsOrigins: readonly string[];
  /** Access-Control-Allow-Credentials. The API's keys travel in headers, not cookies, so it is off by default. */
  readonly corsAllowCredentials: boolean;
  /** Largest request body of the JSON routes (the plans CSV has its own limit). */
  readonly bodyLimitBytes: number;
  /** Fastify's trustProxy: which hops' X-Forwarded-For to believe, so the address behind a load balancer is the client's. */
  readonly trustProxy: boolean | number | readonly string[];
  /** From this UTC hour on, a process that executes runs evaluates each org's cost alerts once that day (docs/alerts.md). */
  readonly alertPassHourUtc: number;
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

  const bool = (name: string, fallback = false): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'false') return false;
    if (raw === 'true') return true;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
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
    warehouse: warehouseKind(env.WAREHOUSE, problems),
    bigquery: Object.freeze({
      project: env.BIGQUERY_PROJECT || undefined,
      location: env.BIGQUERY_LOCATION || 'US',
      maximumBytesBilled: env.BIGQUERY_MAXIMUM_BYTES_BILLED ? int('BIGQUERY_MAXIMUM_BYTES_BILLED', 0, 1, Number.MAX_SAFE_INTEGER) : undefined,
      proceduresDataset: datasetName('BIGQUERY_PROCEDURES_DATASET', env.BIGQUERY_PROCEDURES_DATASET || 'organizations', problems),
    }),
    projectId: env.GCP_PROJECT_ID ?? 'local',
    logLevel: env.LOG_LEVEL ?? 'info',
    workerConcurrency: int('WORKER_CONCURRENCY', 4, 0, 64),
    stepConcurrency: int('STEP_CONCURRENCY', 4, 1, 64),
    leaseSeconds: int('RUN_LEASE_SECONDS', 30, 2, 3600),
    stepStopGraceSeconds: int('STEP_STOP_GRACE_SECONDS', 30, 1, 3600),
    logRetentionDays: int('RUN_LOG_RETENTION_DAYS', 90, 1, 3660),
    qualityRetentionDays: int('QUALITY_RETENTION_DAYS', 400, 1, 3660),
    auditRetentionDays: int('AUDIT_RETENTION_DAYS', 400, 0, 36600),
    maxRangeDays: int('MAX_RUN_RANGE_DAYS', 366, 1, 3660),
    schedulerIntervalSeconds: int('SCHEDULER_INTERVAL_SECONDS', 15, 0, 3600),
    warnings:
      env.NODE_ENV === 'production' && environment !== 'production'
        ? [`NODE_ENV=production is ignored: this service reads ENVIRONMENT (now ${environment}); set ENVIRONMENT=production for production's checks and dataset names`]
        : [],
    providerBaseUrls: providerBaseUrls(env, problems),
    sourceScratchMaxBytes: int('SOURCE_SCRATCH_MAX_BYTES', 20 * 2 ** 30, 1, Number.MAX_SAFE_INTEGER),
    metricsOrgLabels: bool('METRICS_ORG_LABELS'),
    metricsPublic: bool('METRICS_PUBLIC'),
    metricsToken: env.METRICS_TOKEN ? new Secret(env.METRICS_TOKEN) : undefined,
    smtpUrl: secretUrl('SMTP_URL', env.SMTP_URL, /^smtps?:\/\/\S+$/, 'smtp://[user:pass@]host[:port] or smtps://...', problems),
    smtpFrom: env.SMTP_FROM || 'FinOps pipelines <notifications@localhost>',
    publicBaseUrl: (env.PUBLIC_BASE_URL || `http://localhost:${env.PORT || 8001}`).replace(/\/+$/, ''),
    notifyIntervalSeconds: int('NOTIFY_INTERVAL_SECONDS', 5, 0, 3600),
    notifyTimeoutSeconds: int('NOTIFY_TIMEOUT_SECONDS', 10, 1, 120),
    rateLimitEnabled: bool('RATE_LIMIT_ENABLED', true),
    rateLimitPerOrgPerMinute: int('RATE_LIMIT_REQUESTS_PER_MINUTE', 100, 1, 100_000_000),
    rateLimitGlobalPerMinute: int('RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE', 10_000, 1, 100_000_000),
    redisUrl: secretUrl('REDIS_URL', env.REDIS_URL, /^rediss?:\/\/\S+$/, 'redis://[user:pass@]host[:port][/db] or rediss://...', problems),
    rateLimitRedisPrefix: env.RATE_LIMIT_REDIS_PREFIX || `finops-pipeline:${ENVIRONMENTS[environment] ?? 'dev'}:rate-limit:`,
    corsOrigins: corsOrigins(env.CORS_ORIGINS, problems),
    corsAllowCredentials: bool('CORS_ALLOW_CREDENTIALS'),
    bodyLimitBytes: int('API_BODY_LIMIT_BYTES', 1_048_576, 1024, 64 * 1_048_576),
    trustProxy: trustProxy(env.TRUST_PROXY, problems),
    alertPassHourUtc: int('ALERT_PASS_HOUR_UTC', 6, 0, 23),
  };
  if (settings.warehouse === 'bigquery' && !settings.bigquery.project) problems.push('BIGQUERY_PROJECT is required with WAREHOUSE=bigquery (the project that holds the org datasets and runs the jobs)');
  if (!/^https?:\/\/\S+$/.test(settings.publicBaseUrl)) problems.push(`PUBLIC_BASE_URL must be an http or https URL, got "${settings.publicBaseUrl}"`);

  if (environment === 'production') problems.push(...productionProblems(settings));
  if (problems.length > 0) throw new SettingsError(`Invalid settings:\n- ${problems.join('\n- ')}`);
  return Object.freeze({ ...settings, warnings: [...settings.warnings, ...limitWarnings(settings)] });
}

/**
 * OPENAI_BASE_URL and ANTHROPIC_BASE_URL, read as the official SDKs read them; the endpoints of
 * the org sources' clients (AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_STS as the AWS SDK names
 * them; an S3-compatible store or a test server, addressed path-style).
 */
const BASE_URL_VARIABLES = { openai: 'OPENAI_BASE_URL', anthropic: 'ANTHROPIC_BASE_URL', gcs: 'GCS_API_ENDPOINT', s3: 'AWS_ENDPOINT_URL_S3', sts: 'AWS_ENDPOINT_URL_STS', bigquery: 'BIGQUERY_API_ENDPOINT' } as const;

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

/** A URL that may hold a password (SMTP_URL, REDIS_URL): kept as a Secret, and never quoted in a problem. */
function secretUrl(name: string, value: string | undefined, scheme: RegExp, shape: string, problems: string[]): Secret | undefined {
  if (!value) return undefined;
  if (!scheme.test(value)) problems.push(`${name} must be ${shape}`);
  return new Secret(value);
}

function warehouseKind(value: string | undefined, problems: string[]): Settings['warehouse'] {
  if (!value || value === 'duckdb') return 'duckdb';
  if (value === 'bigquery') return 'bigquery';
  problems.push(`WAREHOUSE must be duckdb or bigquery, got "${value}"`);
  return 'duckdb';
}

/** A BigQuery dataset id: letters, digits and underscores, at most 1024. */
function datasetName(name: string, value: string, problems: string[]): string {
  if (/^[A-Za-z0-9_]{1,1024}$/.test(value)) return value;
  problems.push(`${name} must be a BigQuery dataset id (letters, digits and _), got "${value}"`);
  return 'organizations';
}

/** A comma list of exact origins (`https://app.example.com`: no path, no trailing slash), or `*` alone. */
function corsOrigins(value: string | undefined, problems: string[]): readonly string[] {
  const origins = (value ?? '').split(',').map((origin) => origin.trim()).filter(Boolean);
  if (origins.includes('*') && origins.length > 1) problems.push('CORS_ORIGINS is either * or a list of origins, not both');
  for (const origin of origins) {
    if (origin !== '*' && !/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/.test(origin)) problems.push(`CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port], without a path or trailing slash)`);
  }
  return Object.freeze(origins);
}

/** TRUST_PROXY: true (every hop), a hop count, or a comma list of proxy addresses or CIDR ranges. */
function trustProxy(value: string | undefined, problems: string[]): Settings['trustProxy'] {
  if (!value || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d{1,2}$/.test(value)) return Number(value);
  const proxies = value.split(',').map((proxy) => proxy.trim()).filter(Boolean);
  for (const proxy of proxies) {
    const [address = '', bits, extra] = proxy.split('/');
    if (isIP(address) === 0 || extra !== undefined || (bits !== undefined && !/^\d{1,3}$/.test(bits))) problems.push(`TRUST_PROXY: "${proxy}" is not true, false, a hop count, or an address or CIDR range`);
  }
  return Object.freeze(proxies);
}

/** What start-up says about limits that hold but not as an operator may think. */
function limitWarnings(settings: Settings): string[] {
  const warnings: string[] = [];
  if (settings.environment !== 'production' && settings.corsOrigins.includes('*') && settings.corsAllowCredentials) warnings.push('CORS_ORIGINS=* with CORS_ALLOW_CREDENTIALS=true: browsers refuse credentialed requests to any origin, and production refuses to start with it');
  if (settings.environment === 'production' && settings.rateLimitEnabled && !settings.redisUrl) warnings.push('REDIS_URL is not set: each process counts its own rate limits, so N processes allow N times RATE_LIMIT_REQUESTS_PER_MINUTE and RATE_LIMIT_GLOBAL_REQUESTS_PER_MINUTE');
  return warnings;
}

/** Production refuses to start on weak settings rather than run insecurely. */
function productionProblems(settings: Settings): string[] {
  const problems: string[] = [];
  if (!settings.rootApiKey) problems.push('CA_ROOT_API_KEY is required in production');
  else if (settings.rootApiKey.length < 32) problems.push('CA_ROOT_API_KEY must be at least 32 characters in production');
  if (!settings.kmsKeyName) problems.push('KMS_KEY_NAME is required in production (credentials must not be sealed with a local key file)');
  if (!settings.databaseUrl) problems.push('DATABASE_URL is required in production (the embedded PGlite control plane is single-process)');
  if (settings.metricsToken !== undefined && settings.metricsToken.reveal().length < 32) problems.push('METRICS_TOKEN must be at least 32 characters in production');
  if (!settings.rateLimitEnabled) problems.push('RATE_LIMIT_ENABLED must be true in production (the per-org and global request limits protect every tenant)');
  if (settings.corsOrigins.includes('*') && settings.corsAllowCredentials) problems.push('CORS_ORIGINS=* with CORS_ALLOW_CREDENTIALS=true would let any web page send requests with its visitors\' credentials: list the frontend origins in CORS_ORIGINS');
  if (settings.metricsPublic && settings.metricsOrgLabels) problems.push('METRICS_PUBLIC=true with METRICS_ORG_LABELS=true would show every tenant\'s name to anyone who reaches /metrics; set METRICS_TOKEN instead');
  return problems;
}
