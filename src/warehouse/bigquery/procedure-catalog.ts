import { randomUUID } from 'node:crypto';
import { ProcessorError, UnprocessableError } from '../../shared/errors.ts';
import { assertIdentifier, type ProcedureCatalog } from '../warehouse.ts';

/** The seeds keep their stored procedures in one dataset of the project, `organizations`. */
export const PROCEDURES_DATASET = 'organizations';

export interface ProcedureCatalogDeps {
  /** A query job; `dryRun` only checks it (BigQuery parses and plans it, nothing runs or bills). */
  query(kind: string, idParts: readonly string[], sql: string, options: { dryRun?: boolean; signal?: AbortSignal | undefined }): Promise<void>;
  ensureDataset(dataset: string): Promise<void>;
}

/**
 * Procedures in BigQuery: checked by a dry run (BigQuery's own analyser, so a procedure that
 * passes is one BigQuery will run), registered with CREATE OR REPLACE PROCEDURE in the
 * `organizations` dataset, dropped with DROP PROCEDURE IF EXISTS. A problem BigQuery finds is
 * the caller's (422), in BigQuery's words without the SQL.
 */
export function bigQueryProcedureCatalog(deps: ProcedureCatalogDeps): ProcedureCatalog {
  const unprocessable = (error: unknown): never => {
    if (error instanceof ProcessorError && !error.retryable) throw new UnprocessableError(error.message.replace(/^BigQuery [^:]+ failed: /, ''), { field: 'sql', cause: error });
    throw error;
  };
  return {
    async check(sql, signal) {
      if (sql.trim() === '') throw new UnprocessableError('the procedure holds no SQL statement', { field: 'sql' });
      await deps.query('check', [randomUUID()], sql, { dryRun: true, signal }).catch(unprocessable);
    },
    async register(name, sql, signal) {
      await deps.ensureDataset(PROCEDURES_DATASET);
      const qualified = `\`${PROCEDURES_DATASET}.${assertIdentifier('procedure', name)}\``;
      await deps.query('procedure', [name, randomUUID()], `CREATE OR REPLACE PROCEDURE ${qualified}()\nBEGIN\n${sql}\nEND`, { signal }).catch(unprocessable);
    },
    async drop(name, signal) {
      await deps.query('procedure', [name, randomUUID()], `DROP PROCEDURE IF EXISTS \`${PROCEDURES_DATASET}.${assertIdentifier('procedure', name)}\``, { signal });
    },
  };
}
