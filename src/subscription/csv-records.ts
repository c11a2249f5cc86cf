import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parse } from 'csv-parse';

export interface CsvRecord {
  /** `lines` is the line where the record ends (a quoted field may span lines). */
  info: { lines: number };
  record: string[];
}

/** Text fed to the parser at a time. */
const SLICE_CHARS = 64 * 1024;

/**
 * Parses CSV text record by record, handing each to `onRecord` as it is read: no array of every
 * record (csv-parse/sync builds one, and a 10 MB file of short lines is millions of them). It
 * also gives the event loop a turn after each slice. Rejects with csv-parse's error (its
 * `lines` says where).
 */
export async function forEachCsvRecord(csvText: string, onRecord: (record: CsvRecord) => void): Promise<void> {
  const parser = parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: true });
  parser.on('data', onRecord);
  const ended = once(parser, 'end');
  // Awaited below; until then a parse error must not surface as an unhandled rejection.
  ended.catch(() => undefined);
  for (let at = 0; at < csvText.length && !parser.destroyed; at += SLICE_CHARS) {
    parser.write(csvText.slice(at, at + SLICE_CHARS));
    await nextTurn();
  }
  if (!parser.destroyed) parser.end();
  await ended;
}
