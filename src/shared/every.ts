import type { Logger } from './logger.ts';

/**
 * A long-lived process's periodic task: `task` runs at once and then every `intervalMs`, never
 * two at a time (a tick while one runs is skipped); a failed run is logged and the next one
 * tries again. `stop` waits for the run in flight. The timer does not keep the process alive.
 */
export function every(intervalMs: number, task: (stopped: () => boolean) => Promise<void>, log: Logger, what: string): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (stopped || running) return;
    running = task(() => stopped)
      .catch((error: unknown) => log.error({ err: error }, `${what} failed`))
      .finally(() => (running = undefined));
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  run();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
