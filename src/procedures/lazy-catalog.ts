import type { ProcedureCatalog, Warehouse } from '../warehouse/warehouse.ts';

/**
 * The procedure catalog of a warehouse opened on first use, for a process that executes no
 * runs and so opened none (an API with WORKER_CONCURRENCY=0, the CLI) on a warehouse any number
 * of processes may open (BigQuery). `close` closes it if it was opened.
 */
export function lazyProcedureCatalog(open: () => Promise<Warehouse>): ProcedureCatalog & { close(): Promise<void> } {
  let opened: Promise<Warehouse> | undefined;
  const catalog = async () => {
    opened ??= open().catch((error: unknown) => {
      opened = undefined;
      throw error;
    });
    return (await opened).procedures;
  };
  return {
    check: async (sql, sample, signal) => (await catalog()).check(sql, sample, signal),
    register: async (name, sql, signal) => (await catalog()).register(name, sql, signal),
    drop: async (name, signal) => (await catalog()).drop(name, signal),
    async close() {
      const warehouse = await opened?.catch(() => undefined);
      await warehouse?.close();
    },
  };
}
