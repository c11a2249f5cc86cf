import { ProcessorError } from '../../shared/errors.ts';
import type { ExportFiles } from './export-source.ts';

/**
 * A failure of DuckDB reading an export, in words a run's error message may carry: the run's
 * error is shown to the org, and DuckDB's own message names the file by its server path, may
 * quote the offending value (`Could not convert string '...'`), and after its first sentence
 * prints the raw line of a CSV and the SQL. Kept: DuckDB's first line (a CSV error's second:
 * what is wrong, and the file it names), the files named
 * relative to the org's folder; quoted values and any other absolute path masked. The
 * warehouse already elides paths and values, file names too: its cause, DuckDB's own error,
 * is read instead, so the message can still say which file of the org's failed.
 */
export function readFailure(error: unknown, files: ExportFiles): ProcessorError {
  const lines = innermost(error)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('Original Line:'));
  let text = (lines[0]?.split(/\s+LINE \d+:/)[0] ?? '').replace(/^[A-Za-z][A-Za-z ]*? Error: /, '');
  // A CSV error says what is wrong on its next line, and names the file in its option list.
  if (/^CSV Error on Line: \d+$/.test(text) && lines[1] && !/^(Possible Solution|LINE \d+):/.test(lines[1])) text += `: ${lines[1]}`;
  const file = lines.find((line) => line.startsWith('file = '))?.slice('file = '.length);
  if (file && !text.includes(file)) text += ` (file ${file})`;
  if (files.folder) text = text.split(`${files.folder}/`).join('');
  // A scratch copy of a remote object is named by the object's URI.
  if (files.kind !== 'local') files.files.forEach((file, i) => (text = text.split(file).join(files.shown[i] ?? '…')));
  const names = new Set(files.shown);
  text = text.replace(/'([^']*)'|"([^"]*)"/g, (quoted, single?: string, double?: string) => (names.has(single ?? double ?? '') ? quoted : '…'));
  text = text.replace(/(^|[\s(=,])\/[^\s'",;)]+/g, '$1…');
  const retryable = error instanceof ProcessorError ? error.retryable : false;
  return new ProcessorError(`${files.uri}: cannot read the ${files.format} export: ${text}`, { retryable, cause: error });
}

function innermost(error: unknown): string {
  let deepest = error;
  while (deepest instanceof Error && deepest.cause instanceof Error) deepest = deepest.cause;
  return deepest instanceof Error ? deepest.message : String(deepest);
}
