import type { Db } from './db.ts';

export type Dialect = 'duckdb' | 'bigquery';

/** A procedure registered in a warehouse dialect (migration 012). */
export interface RegisteredProcedure {
  dialect: Dialect;
  name: string;
  sql: string;
  content_hash: string;
  source_file: string | null;
  registered_at: Date;
  synced_at: Date;
}

export type ProcedureStore = ReturnType<typeof procedureStore>;

const COLUMNS = 'dialect, name, sql, content_hash, source_file, registered_at, synced_at';

/** The registered procedures. They belong to the service, not to an org: the dialect leads every key. */
export function procedureStore(db: Db) {
  return {
    async list(dialect: Dialect): Promise<RegisteredProcedure[]> {
      return db.query<RegisteredProcedure>(`SELECT ${COLUMNS} FROM procedures WHERE dialect = $1 ORDER BY name`, [dialect]);
    },

    async get(dialect: Dialect, name: string): Promise<RegisteredProcedure | undefined> {
      const [row] = await db.query<RegisteredProcedure>(`SELECT ${COLUMNS} FROM procedures WHERE dialect = $1 AND name = $2`, [dialect, name]);
      return row;
    },

    /**
     * Records a registration; `registered_at` stays that of the first one. Returns the row and
     * the content hash it replaced (undefined when it is new), for the audit log.
     */
    async upsert(procedure: Omit<RegisteredProcedure, 'registered_at'>): Promise<{ procedure: RegisteredProcedure; previousHash: string | undefined }> {
      const [row] = await db.query<RegisteredProcedure & { previous_hash: string | null }>(
        `WITH previous AS (SELECT content_hash FROM procedures WHERE dialect = $1 AND name = $2)
         INSERT INTO procedures (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (dialect, name) DO UPDATE SET sql = excluded.sql, content_hash = excluded.content_hash, source_file = excluded.source_file, synced_at = excluded.synced_at
         RETURNING ${COLUMNS}, (SELECT content_hash FROM previous) AS previous_hash`,
        [procedure.dialect, procedure.name, procedure.sql, procedure.content_hash, procedure.source_file, procedure.synced_at],
      );
      const { previous_hash: previousHash, ...stored } = row as RegisteredProcedure & { previous_hash: string | null };
      return { procedure: stored, previousHash: previousHash ?? undefined };
    },

    /** Removes a registration; the removed row, or undefined when there was none. */
    async delete(dialect: Dialect, name: string): Promise<RegisteredProcedure | undefined> {
      const [row] = await db.query<RegisteredProcedure>(`DELETE FROM procedures WHERE dialect = $1 AND name = $2 RETURNING ${COLUMNS}`, [dialect, name]);
      return row;
    },
  };
}
