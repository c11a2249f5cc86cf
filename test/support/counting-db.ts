import type { Db, Queryable } from '../../src/store/db.ts';

/** Counts what a Db sends over the wire: statements (BEGIN and COMMIT of a transaction included) and commits that write. */
export interface Counts {
  statements: number;
  commits: number;
  sql: string[];
}

const WRITES = /\b(INSERT|UPDATE|DELETE)\b/i;

/** The same Db, counting: instrumentation of the real control plane, not a stand-in for it. */
export function countingDb(db: Db): Db & { counts: Counts; reset(): void } {
  const counts: Counts = { statements: 0, commits: 0, sql: [] };
  const note = (sql: string) => {
    counts.statements++;
    counts.sql.push(sql.replace(/\s+/g, ' ').trim().slice(0, 80));
  };
  return {
    kind: db.kind,
    counts,
    reset() {
      counts.statements = 0;
      counts.commits = 0;
      counts.sql = [];
    },
    async query<T>(sql: string, params?: unknown[]) {
      note(sql);
      if (WRITES.test(sql)) counts.commits++;
      return db.query<T>(sql, params);
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      note('BEGIN');
      return db
        .transaction((tx) => fn({ query: (sql, params) => (note(sql), tx.query(sql, params)) }))
        .finally(() => {
          note('COMMIT');
          counts.commits++;
        });
    },
    exec: (sql) => db.exec(sql),
    listen: (channel, onNotify) => db.listen(channel, onNotify),
    close: () => db.close(),
  };
}
