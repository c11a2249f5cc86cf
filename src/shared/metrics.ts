import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics, in one place: every name, label and bucket is here, and the
 * rest of the code only calls the recorders below (a counter increment, a histogram observation:
 * nothing per row). One registry per process, built by the composition root (main/app.ts).
 *
 * Labels stay bounded: pipeline routes, ps_types, tables and providers come from the configs
 * and the processor registry, statuses and reasons are closed sets, and no run id or message
 * is ever a label. The org is a label only when the operator asks for it (METRICS_ORG_LABELS),
 * and then only on counters: a histogram's series are multiplied by its buckets.
 */

/** Why a run request was refused at admission. */
export type AdmissionRejection = 'quota_daily' | 'quota_monthly' | 'quota_concurrent' | 'not_allowed' | 'bad_input' | 'not_found';

/** What one provider HTTP attempt came to: its status class, or why it has none. */
export type HttpOutcome = '2xx' | '3xx' | '4xx' | '5xx' | 'network_error' | 'invalid_body';

/** Read from the control plane at scrape time, never on a hot path. */
export interface ScrapeSources {
  /** Runs waiting for a worker, runs held by one, and the age of the oldest waiting one. */
  queue?: () => Promise<{ queued: number; held: number; oldestQueuedSeconds: number }>;
  /** The PostgreSQL pool's connections; undefined for PGlite, which has no pool. */
  pool?: () => { total: number; idle: number; waiting: number; max: number } | undefined;
}

export interface Metrics {
  /** A worker began executing a run (a run recovered from a lost worker counts again). */
  runStarted(labels: { org: string; pipeline: string; trigger: string }): void;
  /** A run's end was written. */
  runEnded(labels: { org: string; pipeline: string; status: string }): void;
  /** A step ended; `seconds` spans all its attempts and retry waits. */
  stepEnded(labels: { psType: string; status: string }, seconds: number): void;
  admissionRejected(labels: { org: string; pipeline: string; reason: AdmissionRejection }): void;
  /** One HTTP attempt to a provider API (each retry is another). */
  providerRequest(labels: { org: string; provider: string; outcome: HttpOutcome }): void;
  providerRetry(labels: { org: string; provider: string }): void;
  /** A 429 answer. */
  providerRateLimited(labels: { org: string; provider: string }): void;
  /** Rows committed to a warehouse table (the table's name, without the org's dataset). */
  rowsWritten(labels: { org: string; table: string }, rows: number): void;
  /** A batch of a scheduler pass: its ticks by outcome, and each admitted tick's lag (now - scheduled_for). */
  ticksAdmitted(outcomes: { enqueued: number; deferred: number; skipped: number }, lagSeconds: readonly number[]): void;
  /** One notification delivery attempt's outcome (for src/notifications/). */
  notificationDelivery(labels: { org: string; channelKind: string; outcome: 'sent' | 'retrying' | 'failed' | 'skipped' }): void;
  /** Where the scrape-time gauges read from: the control plane, once it is open. */
  readFrom(sources: ScrapeSources): void;
  /** The text exposition, with its content type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export type RunMetrics = Pick<Metrics, 'runStarted' | 'runEnded' | 'stepEnded' | 'rowsWritten'>;
export type HttpMetrics = Pick<Metrics, 'providerRequest' | 'providerRetry' | 'providerRateLimited'>;
export type AdmissionMetrics = Pick<Metrics, 'admissionRejected' | 'runEnded'>;
export type SchedulerMetrics = Pick<Metrics, 'ticksAdmitted'>;
export type NotificationMetrics = Pick<Metrics, 'notificationDelivery'>;

/** Steps take from milliseconds (a small transform) to an hour (a month of a cloud export). */
const STEP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** A pass runs every SCHEDULER_INTERVAL_SECONDS (15 s); a tick deferred by quota waits up to a day or a month. */
const LAG_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 900, 3600, 21600, 86400];

export function createMetrics(options: { orgLabels: boolean; processMetrics?: boolean }): Metrics {
  const register = new Registry();
  const registers = [register];
  const orgs = options.orgLabels;
  const names = <T extends string>(labels: T[]): string[] => (orgs ? ['org', ...labels] : labels);
  const withOrg = <T extends Record<string, string>>(org: string, labels: T): Record<string, string> => (orgs ? { org, ...labels } : labels);

  const runsStarted = new Counter({ name: 'finops_runs_started_total', help: 'Runs a worker of this process began executing, by pipeline route and trigger', labelNames: names(['pipeline', 'trigger']), registers });
  const runsEnded = new Counter({ name: 'finops_runs_ended_total', help: 'Runs ended by this process, by pipeline route and end status', labelNames: names(['pipeline', 'status']), registers });
  const stepDuration = new Histogram({ name: 'finops_step_duration_seconds', help: 'Step duration, all attempts and retry waits included, by processor and end status', labelNames: ['ps_type', 'status'], buckets: STEP_BUCKETS, registers });
  const rejections = new Counter({ name: 'finops_run_admission_rejections_total', help: 'Run requests refused at admission, by pipeline route and reason', labelNames: names(['pipeline', 'reason']), registers });
  const httpRequests = new Counter({ name: 'finops_provider_http_requests_total', help: 'HTTP attempts to provider APIs, by provider and outcome', labelNames: names(['provider', 'outcome']), registers });
  const httpRetries = new Counter({ name: 'finops_provider_http_retries_total', help: 'Provider HTTP requests retried, by provider', labelNames: names(['provider']), registers });
  const http429 = new Counter({ name: 'finops_provider_http_rate_limited_total', help: 'Provider HTTP answers 429 Too Many Requests, by provider', labelNames: names(['provider']), registers });
  const rows = new Counter({ name: 'finops_warehouse_rows_written_total', help: 'Rows committed to warehouse tables, by table (without the org dataset)', labelNames: names(['table']), registers });
  const ticks = new Counter({ name: 'finops_schedule_ticks_total', help: 'Schedule ticks decided by scheduler passes, by outcome', labelNames: ['outcome'], registers });
  const lag = new Histogram({ name: 'finops_schedule_lag_seconds', help: 'Time from a tick\'s scheduled time to its admission as a run', buckets: LAG_BUCKETS, registers });
  const deliveries = new Counter({ name: 'finops_notification_deliveries_total', help: 'Notification delivery attempts, by channel kind and outcome', labelNames: names(['channel_kind', 'outcome']), registers });
  // The scrape-time gauges join the registry only once they have a source (readFrom): a
  // process without a control plane pool shows no pool gauges rather than a made-up 0.
  const gauge = (name: string, help: string) => ({ name, gauge: new Gauge({ name, help, registers: [] }) });
  const queued = gauge('finops_run_queue_depth', 'Runs admitted and waiting for a worker (read at scrape)');
  const held = gauge('finops_run_queue_held', 'Runs held by a live worker\'s lease (read at scrape)');
  const oldest = gauge('finops_run_queue_oldest_age_seconds', 'Age of the oldest run waiting for a worker, 0 when none waits (read at scrape)');
  const poolTotal = gauge('finops_control_plane_pool_connections', 'Open connections of the PostgreSQL control plane pool');
  const poolIdle = gauge('finops_control_plane_pool_idle_connections', 'Idle connections of the PostgreSQL control plane pool');
  const poolWaiting = gauge('finops_control_plane_pool_waiting_clients', 'Queries waiting for a connection of the PostgreSQL control plane pool');
  const poolMax = gauge('finops_control_plane_pool_max_connections', 'Size limit of the PostgreSQL control plane pool');
  const queueGauges = [queued, held, oldest];
  const poolGauges = [poolTotal, poolIdle, poolWaiting, poolMax];
  const scrapeErrors = new Counter({ name: 'finops_metrics_scrape_errors_total', help: 'Scrape-time reads that failed (their gauges are left out of that scrape)', labelNames: ['source'], registers });
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register });
    // Gauges that prom-client names like counters: `promtool check metrics` refuses the `_total`
    // suffix on a gauge, and dashboards would treat them as counters (rate()).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) register.removeSingleMetric(name);
  }

  let sources: ScrapeSources = {};
  async function readSources(): Promise<void> {
    if (sources.queue) {
      try {
        const stats = await sources.queue();
        queued.gauge.set(stats.queued);
        held.gauge.set(stats.held);
        oldest.gauge.set(stats.oldestQueuedSeconds);
        for (const { gauge } of queueGauges) register.registerMetric(gauge);
      } catch {
        // A control plane that is down must not fail the scrape of everything else, nor show
        // the last depth read as the current one (a gauge without labels always has a value).
        for (const { name } of queueGauges) register.removeSingleMetric(name);
        scrapeErrors.inc({ source: 'run_queue' });
      }
    }
    const pool = sources.pool?.();
    if (pool) {
      poolTotal.gauge.set(pool.total);
      poolIdle.gauge.set(pool.idle);
      poolWaiting.gauge.set(pool.waiting);
      poolMax.gauge.set(pool.max);
    }
  }

  return {
    runStarted: ({ org, pipeline, trigger }) => runsStarted.inc(withOrg(org, { pipeline, trigger })),
    runEnded: ({ org, pipeline, status }) => runsEnded.inc(withOrg(org, { pipeline, status })),
    stepEnded: ({ psType, status }, seconds) => stepDuration.observe({ ps_type: psType, status }, Math.max(0, seconds)),
    admissionRejected: ({ org, pipeline, reason }) => rejections.inc(withOrg(org, { pipeline, reason })),
    providerRequest: ({ org, provider, outcome }) => httpRequests.inc(withOrg(org, { provider, outcome })),
    providerRetry: ({ org, provider }) => httpRetries.inc(withOrg(org, { provider })),
    providerRateLimited: ({ org, provider }) => http429.inc(withOrg(org, { provider })),
    rowsWritten: ({ org, table }, count) => {
      if (count > 0) rows.inc(withOrg(org, { table }), count);
    },
    ticksAdmitted: (outcomes, lagSeconds) => {
      for (const outcome of ['enqueued', 'deferred', 'skipped'] as const) if (outcomes[outcome] > 0) ticks.inc({ outcome }, outcomes[outcome]);
      for (const seconds of lagSeconds) lag.observe(Math.max(0, seconds));
    },
    notificationDelivery: ({ org, channelKind, outcome }) => deliveries.inc(withOrg(org, { channel_kind: channelKind, outcome })),
    readFrom(next) {
      sources = next;
      for (const { name } of [...queueGauges, ...poolGauges]) register.removeSingleMetric(name);
      if (next.queue) for (const { gauge } of queueGauges) register.registerMetric(gauge);
      if (next.pool?.()) for (const { gauge } of poolGauges) register.registerMetric(gauge);
    },
    async scrape() {
      await readSources();
      return { contentType: register.contentType, body: await register.metrics() };
    },
  };
}
