import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/**
 * The control plane's one database interface. PGlite (embedded) and PostgreSQL speak the same
 * SQL, so every store query runs unchanged on both; only this file knows which one it is.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs a multi-statement script without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Calls `onNotify` for each NOTIFY on `channel` (delivered when the notifying transaction
   * commits) until the returned function is called. Best effort: a lost connection is
   * re-established, and callers keep a polling fallback for what it missed meanwhile.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  /** The connection pool's use, for the metrics scrape: PostgreSQL only (PGlite has no pool). */
  poolUse?(): { total: number; idle: number; waiting: number; max: number };
  close(): Promise<void>;
}

/**
 * A value as a jsonb parameter takes it: NUL characters (a provider's error body, a caller's
 * malformed field) are dropped, since jsonb refuses `\u0000` and would refuse the whole write.
 */
export const jsonb = (value: unknown): string =>
  JSON.stringify(value, (_key, field: unknown) => (typeof field === 'string' && field.includes('\0') ? field.replaceAll('\0', '') : field));

export function pgliteDb(pglite: PGlite): Db {
  const queryable = (target: Pick<PGlite, 'query'>): Queryable => ({
    query: async <T>(sql: string, params?: unknown[]) => (await target.query<T>(sql, params)).rows,
  });
  return {
    kind: 'pglite',
    ...queryable(pglite),
    transaction: (fn) => pglite.transaction((tx) => fn(queryable(tx))),
    exec: async (sql) => {
      await pglite.exec(sql);
    },
    listen: (channel, onNotify) => pglite.listen(channel, () => onNotify()),
    close: () => pglite.close(),
  };
}

/** int8 (counts, sums) as JavaScript numbers: every bigint the control plane keeps is far below 2^53. */
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format),
} as pg.CustomTypesConfig;

/**
 * Statements as named prepared statements: each connection parses and plans a statement once,
 * not at every run's claim and end (for the engine's CTE statements that is most of their
 * cost). The project's SQL texts are constants or a few combinations of fragments, never
 * values, so they are few; past `MAX_NAMED` distinct texts the rest go unnamed, so the
 * connections' statement caches stay bounded whatever a future caller sends.
 */
const MAX_NAMED = 1000;
function preparedStatements() {
  const names = new Map<string, string>();
  return (text: string, values?: unknown[]): pg.QueryConfig => {
    let name = names.get(text);
    if (name === undefined && names.size < MAX_NAMED) names.set(text, (name = `s${names.size + 1}`));
    return name === undefined ? { text, values } : { name, text, values };
  };
}

export function postgresDb(options: pg.PoolConfig): Db {
  const max = options.max ?? 10;
  const pool = new pg.Pool({ ...options, max, types });
  const statement = preparedStatements();
  // An idle connection dropped by the server is discarded by the pool; without a listener
  // the 'error' event would end the process.
  pool.on('error', () => undefined);
  return {
    kind: 'postgres',
    query: async <T>(sql: string, params?: unknown[]) => (await pool.query(statement(sql, params))).rows as T[],
    transaction: async (fn) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({ query: async <T>(sql: string, params?: unknown[]) => (await client.query(statement(sql, params))).rows as T[] });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    exec: async (sql) => {
      await pool.query(sql);
    },
    listen: (channel, onNotify) => listenOn(options, channel, onNotify),
    poolUse: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max }),
    close: () => pool.end(),
  };
}

/** LISTEN on a connection of its own (a pooled one would lose it), reconnecting after an error. */
async function listenOn(options: pg.PoolConfig, channel: string, onNotify: () => void): Promise<() => Promise<void>> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async () => {
    const next = new pg.Client({ ...options, types });
    next.on('notification', (message) => {
      if (message.channel === channel) onNotify();
    });
    next.on('error', () => {
      next.end().catch(() => undefined);
      if (!stopped) retry = setTimeout(() => void connect().catch(() => undefined), 1000);
    });
    await next.connect();
    await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    client = next;
    // Whatever was notified while no connection listened is found by the caller's polling.
    onNotify();
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => undefined);
  };
}
