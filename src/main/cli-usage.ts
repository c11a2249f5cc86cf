/**
 * What the CLI says about itself: one command's help out of the usage text, the nearest
 * command to a mistyped one, and node's parseArgs errors in the CLI's own words.
 */

/** The lines of `usage` that document `command` (its own lines and their indented continuations). */
export function commandHelp(usage: string, command: string): string | undefined {
  const lines = usage.split('\n');
  const picked: string[] = [];
  let inside = false;
  for (const line of lines) {
    const own = /^ {2}(\S+)/.exec(line);
    if (own) inside = own[1] === command;
    else if (!/^ {3,}\S/.test(line)) inside = false;
    if (inside) picked.push(line);
  }
  return picked.length > 0 ? `Usage: pipeline\n${picked.join('\n')}` : undefined;
}

/** The commands the usage text documents. */
export function commandNames(usage: string): string[] {
  return [...new Set(usage.split('\n').flatMap((line) => /^ {2}([a-z][a-z-]*)/.exec(line)?.[1] ?? []))];
}

/** The known command closest to `input` (at most 2 edits away), for "did you mean". */
export function nearestCommand(input: string, names: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(input, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length] as number;
}

/** parseArgs's errors (TypeErrors with ERR_PARSE_ARGS_* codes), said plainly; anything else as it is. */
export function plainParseError(error: unknown, command: string | undefined): unknown {
  const code = (error as { code?: string }).code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return error;
  const option = /'(-{1,2}[^' ]+)/.exec((error as Error).message)?.[1];
  const help = command ? `pipeline ${command} --help` : 'pipeline --help';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new Error(`unknown option ${option ?? ''}; ${help} lists the options`.replace('option ;', 'option;'));
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return new Error(`option ${option ?? ''} needs a value (as in ${option ?? '--option'} VALUE); see ${help}`);
  return new Error(`cannot read the command line; see ${help}`);
}
