import type { Clock } from '../shared/clock.ts';
import { every } from '../shared/every.ts';
import type { Logger } from '../shared/logger.ts';
import { wroteFocusRows, type CostAlerts } from './cost-alerts.ts';

/**
 * Evaluations after loads (issue 13: "after each load that touches FOCUS rows"): started when a
 * run's end is committed, never awaited by the run. One at a time per org; loads of the org that
 * end meanwhile are answered by one more evaluation after it, not one each.
 */
export function evaluationsAfterLoads(alerts: CostAlerts, logger: Logger) {
  const running = new Map<string, Promise<void>>();
  const again = new Set<string>();

  const evaluate = (orgSlug: string) => {
    if (running.has(orgSlug)) {
      again.add(orgSlug);
      return;
    }
    const evaluation = alerts
      .afterLoad(orgSlug)
      .then(
        (result) => logger.debug({ org_slug: orgSlug, events: result.events }, 'cost alerts evaluated after a load'),
        (error: unknown) => logger.error({ err: error, org_slug: orgSlug }, 'cost alert evaluation after a load failed'),
      )
      .finally(() => {
        running.delete(orgSlug);
        if (again.delete(orgSlug)) evaluate(orgSlug);
      });
    running.set(orgSlug, evaluation);
  };

  return {
    /** The engine's onTablesWritten. */
    tablesWritten(orgSlug: string, tables: string[]): void {
      if (wroteFocusRows(tables)) evaluate(orgSlug);
    },
    /** Resolves once no evaluation is running or due (shutdown, tests). */
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.all(running.values());
    },
  };
}

export interface AlertLoopOptions {
  logger: Logger;
  clock: Clock;
  /** The UTC hour from which each day's pass runs. */
  dailyPassHourUtc: number;
  /** How often the process looks for due evaluations (one cheap statement when none is). */
  intervalMs?: number;
}

/**
 * The cost-alert loop of a process that opens the warehouse (CostAlerts.evaluateDue): orgs
 * whose last load has settled, and from `dailyPassHourUtc` on, each org with a rule once that
 * UTC day (issue 13: "and by the scheduler once a day"), shared between processes by leases.
 * It runs beside the scheduler's loop, not in it, so that a long pass never delays a tick.
 */
export function startAlertLoop(alerts: CostAlerts, options: AlertLoopOptions): { stop(): Promise<void> } {
  return every(
    options.intervalMs ?? 60_000,
    async (stopped) => {
      const dailyPass = options.clock.now().getUTCHours() >= options.dailyPassHourUtc;
      const result = await alerts.evaluateDue({ dailyPass, stopped });
      if (result.orgs > 0) options.logger.info(result, 'cost alerts evaluated');
    },
    options.logger,
    'cost alert evaluation',
  );
}
