import { pino } from 'pino';
import type { StepConfig } from '../pipelines/config-schema.ts';
import { REDACT, type Logger } from '../shared/logger.ts';
import type { QualityResult } from '../shared/quality.ts';
import { LeaseLostError, type Claim, type ExecutionStore, type JournalBatch, type NewLogLine, type StepRow } from '../store/executions.ts';

const LEVELS: Record<number, NewLogLine['level']> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'error' };
const PINO_KEYS = new Set(['level', 'time', 'msg', 'org_slug', 'run_id', 'step_id', 'journal']);

type Entry = Record<string, unknown>;
interface JournalLogs {
  logger: Logger;
  /** The open journals by the number each run's logger binds as `journal`. */
  open: Map<number, (entry: Entry) => void>;
}
const logsOf = new WeakMap<Logger, JournalLogs>();
let journals = 0;

/**
 * One pino logger per process logger for all the runs, each run's logger a child bound to its
 * journal: pino() compiles its redaction and inspects its caller's stack, 0.3 ms a run that a
 * child does not pay. pino writes each line synchronously to a destination with a write method,
 * so a line is in its journal's buffer when the logging call returns. A line of a closed journal
 * (a processor that ignored its signal) goes to the process log only.
 */
function journalLogs(processLogger: Logger): JournalLogs {
  const known = logsOf.get(processLogger);
  if (known) return known;
  const open = new Map<number, (entry: Entry) => void>();
  const sink = {
    write(text: string) {
      const entry = JSON.parse(text) as Entry;
      const journal = open.get(entry.journal as number);
      if (journal) return journal(entry);
      const { level, time: _time, msg, journal: _journal, ...fields } = entry;
      processLogger[LEVELS[level as number] ?? 'info'](fields, String(msg ?? ''));
    },
  };
  const logs = { logger: pino({ level: 'debug', base: undefined, redact: REDACT }, sink), open };
  logsOf.set(processLogger, logs);
  return logs;
}

export interface RunJournal {
  /** The run's logger: every line is kept with the run (redacted first) and echoed to the process log. */
  readonly logger: Logger;
  /** The steps begin: every step's row is written with the next flush (a recovered run's old rows reset). */
  startSteps(): void;
  /** Changes a step's row; written with the next flush. */
  setStep(stepId: string, changes: Partial<StepRow>): void;
  /** A step's end: its row and its quality results, written at once (with whatever started meanwhile). */
  endStep(stepId: string, changes: Partial<StepRow>, quality: QualityResult[]): void;
  /** Everything not yet written, for the statement that ends the run; the journal writes nothing after. */
  close(): Promise<JournalBatch>;
}

/**
 * What a run records while it executes (step rows, log lines, quality results), buffered and
 * written as one fenced statement: at a step's end, on a short timer while steps run, and by
 * the statement that ends the run. Nothing is written one row per statement on the run's
 * critical path, so a step costs at most one commit, and a run's last step none of its own.
 */
export function createRunJournal(options: { executions: ExecutionStore; claim: Claim; steps: readonly StepConfig[]; processLogger: Logger; flushMs?: number }): RunJournal {
  const { org_slug: orgSlug, run_id: runId } = options.claim;
  const steps = new Map<string, StepRow>(
    options.steps.map((step, position) => [
      step.step_id,
      { step_id: step.step_id, ps_type: step.ps_type, position, status: 'pending', attempts: 0, started_at: null, ended_at: null, duration_ms: null, records_processed: 0, error_message: null, result: null },
    ]),
  );
  const dirty = new Set<string>();
  const quality = new Map<string, QualityResult[]>();
  let logs: NewLogLine[] = [];
  let writing: Promise<void> = Promise.resolve();
  let soon: NodeJS.Immediate | undefined;
  let closed = false;
  let lost = false;

  const take = (): JournalBatch => {
    const batch = { steps: [...dirty].map((id) => steps.get(id) as StepRow), logs, quality: [...quality].map(([step_id, results]) => ({ step_id, results })) };
    dirty.clear();
    quality.clear();
    logs = [];
    return batch;
  };
  const flush = () => {
    clearImmediate(soon);
    soon = undefined;
    if (closed || lost || (dirty.size === 0 && logs.length === 0 && quality.size === 0)) return writing;
    const batch = take();
    writing = writing.then(() => options.executions.flush(options.claim, batch)).catch((error: unknown) => {
      // A worker that lost the run stores nothing more; its lines stay in the process log.
      if (error instanceof LeaseLostError) lost = true;
      else options.processLogger.error({ err: error, run_id: runId }, 'run journal could not be written');
    });
    return writing;
  };
  const timer = setInterval(flush, options.flushMs ?? 250);

  const journal = ++journals;
  const { processLogger } = options;
  const shared = journalLogs(processLogger);
  shared.open.set(journal, (entry) => {
    const fields = Object.fromEntries(Object.entries(entry).filter(([key]) => !PINO_KEYS.has(key)));
    const level = LEVELS[entry.level as number] ?? 'info';
    const message = String(entry.msg ?? '');
    logs.push({ at: new Date(entry.time as number), level, step_id: entry.step_id as string | undefined, message, fields: Object.keys(fields).length > 0 ? fields : undefined });
    if (processLogger.isLevelEnabled(level)) processLogger[level]({ ...fields, org_slug: orgSlug, run_id: runId, step_id: entry.step_id }, message);
  });
  const logger: Logger = shared.logger.child({ org_slug: orgSlug, run_id: runId, journal });

  const change = (stepId: string, changes: Partial<StepRow>) => {
    const row = steps.get(stepId);
    if (!row) return;
    steps.set(stepId, { ...row, ...changes });
    dirty.add(stepId);
  };
  return {
    logger,
    startSteps: () => steps.forEach((_row, id) => dirty.add(id)),
    setStep: change,
    endStep(stepId, changes, results) {
      change(stepId, changes);
      quality.set(stepId, results);
      // After the current turn, so a dependant started in the same turn is written with it.
      soon ??= setImmediate(() => void flush());
    },
    async close() {
      clearInterval(timer);
      clearImmediate(soon);
      await writing;
      const batch = take();
      closed = true;
      shared.open.delete(journal);
      return lost ? { steps: [], logs: [], quality: [] } : batch;
    },
  };
}
