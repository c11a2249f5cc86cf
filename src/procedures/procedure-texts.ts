import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessorError } from '../shared/errors.ts';
import type { Dialect, ProcedureStore } from '../store/procedures.ts';
import { contentHash, proceduresDir } from './procedure-files.ts';

/** The SQL a step runs for a procedure, and where it came from (logged and kept in the step's result). */
export interface ProcedureText {
  name: string;
  sql: string;
  content_hash: string;
  origin: 'registered' | 'file';
}

/** What processors read procedures through (ProcessorContext.procedures). */
export interface ProcedureTexts {
  /**
   * The text of `{domain}/{name}` in a dialect: the registered version when there is one (a sync
   * or the procedures API put it there), else the file. Neither is a step failure not worth a retry.
   */
  read(procedure: string, dialect: Dialect): Promise<ProcedureText>;
}

export function procedureTexts(deps: { store: Pick<ProcedureStore, 'get'>; configsDir: string }): ProcedureTexts {
  return {
    async read(procedure, dialect) {
      const name = procedure.slice(procedure.lastIndexOf('/') + 1);
      const registered = await deps.store.get(dialect, name);
      if (registered) return { name, sql: registered.sql, content_hash: registered.content_hash, origin: 'registered' };
      const file = `${procedure}.${dialect}.sql`;
      const sql = await readFile(join(proceduresDir(deps.configsDir), file), 'utf8').catch((cause: unknown) => {
        throw new ProcessorError(`procedure ${procedure} has no ${dialect} version: none is registered and there is no file system/procedures/${file} in the configs folder`, { retryable: false, cause });
      });
      return { name, sql, content_hash: contentHash(sql), origin: 'file' };
    },
  };
}

/** The files only, for a tool that runs processors without a control plane (a benchmark). */
export function procedureFileTexts(configsDir: string): ProcedureTexts {
  return procedureTexts({ store: { get: async () => undefined }, configsDir });
}
