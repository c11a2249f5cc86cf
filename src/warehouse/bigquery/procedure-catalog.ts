import { randomUUID } from 'node:crypto';
import { SQL_IDENTIFIERS, sqlTemplateParts } from '../../pipelines/templates.ts';
import { InputError, ProcessorError, UnprocessableError } from '../../shared/errors.ts';
import { splitStatements } from '../split-statements.ts';
import { assertIdentifier, type ProcedureCatalog, type SqlParams } from '../warehouse.ts';
import { isNotFound } from './bigquery-errors.ts';
import { parameterNames } from './query-parameters.ts';

export interface ProcedureCatalogDeps {
  /** Where procedures are created: the seeds' central dataset, `organizations` unless BIGQUERY_PROCEDURES_DATASET says otherwise. */
  dataset: string;
  /** A query job; `dryRun` only checks it (BigQuery parses and plans it, nothing runs or bills). */
  query(kind: string, idParts: readonly string[], sql: string, options: { params?: SqlParams; dryRun?: boolean; signal?: AbortSignal | undefined }): Promise<void>;
  ensureDataset(dataset: string): Promise<void>;
}

/**
 * Procedures in BigQuery: checked by a dry run (BigQuery's own analyser), created with CREATE OR
 * REPLACE PROCEDURE in the procedures dataset (procedureDefinition), dropped with DROP PROCEDURE
 * IF EXISTS. A problem BigQuery finds is the caller's (422), in BigQuery's words without the SQL.
 */
export function bigQueryProcedureCatalog(deps: ProcedureCatalogDeps): ProcedureCatalog {
  const unprocessable = (error: unknown): never => {
    if (error instanceof ProcessorError && !error.retryable) throw new UnprocessableError(error.message.replace(/^BigQuery [^:]+ failed: /, ''), { field: 'sql', cause: error });
    throw error;
  };
  return {
    async check(sql, sample, signal) {
      if (sql.trim() === '') throw new UnprocessableError('the procedure holds no SQL statement', { field: 'sql' });
      // Every parameter bound as a run binds it, as text: the sample run's value, or an empty one
      // for a step's own (a dry run evaluates nothing).
      const params = Object.fromEntries([...parameterNames(sql)].map((name) => [name, sample[name] ?? '']));
      await deps.query('check', [randomUUID()], sql, { params, dryRun: true, signal }).catch((error: unknown) => {
        // The sample org's dataset exists for no org: BigQuery parsed the whole script before it
        // looked for it, and the tables are bound at run time, as on DuckDB (docs/procedures.md).
        if (isNotFound(error) && new RegExp(`\\b${sample.org_dataset}\\b`).test((error as Error).message)) return;
        unprocessable(error);
      });
    },
    async register(name, sql, signal) {
      let definition: string;
      try {
        definition = procedureDefinition(deps.dataset, name, sql);
      } catch (error) {
        if (error instanceof InputError) throw new UnprocessableError(error.message, { field: 'sql', cause: error });
        throw error;
      }
      await deps.ensureDataset(deps.dataset);
      await deps.query('procedure', [name, randomUUID()], definition, { signal }).catch(unprocessable);
    },
    async drop(name, signal) {
      await deps.query('procedure', [name, randomUUID()], `DROP PROCEDURE IF EXISTS ${qualified(deps.dataset, name)}`, { signal });
    },
  };
}

/**
 * A procedure as BigQuery keeps it, callable the way the seeds call theirs,
 * `CALL \`organizations.sp_genai_3_convert_to_focus\`('acme_prod', ...)` (docs/procedures.md).
 * Its arguments, all STRING as a run's variables are, are the identifiers its text splices
 * (`{org_dataset}`, in SQL_IDENTIFIERS' order), then the parameters it binds (`@start_date`, in
 * name order); a name that is both is one argument. Each statement runs by EXECUTE IMMEDIATE,
 * built from its text and the identifiers, with its own parameters bound by USING: a procedure's
 * statements cannot name a dataset by argument any other way. A last SELECT returns its rows to
 * the caller (what a step writes to its target table).
 */
export function procedureDefinition(dataset: string, name: string, sql: string): string {
  const statements = splitStatements(sql).map((text) => ({ parts: sqlTemplateParts(text, `procedure ${name}`), params: [...parameterNames(text)].sort() }));
  if (statements.length === 0) throw new InputError('the procedure holds no SQL statement', { field: 'sql' });
  const spliced = new Set(statements.flatMap((statement) => statement.parts.flatMap((part) => ('name' in part ? [part.name as string] : []))));
  const args = new Set([...SQL_IDENTIFIERS.filter((identifier) => spliced.has(identifier)), ...statements.flatMap((statement) => statement.params).sort()]);
  const body = statements.map(({ parts, params }) => {
    const pieces = parts.map((part) => ('name' in part ? `\`${part.name}\`` : stringLiteral(part.text)));
    const text = pieces.length === 1 ? pieces[0] : `CONCAT(${pieces.join(', ')})`;
    return `  EXECUTE IMMEDIATE ${text}${params.length > 0 ? ` USING ${params.map((param) => `\`${param}\` AS \`${param}\``).join(', ')}` : ''};`;
  });
  return `CREATE OR REPLACE PROCEDURE ${qualified(dataset, name)}(${[...args].map((arg) => `\`${arg}\` STRING`).join(', ')})\nBEGIN\n${body.join('\n')}\nEND`;
}

const qualified = (dataset: string, name: string) => `\`${dataset}.${assertIdentifier('procedure', name)}\``;

/** A BigQuery string literal of the text as it is: a raw triple-quoted one when the text allows, else escaped. */
function stringLiteral(text: string): string {
  for (const quote of ['"""', "'''"]) {
    if (!text.includes(quote) && !text.endsWith(quote[0] as string) && !/\\$/.test(text)) return `r${quote}${text}${quote}`;
  }
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'`;
}
