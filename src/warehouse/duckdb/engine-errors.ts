import { ProcessorError } from '../../shared/errors.ts';

/**
 * DuckDB's errors in the words a run's owner can act on. DuckDB writes "<Class> Error: <what>",
 * often followed by the statement's text ("LINE 3: SELECT ...", candidate bindings) and, for
 * a bad file, the offending line's cell values. None of that may reach a run's error_message:
 * the message keeps the one sentence that says what went wrong, with quoted values and
 * absolute paths elided. The original stays the error's `cause`, for the process log.
 */
export class WarehouseConflictError extends ProcessorError {}

const CLASS = /^([A-Za-z][A-Za-z ]*?) Error: ([\s\S]*)$/;

/** Errors that fail the same way every time, so they are not worth a retry. */
const PERMANENT = new Set(['Binder', 'Parser', 'Catalog', 'Conversion', 'Invalid Input', 'Constraint', 'Not implemented', 'Out of Range', 'Invalid Type', 'Syntax']);

export function warehouseError(error: unknown): unknown {
  if (error instanceof ProcessorError || !(error instanceof Error)) return error;
  // DuckDB separates the parts of a qualified name with NUL bytes in some messages.
  const raw = error.message.replace(/\0/g, '.');
  const match = CLASS.exec(raw);
  const kind = match?.[1] ?? '';
  const what = firstSentence(match?.[2] ?? raw);
  if (/Conflict on|write-write conflict|Could not commit/i.test(raw)) {
    return new WarehouseConflictError('another write changed the same rows at the same time', { retryable: true, cause: error });
  }
  return new ProcessorError(plain(kind, what), { retryable: !PERMANENT.has(kind), cause: error });
}

function plain(kind: string, what: string): string {
  const table = /^Table with name (\S+) does not exist/.exec(what);
  if (table) return `table ${table[1]} does not exist`;
  const column = /^Referenced column "?([^"]+)"? not found/.exec(what);
  if (column) return `the step's SQL names a column "${column[1]}" that its input does not have`;
  if (kind === 'Conversion') return `a value could not be converted: ${what}`;
  if (kind === 'Out of Memory') return 'the warehouse ran out of memory (raise WAREHOUSE_MEMORY_LIMIT or narrow the run)';
  if (kind === 'INTERRUPT' || /^Interrupted/.test(what)) return 'interrupted';
  if (kind === 'Parser') return `the step's SQL does not parse: ${what}`;
  return what;
}

/** The message up to the statement excerpt, with cell values and server paths elided. */
function firstSentence(text: string): string {
  const head = text.split(/\n|\s+LINE \d+:|\s+Candidate bindings:|\s+Original Line:|\s+Did you mean/)[0] ?? text;
  return head
    .replace(/'(?:[^']|'')*'/g, "'…'")
    // A server path; not the path part of a URI (`s3://bucket/key`, which names an org's object).
    .replace(/(?<![\w.:/])\/(?:[^\s"'/]+\/)+[^\s"']*/g, '…')
    .trim()
    .replace(/!$/, '');
}
