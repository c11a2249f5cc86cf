/**
 * `pipeline plans import <org> plans.csv`: validates every row of a finance team's CSV of SaaS
 * plans and, only when all of them are good, replaces the org's saas_subscription_plans in one
 * transaction. A bad file imports nothing and names every problem by line and column, so it can
 * be fixed in one pass. The columns are those of configs/schemas/subscription/saas_subscription_plans.json
 * (a test holds the two together); docs/subscription-costs.md describes them.
 */
import { Worker } from 'node:worker_threads';
import { InputError } from '../shared/errors.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';
import { PLAN_COLUMNS } from './plans-check.ts';
import type { PlansCheckInput, PlansCheckMessage } from './plans-check-worker.ts';

export { MAX_PLAN_ROWS, PLAN_COLUMNS } from './plans-check.ts';

const PLANS_TABLE = 'saas_subscription_plans';
const PLANS_SCHEMA = 'subscription/saas_subscription_plans';
const PLANS_PIPELINE_ID = 'saas_subscription_plans_import';
/** Rows handed from the checking thread to the warehouse per message (about 1 ms to deserialise). */
const WRITE_BATCH_ROWS = 500;

export interface PlansImportInput {
  orgSlug: string;
  dataset: string;
  /** The file; the API passes the request's bytes as they came (UTF-8), so nothing is re-encoded. */
  csvText: string | Uint8Array;
  importedAt: Date;
  runId: string;
}

/**
 * Validates the file completely, then writes it; returns the number of plan rows imported.
 * The checks run in a worker thread: on the API's thread, a 10 MB file's 300 MB of rows made
 * the collector pause it for 70-90 ms at a time, and /health waited (measured on two cores).
 */
export async function importPlans(warehouse: Warehouse, input: PlansImportInput): Promise<number> {
  // The file goes over as bytes in a transferred buffer: cloning (or encoding) a 10 MB string
  // held the event loop for 60 ms. A buffer that is a view of a larger one is copied instead.
  const given = typeof input.csvText === 'string' ? new TextEncoder().encode(input.csvText) : input.csvText;
  const csvBytes = given.byteOffset === 0 && given.byteLength === given.buffer.byteLength ? given : new Uint8Array(given);
  const workerData: PlansCheckInput = { csvBytes, importDate: input.importedAt.toISOString().slice(0, 10) };
  const worker = new Worker(new URL('./plans-check-worker.ts', import.meta.url), { workerData, transferList: [csvBytes.buffer as ArrayBuffer] });
  const messages = messagesOf(worker);
  try {
    const verdict = await messages.next();
    if (verdict.kind === 'invalid') throw new InputError(verdict.message, { field: verdict.field ?? 'file' });
    if (verdict.kind !== 'valid') throw new Error(`plans check worker: unexpected ${verdict.kind} message`);
    const { rows: written } = await warehouse.replacePartitionFromBatches({
      dataset: input.dataset,
      table: PLANS_TABLE,
      schema: PLANS_SCHEMA,
      lineage: { orgSlug: input.orgSlug, pipelineId: PLANS_PIPELINE_ID, credentialId: 'default', runId: input.runId, ingestedAt: input.importedAt },
      // The whole date range: this import replaces every earlier one of the org.
      runDates: { start: '0001-01-01', end: '9999-12-31' },
      runDateColumn: 'import_date',
      columns: [...PLAN_COLUMNS.map((c) => c.name), 'source_line', 'import_date'],
      batches: (async function* () {
        for (let asked = 0; asked < verdict.rows; asked += WRITE_BATCH_ROWS) {
          worker.postMessage(WRITE_BATCH_ROWS);
          const batch = await messages.next();
          if (batch.kind !== 'batch') throw new Error(`plans check worker: unexpected ${batch.kind} message`);
          yield batch.rows;
        }
      })(),
    });
    return written;
  } finally {
    await worker.terminate();
  }
}

/** The worker's messages one at a time; its error, or its exit, rejects the one awaited. */
function messagesOf(worker: Worker): { next(): Promise<PlansCheckMessage> } {
  const queue: PlansCheckMessage[] = [];
  let waiting: { resolve(message: PlansCheckMessage): void; reject(error: unknown): void } | undefined;
  let failure: unknown;
  worker.on('message', (message: PlansCheckMessage) => {
    if (waiting) waiting.resolve(message);
    else queue.push(message);
    waiting = undefined;
  });
  const fail = (error: unknown) => {
    failure ??= error;
    waiting?.reject(failure);
    waiting = undefined;
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the plans check worker exited with code ${code}`)));
  return {
    next() {
      const message = queue.shift();
      if (message) return Promise.resolve(message);
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
  };
}
