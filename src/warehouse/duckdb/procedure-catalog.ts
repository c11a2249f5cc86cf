import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { UnprocessableError } from '../../shared/errors.ts';
import { splitStatements } from '../split-statements.ts';
import type { ProcedureCatalog } from '../warehouse.ts';

/**
 * Statements a procedure may not hold, by their leading words, with the reason. A step runs its
 * procedure inside the one transaction it owns, on a connection of the shared warehouse: a
 * procedure must not end that transaction, change what the whole warehouse sees, or reach
 * outside it (files, extensions, secrets, other databases).
 */
const REFUSED: readonly { words: RegExp; reason: string }[] = [
  { words: /^(BEGIN|START|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE)\b/, reason: 'controls the transaction, which the step owns (a procedure runs in one transaction)' },
  { words: /^(ATTACH|DETACH|USE)\b/, reason: 'changes the databases the warehouse has open' },
  { words: /^(INSTALL|LOAD|FORCE\s+INSTALL|UPDATE\s+EXTENSIONS)\b/, reason: 'installs or loads a DuckDB extension' },
  { words: /^(COPY|EXPORT|IMPORT)\b/, reason: 'reads or writes files (a step writes its rows through the warehouse)' },
  { words: /^(CREATE|DROP)\s+(OR\s+REPLACE\s+)?(PERSISTENT\s+|TEMP\s+|TEMPORARY\s+)?SECRET\b/, reason: 'creates or drops a secret (credentials come from the org’s stored ones)' },
  { words: /^(CREATE|DROP)\s+(SCHEMA|DATABASE)\b/, reason: 'creates or drops a dataset (datasets are created and migrated by the warehouse)' },
  { words: /^(PRAGMA|CHECKPOINT|FORCE\s+CHECKPOINT|VACUUM)\b/, reason: 'changes or maintains the warehouse itself' },
  { words: /^(SET|RESET)\s+GLOBAL\b/, reason: 'changes a setting of the whole warehouse; use SET SESSION, which ends with the step’s connection' },
  { words: /^(SET|RESET)\s+(?!SESSION\b|LOCAL\b|VARIABLE\b)/, reason: 'changes a setting without saying its scope; write SET SESSION (or SET LOCAL), which ends with the step’s connection' },
];

/**
 * Checks a DuckDB procedure as the warehouse will run it: split at its top-level `;` as
 * the executor splits it, each statement read by DuckDB's own parser, which must see exactly one
 * statement in it. Binding (do the tables and columns exist?) waits for the run: a procedure
 * reads the org's tables and the views its pipeline's earlier steps staged for that run, which
 * no org-independent check can have.
 */
export async function checkDuckDbProcedure(connection: DuckDBConnection, sql: string): Promise<void> {
  const statements = splitStatements(sql);
  if (statements.length === 0) throw new UnprocessableError('the procedure holds no SQL statement', { field: 'sql' });
  for (const [index, statement] of statements.entries()) {
    const where = `statement ${index + 1} of ${statements.length}`;
    const leading = statement.replace(/^[\s(]+/, '').toUpperCase();
    const refused = REFUSED.find((rule) => rule.words.test(leading));
    if (refused) throw new UnprocessableError(`${where} ${refused.reason}`, { field: 'sql' });
    let count: number;
    try {
      count = (await connection.extractStatements(statement)).count;
    } catch (error) {
      throw new UnprocessableError(`${where} does not parse: ${parserProblem(error)}`, { field: 'sql' });
    }
    if (count !== 1) throw new UnprocessableError(`${where} is ${count} statements to DuckDB; end each statement with ;`, { field: 'sql' });
  }
}

/**
 * DuckDB's parser message without its prefixes and the excerpt after it ("LINE 3: …" and a
 * caret): "syntax error at or near "SELEC"", "unterminated quoted string at or near …".
 */
function parserProblem(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const head = message.replace(/^Failed to extract statements:\s*/, '').replace(/^Parser Error:\s*/, '').split(/\n|\s+LINE \d+:/)[0] ?? '';
  return head.trim().slice(0, 200) || 'the parser refused it';
}

/**
 * The DuckDB procedure catalog. Its checks need DuckDB's parser only, never the warehouse's
 * data: the warehouse passes its own instance's connections; without one (an API process beside
 * the one process that holds the warehouse file) a private in-memory instance is opened on the
 * first check and kept (opening one costs about 100 ms). Registering and dropping have nothing to
 * do in DuckDB.
 */
export function duckDbProcedureCatalog(connect?: () => Promise<DuckDBConnection>): ProcedureCatalog {
  let privateInstance: Promise<DuckDBInstance> | undefined;
  const connection = (): Promise<DuckDBConnection> => {
    if (connect) return connect();
    privateInstance ??= DuckDBInstance.create(':memory:');
    return privateInstance.then((instance) => instance.connect());
  };
  return {
    async check(sql) {
      const opened = await connection();
      try {
        await checkDuckDbProcedure(opened, sql);
      } finally {
        opened.closeSync();
      }
    },
    async register() {},
    async drop() {},
  };
}
