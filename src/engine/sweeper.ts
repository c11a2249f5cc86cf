import type { Logger } from '../shared/logger.ts';
import type { MaintenanceStore } from '../store/maintenance.ts';

export interface SweeperOptions {
  maintenance: MaintenanceStore;
  logger: Logger;
  retention: { logDays: number; qualityDays: number; auditDays?: number };
  /** Other periodic work, run after the repairs (the YAML schedules' sync). */
  more?: () => Promise<unknown>;
  /** Between two sweeps; the first runs at start. */
  intervalMs?: number;
}

/**
 * The periodic repairs every long-lived process runs: slot counters that drifted (a run
 * ended by hand in the database, a crash on an older version) and the retention of run logs
 * and quality results. Admission never repairs on its happy path, so its cost does not grow
 * with an org's history.
 */
export function startSweeper(options: SweeperOptions): { sweep(): Promise<void>; stop(): void } {
  const log = options.logger.child({ component: 'sweeper' });
  let running: Promise<void> | undefined;
  const sweep = () => {
    running ??= (async () => {
      try {
        const healed = await options.maintenance.healSlots();
        if (healed.length > 0) log.warn({ orgs: healed }, 'concurrency slot counters healed');
        const pruned = await options.maintenance.prune(options.retention);
        if (pruned.logs + pruned.quality + pruned.audit > 0) log.info(pruned, 'run history and audit entries pruned past their retention');
        await options.more?.();
      } catch (error) {
        log.error({ err: error }, 'maintenance sweep failed');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void sweep(), options.intervalMs ?? 10 * 60_000);
  timer.unref();
  void sweep();
  return { sweep, stop: () => clearInterval(timer) };
}
