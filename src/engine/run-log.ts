import { Writable } from 'node:stream';
import { pino } from 'pino';
import { LeaseLostError, type Claim, type ExecutionStore, type NewLogLine } from '../store/executions.ts';
import { REDACT, type Logger } from '../shared/logger.ts';

const LEVELS: Record<number, NewLogLine['level']> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'error' };
const PINO_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'org_slug', 'run_id', 'step_id']);

/**
 * A run's own log: every line a processor or the engine writes about the run is kept in the
 * control plane (run_logs), batched, and echoed to the process log. Redaction happens in
 * pino before a line is stored, so a secret never reaches either.
 */
export function createRunLog(options: { executions: ExecutionStore; claim: Claim; processLogger: Logger; flushMs?: number }) {
  const { org_slug: orgSlug, run_id: runId } = options.claim;
  let buffer: NewLogLine[] = [];
  let flushing: Promise<void> = Promise.resolve();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (!text) continue;
        const entry = JSON.parse(text) as Record<string, unknown>;
        const fields = Object.fromEntries(Object.entries(entry).filter(([key]) => !PINO_KEYS.has(key)));
        buffer.push({
          at: new Date(entry.time as number),
          level: LEVELS[entry.level as number] ?? 'info',
          step_id: entry.step_id as string | undefined,
          message: String(entry.msg ?? ''),
          fields: Object.keys(fields).length > 0 ? fields : undefined,
        });
        options.processLogger[LEVELS[entry.level as number] ?? 'info']({ ...fields, org_slug: orgSlug, run_id: runId, step_id: entry.step_id }, String(entry.msg ?? ''));
      }
      done();
    },
  });
  const logger: Logger = pino(
    { level: 'debug', base: { org_slug: orgSlug, run_id: runId }, redact: REDACT },
    sink,
  );
  const flush = () => {
    const lines = buffer;
    buffer = [];
    flushing = flushing.then(() => options.executions.appendLogs(options.claim, lines)).catch((error: unknown) => {
      // A worker that lost the run stores nothing more; its lines stay in the process log.
      if (error instanceof LeaseLostError) options.processLogger.warn({ run_id: runId, lines: lines.length }, 'run log lines dropped: the run is held by another worker');
      else options.processLogger.error({ err: error, run_id: runId }, 'run log lines could not be stored');
    });
    return flushing;
  };
  const timer = setInterval(flush, options.flushMs ?? 250);
  return {
    logger,
    /** Stores every line written so far; the last call also stops the timer. */
    async close() {
      clearInterval(timer);
      // pino writes synchronously to a Writable: one tick lets the last lines reach the buffer.
      await new Promise((resolve) => setImmediate(resolve));
      await flush();
    },
  };
}
