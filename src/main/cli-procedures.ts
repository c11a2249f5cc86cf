import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import type { ProcedureActor, ProcedureDetail, ProcedureFileView, ProcedureView, SyncResult } from '../procedures/procedure-service.ts';
import type { App } from './app.ts';

export const PROCEDURES_USAGE = `  procedures list                         procedures registered in the warehouse: content hash, synced at, source file
  procedures files                        procedure files of the warehouse's dialect, and whether each is in sync
  procedures sync [--force]               register the files whose content changed (--force: every file)
  procedures show <name>                  a procedure's SQL as steps run it, with its registration and file
  procedures delete <name>                remove a registration: steps run the procedure's file again`;

const OPTIONS = {
  json: { type: 'boolean' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface ProceduresContext {
  out: (line: string) => void;
  withApp: (fn: (app: App) => Promise<number>) => Promise<number>;
}

/** `pipeline procedures …`: the procedures API's service, as the operator at this machine. */
export async function proceduresCommand(argv: string[], context: ProceduresContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [verb, name] = positionals;
  if (values.help || verb === undefined) {
    context.out(`Usage: pipeline procedures <command> [options]\n\n${PROCEDURES_USAGE}\n\nOptions: --json for machine-readable output.`);
    return values.help ? 0 : 2;
  }
  if (!['list', 'files', 'sync', 'show', 'delete'].includes(verb)) throw new Error(`procedures takes list, files, sync, show or delete, got '${verb}'; see pipeline procedures --help`);
  if ((verb === 'show' || verb === 'delete') && !name) throw new Error(`missing <name>: pipeline procedures ${verb} <name> (pipeline procedures list shows the names)`);
  const print = (text: string, json: unknown) => context.out(values.json ? JSON.stringify(json, null, 2) : text);
  const by: ProcedureActor = { actor: `cli:${osUser()}`, via: 'cli' };
  return context.withApp(async (app) => {
    const procedures = app.procedures;
    switch (verb) {
      case 'list': {
        const listed = await procedures.list();
        print(listed.length === 0 ? `no ${procedures.dialect} procedures registered; pipeline procedures sync registers the files` : listed.map(describeRegistered).join('\n'), { dialect: procedures.dialect, procedures: listed });
        return 0;
      }
      case 'files': {
        const files = await procedures.files();
        print(files.length === 0 ? `no ${procedures.dialect} procedure files under configs/system/procedures` : files.map(describeFile).join('\n'), { dialect: procedures.dialect, files });
        return 0;
      }
      case 'sync': {
        const result = await procedures.sync({ force: values.force ?? false }, by);
        print(describeSync(result), result);
        return result.failed.length === 0 ? 0 : 1;
      }
      case 'show': {
        const detail = await procedures.show(name as string);
        print(describeDetail(detail), detail);
        return 0;
      }
      default: {
        const deleted = await procedures.remove(name as string, by);
        print(`deleted ${deleted.name} (${deleted.dialect}); ${deleted.runs === 'file' ? 'steps run its file again' : 'it has no file: steps naming it fail until it is registered again'}`, deleted);
        return 0;
      }
    }
  });
}

/** The operating-system user, as the audit log's actor of a CLI change. */
function osUser(): string {
  try {
    return userInfo().username.replace(/[^A-Za-z0-9_.@-]/g, '_').slice(0, 64) || 'unknown';
  } catch {
    return 'unknown';
  }
}

const short = (hash: string | null) => (hash ? hash.slice(0, 12) : '-');

function describeRegistered(procedure: ProcedureView): string {
  return `${procedure.name}\t${short(procedure.content_hash)}\t${procedure.synced_at.toISOString()}\t${procedure.source_file ?? '(API or CLI)'}`;
}

function describeFile(file: ProcedureFileView): string {
  return `${file.path}\t${short(file.content_hash)}\t${file.status.replace('_', ' ')}${file.problem ? `: ${file.problem}` : ''}`;
}

function describeSync(result: SyncResult): string {
  const lines = [`${result.created.length} created, ${result.updated.length} updated, ${result.unchanged.length} unchanged, ${result.failed.length} failed (${result.dialect}${result.force ? ', forced' : ''})`];
  for (const name of result.created) lines.push(`  created   ${name}`);
  for (const name of result.updated) lines.push(`  updated   ${name}`);
  for (const failure of result.failed) lines.push(`  failed    ${failure.path}: ${failure.reason}`);
  return lines.join('\n');
}

function describeDetail(detail: ProcedureDetail): string {
  const registered = detail.registered ? `registered ${detail.registered.synced_at.toISOString()} (${short(detail.registered.content_hash)}) from ${detail.registered.source_file ?? 'the API or CLI'}` : 'not registered';
  const file = detail.file ? `file ${detail.file.path} (${short(detail.file.content_hash)}${detail.file.in_sync ? ', in sync' : detail.registered ? ', differs from the registered text' : ''})` : 'no file';
  return `${detail.name} (${detail.dialect}): runs the ${detail.runs === 'registered' ? 'registered text' : 'file'}; ${registered}; ${file}\n\n${detail.sql}`;
}
