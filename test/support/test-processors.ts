import { Type } from '@sinclair/typebox';
import { builtinProcessors } from '../../src/processors/builtin.ts';
import { processorRegistry, type ProcessorRegistry } from '../../src/processors/registry.ts';
import { defineProcessor, type Processor } from '../../src/processors/types.ts';
import { ProcessorError } from '../../src/shared/errors.ts';

/** What the test processors did, in order, for assertions on DAG order and concurrency. */
export const journal: { runId: string; stepId: string; event: 'start' | 'end'; at: number }[] = [];
const attempts = new Map<string, number>();

/** Works for `ms` (honouring the signal), failing its first `fail_times` attempts. */
const work = defineProcessor({
  type: 'test.work',
  description: 'test processor',
  configSchema: Type.Object({ ms: Type.Integer({ minimum: 0 }), fail_times: Type.Optional(Type.Integer()), permanent: Type.Optional(Type.Boolean()), rows: Type.Optional(Type.Integer()) }),
  async run(config, context) {
    const key = `${context.runId}/${context.stepId}`;
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    journal.push({ runId: context.runId, stepId: context.stepId, event: 'start', at: performance.now() });
    // ms 0 returns at once, as a no-op job does (a timer of 0 still waits a millisecond or more).
    if (config.ms > 0) await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, config.ms);
      context.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(context.signal.reason);
      }, { once: true });
    });
    journal.push({ runId: context.runId, stepId: context.stepId, event: 'end', at: performance.now() });
    if (attempt <= (config.fail_times ?? 0)) throw new ProcessorError(`attempt ${attempt} failed on purpose`, { retryable: !config.permanent });
    return { rowsWritten: config.rows ?? 1, tables: [] };
  },
});

/** Never finishes and ignores its signal: the engine must stop waiting on its own. */
const hang = defineProcessor({
  type: 'test.hang',
  description: 'test processor',
  configSchema: Type.Object({}),
  run: () => new Promise(() => undefined),
});

/**
 * Honours its signal slowly, as a processor waiting for a DuckDB interrupt does: on abort it
 * takes `stop_ms` to stop. Each attempt's start and stop are journalled.
 */
const slowStop = defineProcessor({
  type: 'test.slow_stop',
  description: 'test processor',
  configSchema: Type.Object({ stop_ms: Type.Integer({ minimum: 0 }) }),
  async run(config, context) {
    journal.push({ runId: context.runId, stepId: context.stepId, event: 'start', at: performance.now() });
    await new Promise<void>((_resolve, reject) => {
      context.signal.addEventListener('abort', () => setTimeout(() => {
        journal.push({ runId: context.runId, stepId: context.stepId, event: 'end', at: performance.now() });
        reject(context.signal.reason);
      }, config.stop_ms), { once: true });
    });
    return { rowsWritten: 0, tables: [] };
  },
});

/**
 * Replaces its partition (one row per day of the run in `demo_usage_raw`) with a SELECT that
 * takes a while, so concurrent runs' writes overlap in time.
 */
const slowWrite = defineProcessor({
  type: 'test.slow_write',
  description: 'test processor',
  configSchema: Type.Object({ spin: Type.Integer({ minimum: 0 }) }),
  async run(config, context) {
    const { rows } = await context.warehouse.replacePartition({
      dataset: context.dataset,
      table: 'demo_usage_raw',
      schema: 'demo/demo_usage_raw',
      lineage: context.lineage,
      runDates: { start: context.startDate, end: context.endDate },
      runDateColumn: 'd',
      select: {
        sql: `SELECT CAST(CAST(day AS DATE) AS VARCHAR) AS d FROM range(CAST($start AS DATE), CAST($end AS DATE) + 1, INTERVAL 1 DAY) t(day)
               WHERE (SELECT sum(i) FROM range($spin) r(i)) >= 0`,
        params: { start: context.startDate, end: context.endDate, spin: config.spin },
      },
    }, context.signal);
    return { rowsWritten: rows, tables: ['demo_usage_raw'] };
  },
});

/** Reads a credential and logs it carelessly, as a buggy processor would: nothing may leak. */
const usesSecret = defineProcessor({
  type: 'test.uses_secret',
  description: 'test processor',
  configSchema: Type.Object({ provider: Type.String() }),
  requiredCredentials: (config) => [config.provider],
  async run(config, context) {
    const credential = await context.credentials.get(config.provider);
    context.logger.info({ credential, token: credential.secret, api_key: credential.secret.reveal() }, `using ${credential.secret}`);
    return { rowsWritten: credential.secret.reveal().length > 0 ? 1 : 0, tables: [], details: { credential } };
  },
});

export function testProcessors(): ProcessorRegistry {
  const builtin = builtinProcessors();
  return processorRegistry([...builtin.types().map((type) => builtin.get(type) as Processor), work, hang, slowStop, slowWrite, usesSecret] as Processor[]);
}
