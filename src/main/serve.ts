import type { Settings } from '../config/settings.ts';
import { buildServer } from '../api/server.ts';
import { createLogger } from '../shared/logger.ts';
import { startSweeper } from '../engine/sweeper.ts';
import { startSchedulerLoop } from '../scheduler/scheduler.ts';
import { startNotifier } from '../notifications/notifier.ts';
import { startAlertLoop } from '../alerts/alert-passes.ts';
import { createApp, type App } from './app.ts';
import { createOrganization } from './organizations.ts';

/** `pipeline serve`: the API with in-process workers (unless WORKER_CONCURRENCY=0). */
export async function serve(settings: Settings): Promise<void> {
  const logger = createLogger({ level: settings.logLevel });
  for (const warning of settings.warnings) logger.warn(warning);
  const app = await createApp(settings, { logger, execute: settings.workerConcurrency > 0, shareControlPlane: true });
  const server = await buildServer(app);
  await server.listen({ host: settings.host, port: settings.port });
  app.worker?.start();
  const background = startApp(app);
  if (settings.environment === 'development') await createDemoOrg(app, settings);
  onShutdown(async () => {
    await background.stop();
    await server.close();
    await app.close();
  });
}

/** `pipeline worker`: executes queued runs, no API. */
export async function runWorker(settings: Settings): Promise<void> {
  const logger = createLogger({ level: settings.logLevel });
  for (const warning of settings.warnings) logger.warn(warning);
  const app = await createApp(settings, { logger, execute: true, shareControlPlane: true });
  if (!app.worker) throw new Error('WORKER_CONCURRENCY is 0: this worker would execute nothing');
  app.worker.start();
  const background = startApp(app);
  logger.info({ worker_id: app.worker.id, concurrency: settings.workerConcurrency }, 'worker started');
  onShutdown(async () => {
    await background.stop();
    await app.close();
  });
}

/** The background work of a long-lived process besides its workers: the sweeper, the scheduler, the notifier and the cost-alert loop. */
function startApp(app: App) {
  const sweeper = startSweeper({ maintenance: app.maintenance, logger: app.logger, retention: { logDays: app.settings.logRetentionDays, qualityDays: app.settings.qualityRetentionDays, auditDays: app.settings.auditRetentionDays }, more: () => app.scheduler.sync() });
  const scheduler = app.settings.schedulerIntervalSeconds > 0 ? startSchedulerLoop(app.scheduler, app.logger, app.settings.schedulerIntervalSeconds * 1000) : undefined;
  const notifier = app.settings.notifyIntervalSeconds > 0 ? startNotifier(app.notifications.notifier, { logger: app.logger, intervalMs: app.settings.notifyIntervalSeconds * 1000 }) : undefined;
  // Only a process with the warehouse can measure spend.
  const alertLoop = app.warehouse ? startAlertLoop(app.alerts, { logger: app.logger, clock: app.clock, dailyPassHourUtc: app.settings.alertPassHourUtc }) : undefined;
  return {
    async stop() {
      sweeper.stop();
      await scheduler?.stop();
      await notifier?.stop();
      await alertLoop?.stop();
    },
  };
}

/** Development convenience: an empty store gets a `demo` org, whose key is printed once. */
async function createDemoOrg(app: App, settings: Settings): Promise<void> {
  if ((await app.orgs.count()) > 0) return;
  const { api_key } = await createOrganization(app, { org_slug: 'demo', name: 'Demo organisation', plan: 'TRIAL' });
  const base = `http://localhost:${settings.port}`;
  // On stderr, framed, after start-up: apart from the JSON log lines on stdout, where a person reads it.
  const rule = '='.repeat(78);
  process.stderr.write(
    [
      '',
      rule,
      'Created the organisation "demo" (TRIAL). Its API key, shown only this once:',
      `  export API_KEY=${api_key}`,
      'Run the demo pipeline:',
      `  curl -s -X POST ${base}/api/v1/pipelines/run/demo/demo/usage/daily_cost -H "X-API-Key: $API_KEY" -H 'Content-Type: application/json' -d '{"date": "2026-01-15"}'`,
      '  npx pipeline run demo/demo/usage/daily_cost --date 2026-01-15',
      rule,
      '',
    ].join('\n'),
  );
}

function onShutdown(close: () => Promise<void>): void {
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}
