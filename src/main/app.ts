import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Settings } from '../config/settings.ts';
import { credentialService, type CredentialService } from '../credentials/credentials.ts';
import { keyWrapperFor } from '../credentials/key-wrapper.ts';
import { credentialStore } from '../store/credentials.ts';
import { auditStore, type AuditStore } from '../store/audit.ts';
import { auditProcedureChanges } from '../procedures/procedure-audit.ts';
import { procedureService, type ProcedureService } from '../procedures/procedure-service.ts';
import { procedureTexts } from '../procedures/procedure-texts.ts';
import { lazyProcedureCatalog } from '../procedures/lazy-catalog.ts';
import { procedureStore } from '../store/procedures.ts';
import { duckDbProcedureCatalog } from '../warehouse/duckdb/procedure-catalog.ts';
import { createWorker, type Worker, type WorkerOptions } from '../engine/worker.ts';
import { runRequests, type RunRequests } from '../engine/run-requests.ts';
import { countedRunRequests } from '../engine/run-request-metrics.ts';
import { ConfigLoadError, loadPipelineConfigs } from '../pipelines/load-configs.ts';
import { pipelineRegistry, type PipelineRegistry } from '../pipelines/registry.ts';
import { builtinProcessors } from '../processors/builtin.ts';
import type { ProcessorRegistry } from '../processors/registry.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import { randomIds, type IdGenerator } from '../shared/ids.ts';
import type { Logger } from '../shared/logger.ts';
import { createMetrics, type Metrics } from '../shared/metrics.ts';
import { executionStore, type ExecutionStore } from '../store/executions.ts';
import { maintenanceStore, type MaintenanceStore } from '../store/maintenance.ts';
import { openControlPlane, type ControlPlane } from '../store/open-control-plane.ts';
import { orgStore, type OrgStore, type PlanLimits } from '../store/orgs.ts';
import { runStore, type RunStore } from '../store/runs.ts';
import { scheduleStore, type ScheduleStore } from '../store/schedules.ts';
import { runQueueStats } from '../store/run-queue-stats.ts';
import { createScheduler, type Scheduler } from '../scheduler/scheduler.ts';
import { backfillService, type BackfillService } from '../scheduler/backfills.ts';
import { notificationService, type NotificationService } from '../notifications/notifications.ts';
import { costAlerts, type CostAlerts } from '../alerts/cost-alerts.ts';
import { evaluationsAfterLoads } from '../alerts/alert-passes.ts';
import { openDuckDbWarehouse } from '../warehouse/duckdb/duckdb-warehouse.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';

export interface App {
  settings: Settings;
  logger: Logger;
  clock: Clock;
  controlPlane: ControlPlane;
  pipelines: PipelineRegistry;
  processors: ProcessorRegistry;
  plans: Record<string, PlanLimits>;
  orgs: OrgStore;
  runs: RunStore;
  executions: ExecutionStore;
  maintenance: MaintenanceStore;
  requests: RunRequests;
  credentials: CredentialService;
  /** Admin and credential actions (src/api/audit.ts records the API's, docs/audit.md). */
  audit: AuditStore;
  schedules: ScheduleStore;
  /** Ticks schedules into runs; every long-lived process runs its loop (serve.ts). */
  scheduler: Scheduler;
  backfills: BackfillService;
  /** Notification settings, test-sends, history, and the notifier whose loop serve.ts runs. */
  notifications: NotificationService;
  /** Cost rules and alerts (docs/alerts.md); evaluation needs the warehouse of a process that executes runs. */
  alerts: CostAlerts;
  /** The procedures registered in the warehouse and their files (docs/procedures.md). */
  procedures: ProcedureService;
  /** This process's Prometheus metrics (GET /metrics). */
  metrics: Metrics;
  /** Present in processes that execute runs. */
  warehouse: Warehouse | undefined;
  worker: Worker | undefined;
  close(): Promise<void>;
}

export interface AppOptions {
  logger: Logger;
  clock?: Clock;
  ids?: IdGenerator;
  /** Execute runs in this process (opens the warehouse). */
  execute: boolean;
  /** Serve the embedded control plane to other local processes (a long-lived server). */
  shareControlPlane?: boolean;
  /** An already open control plane, for tests that share one database. */
  controlPlane?: ControlPlane;
  warehouse?: Warehouse;
  /** The processors pipelines may use; the built-in ones by default. */
  processors?: ProcessorRegistry;
  /** Worker tuning, for tests that drive leases and heartbeats quickly. */
  workerOptions?: Partial<WorkerOptions>;
  /** The process's metrics, when it builds more than one app (tests); one per app by default. */
  metrics?: Metrics;
}

/** The composition root every entry point (server, worker, CLI, tests) builds on. */
export async function createApp(settings: Settings, options: AppOptions): Promise<App> {
  const clock = options.clock ?? systemClock;
  const metrics = options.metrics ?? createMetrics({ orgLabels: settings.metricsOrgLabels });
  const processors = options.processors ?? builtinProcessors({ metrics });
  const loaded = await loadPipelineConfigs(settings.configsDir, processors);
  if (loaded.problems.length > 0) throw new ConfigLoadError(loaded.problems);
  const pipelines = pipelineRegistry(loaded.pipelines);
  const plans = await loadPlans(settings.configsDir);

  const controlPlane = options.controlPlane ?? (await openControlPlane({ dataDir: settings.dataDir, databaseUrl: settings.databaseUrl, share: options.shareControlPlane ?? false }));
  const ownsWarehouse = options.execute && !options.warehouse;
  let warehouse = options.warehouse;
  try {
    if (ownsWarehouse) warehouse = await openWarehouse(settings);
  } catch (error) {
    if (!options.controlPlane) await controlPlane.close();
    throw error;
  }
  const { db } = controlPlane;
  metrics.readFrom({ queue: () => runQueueStats(db, clock.now()), ...(db.poolUse ? { pool: db.poolUse } : {}) });
  const runs = runStore(db);
  const audit = auditStore(db);
  // One wrapper for credentials and notification channels: both seal with the same key.
  const wrapper = keyWrapperFor(settings);
  const credentials = credentialService({ store: credentialStore(db), audit, wrapper });
  const executions = executionStore(db);
  // Workers hear of admissions through the control plane's notifications (LISTEN / NOTIFY),
  // in this process and any other, so admission needs no in-process hook.
  const requests = countedRunRequests(runRequests({ db, pipelines, processors, runs, executions, clock, ids: options.ids ?? randomIds, settings }), { metrics, pipelines, runs });
  const backfills = backfillService({ db, pipelines, processors, executions, clock, logger: options.logger, settings });
  const schedules = scheduleStore(db);
  const registeredProcedures = procedureStore(db);
  // Without a warehouse of its own (no runs executed here), DuckDB's checks need only its parser;
  // BigQuery's are BigQuery's, through a warehouse opened when first needed.
  const lazyCatalog = !warehouse && settings.warehouse === 'bigquery' ? lazyProcedureCatalog(() => openWarehouse(settings)) : undefined;
  const procedureCatalog = warehouse?.procedures ?? lazyCatalog ?? duckDbProcedureCatalog();
  const alerts = costAlerts({ db, warehouse, env: settings.env, clock, logger: options.logger });
  const afterLoads = evaluationsAfterLoads(alerts, options.logger);
  const scheduler = createScheduler({ schedules, pipelines, processors, clock, logger: options.logger, settings, afterTicks: (now) => backfills.pass(now), metrics });
  const worker: Worker | undefined =
    options.execute && warehouse && settings.workerConcurrency > 0
      ? createWorker(
          { executions, runs, pipelines, processors, warehouse, credentials, clock, logger: options.logger, settings, metrics, onTablesWritten: afterLoads.tablesWritten, procedures: procedureTexts({ store: registeredProcedures, configsDir: settings.configsDir }) },
          { concurrency: settings.workerConcurrency, leaseMs: settings.leaseSeconds * 1000, ...options.workerOptions },
        )
      : undefined;

  return {
    settings,
    logger: options.logger,
    clock,
    controlPlane,
    pipelines,
    processors,
    plans,
    orgs: orgStore(db),
    runs,
    executions,
    maintenance: maintenanceStore(db),
    requests,
    credentials,
    audit,
    schedules,
    scheduler,
    backfills,
    metrics,
    notifications: notificationService({ db, settings, clock, logger: options.logger, metrics, wrapper }),
    alerts,
    procedures: procedureService({
      store: registeredProcedures,
      catalog: procedureCatalog,
      dialect: warehouse?.dialect ?? settings.warehouse,
      configsDir: settings.configsDir,
      clock,
      logger: options.logger,
      audit: auditProcedureChanges(audit),
    }),
    warehouse,
    worker,
    async close() {
      await worker?.stop();
      await afterLoads.idle();
      if (ownsWarehouse) await warehouse?.close();
      await lazyCatalog?.close();
      if (!options.controlPlane) await controlPlane.close();
    },
  };
}

/** The warehouse the settings name: BigQuery, or the embedded DuckDB file of the data folder (a clear message when another process has it open). */
export async function openWarehouse(settings: Settings, instead?: string): Promise<Warehouse> {
  if (settings.warehouse === 'bigquery') {
    // No file to hold: each process stages through a private scratch DuckDB, so any number of workers run at once.
    // Loaded only when configured: the BigQuery client is a large import for every process.
    const { openBigQueryWarehouse } = await import('../warehouse/bigquery/bigquery-warehouse.ts');
    return openBigQueryWarehouse({
      projectId: settings.bigquery.project as string,
      location: settings.bigquery.location,
      configsDir: settings.configsDir,
      apiEndpoint: settings.providerBaseUrls.bigquery,
      maximumBytesBilled: settings.bigquery.maximumBytesBilled,
      proceduresDataset: settings.bigquery.proceduresDataset,
      scratchRoot: settings.dataDir,
      scratchMemoryLimit: settings.warehouseMemoryLimit,
    });
  }
  const path = join(settings.dataDir, 'warehouse.duckdb');
  try {
    return await openDuckDbWarehouse({ path, configsDir: settings.configsDir, ...(settings.warehouseMemoryLimit ? { memoryLimit: settings.warehouseMemoryLimit } : {}) });
  } catch (error) {
    if (/lock/i.test((error as Error).message)) {
      throw new Error(
        `The embedded DuckDB warehouse ${path} is open in another process (a running server or worker): one process only may execute runs on it. ` +
          (instead ? `Next to a running server, use its API instead: ${instead}. ` : 'Send runs to that process through its API, or run the API with WORKER_CONCURRENCY=0 beside exactly one `pipeline worker`.'),
        { cause: error },
      );
    }
    throw error;
  }
}

async function loadPlans(configsDir: string): Promise<Record<string, PlanLimits>> {
  const file = JSON.parse(await readFile(join(configsDir, 'system', 'plans.json'), 'utf8')) as { plans: Record<string, Omit<PlanLimits, 'plan'>> };
  return Object.fromEntries(Object.entries(file.plans).map(([plan, limits]) => [plan, { plan, ...limits }]));
}
