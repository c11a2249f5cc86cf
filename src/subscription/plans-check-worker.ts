/**
 * The worker thread of importPlans: checks the CSV (plans-check.ts), says whether it is valid,
 * then hands the rows over a batch at a time, when asked, so the API's thread never holds them
 * all nor deserialises them in one go.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { InputError } from '../shared/errors.ts';
import { checkPlansCsv, type PlanRow } from './plans-check.ts';

export interface PlansCheckInput {
  /** The file as UTF-8. */
  csvBytes: Uint8Array;
  importDate: string;
}

export type PlansCheckMessage =
  | { kind: 'valid'; rows: number }
  | { kind: 'invalid'; message: string; field: string | undefined }
  | { kind: 'batch'; rows: PlanRow[] };

const port = parentPort;
if (!port) throw new Error('plans-check-worker.ts runs as a worker thread');
const { csvBytes, importDate } = workerData as PlansCheckInput;
const send = (message: PlansCheckMessage) => port.postMessage(message);

try {
  const rows = await checkPlansCsv(new TextDecoder().decode(csvBytes));
  let at = 0;
  port.on('message', (size: number) => {
    send({ kind: 'batch', rows: rows.slice(at, at + size).map((row) => ({ ...row, import_date: importDate })) });
    at += size;
  });
  send({ kind: 'valid', rows: rows.length });
} catch (error) {
  if (!(error instanceof InputError)) throw error;
  send({ kind: 'invalid', message: error.message, field: error.field });
}
