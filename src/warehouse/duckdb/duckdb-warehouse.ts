import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBConnection, DuckDBInstance, type DuckDBPreparedStatement } from '@duckdb/node-api';
import { ProcessorError } from '../../shared/errors.ts';
import { loadTableSchema, type FieldType } from '../table-schema.ts';
import { assertIdentifier, type PartitionWrite, type SqlParams, type Warehouse } from '../warehouse.ts';

const DUCKDB_TYPES: Record<FieldType, string> = {
  STRING: 'VARCHAR',
  INT64: 'BIGINT',
  FLOAT64: 'DOUBLE',
  // BigQuery NUMERIC: exact decimal, 29 integer digits and 9 fractional ones.
  NUMERIC: 'DECIMAL(38, 9)',
  BOOL: 'BOOLEAN',
  DATE: 'DATE',
  TIMESTAMP: 'TIMESTAMPTZ',
  JSON: 'JSON',
};

export interface DuckDbWarehouseOptions {
  /** A database file, or `:memory:`. */
  path: string;
  configsDir: string;
  /** DuckDB's own thread pool; the machine's cores by default. */
  threads?: number;
  memoryLimit?: string;
}

/**
 * One DuckDB instance per process (a file can be opened by one process only), a fresh
 * connection per operation: DuckDB runs connections' transactions concurrently (MVCC) and a
 * conflicting write fails instead of blocking.
 */
export async function openDuckDbWarehouse(options: DuckDbWarehouseOptions): Promise<Warehouse> {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const config: Record<string, string> = {};
  if (options.threads) config.threads = String(options.threads);
  if (options.memoryLimit) config.memory_limit = options.memoryLimit;
  const instance = await DuckDBInstance.create(options.path, config);
  // Concurrent CREATE ... IF NOT EXISTS of one table from two connections is a DuckDB catalog
  // write-write conflict, so each table is created once per process, by the first caller.
  const creatingTables = new Map<string, Promise<void>>();
  // Timestamps are UTC whatever the host's zone, so a date cast never shifts a day.
  const setup = await instance.connect();
  await setup.run("SET GLOBAL TimeZone = 'UTC'");
  setup.closeSync();

  async function withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const connection = await instance.connect();
    const interrupt = () => connection.interrupt();
    signal?.throwIfAborted();
    signal?.addEventListener('abort', interrupt, { once: true });
    try {
      return await fn(connection);
    } catch (error) {
      throw classify(error);
    } finally {
      signal?.removeEventListener('abort', interrupt);
      connection.closeSync();
    }
  }

  async function inTransaction<T>(connection: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
    await connection.run('BEGIN TRANSACTION');
    try {
      const result = await fn();
      await connection.run('COMMIT');
      return result;
    } catch (error) {
      await connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  const warehouse: Warehouse = {
    dialect: 'duckdb',

    async ensureDataset(dataset) {
      await withConnection((c) => c.run(`CREATE SCHEMA IF NOT EXISTS ${assertIdentifier('dataset', dataset)}`));
    },

    async ensureTable(dataset, table, schemaName) {
      const qualified = `${assertIdentifier('dataset', dataset)}.${assertIdentifier('table', table)}`;
      let creating = creatingTables.get(qualified);
      if (!creating) {
        creating = (async () => {
          const schema = await loadTableSchema(options.configsDir, schemaName);
          const columns = schema.fields.map((field) => `"${field.name}" ${DUCKDB_TYPES[field.type]}${field.mode === 'REQUIRED' ? ' NOT NULL' : ''}`);
          await withConnection(async (c) => {
            await c.run(`CREATE SCHEMA IF NOT EXISTS ${dataset}`);
            await c.run(`CREATE TABLE IF NOT EXISTS ${qualified} (${columns.join(', ')})`);
          });
        })();
        creatingTables.set(qualified, creating);
        creating.catch(() => creatingTables.delete(qualified));
      }
      await creating;
    },

    async replacePartition(write: PartitionWrite, signal) {
      await warehouse.ensureTable(write.dataset, write.table, write.schema);
      const target = `${write.dataset}.${write.table}`;
      const { lineage, runDates } = write;
      const key = {
        x_org_slug: lineage.orgSlug,
        x_pipeline_id: lineage.pipelineId,
        x_credential_id: lineage.credentialId,
        x_range_start: runDates.start,
        x_range_end: runDates.end,
      };
      const runDate = write.runDateColumn ? `CAST(rows."${write.runDateColumn}" AS DATE)` : 'CAST($x_range_start AS DATE)';
      // A row dated outside the replaced range would survive the next re-run's DELETE and be
      // duplicated, so it aborts the whole write (DuckDB's error() raises inside the INSERT).
      const checkedRunDate = `CASE WHEN ${runDate} BETWEEN CAST($x_range_start AS DATE) AND CAST($x_range_end AS DATE) THEN ${runDate}
        ELSE error('row x_pipeline_run_date ' || coalesce(CAST(${runDate} AS VARCHAR), 'NULL') || ' is outside the run range ' || $x_range_start || '..' || $x_range_end) END`;
      const insert = `INSERT INTO ${target} BY NAME
        SELECT rows.*,
               $x_org_slug AS x_org_slug, $x_pipeline_id AS x_pipeline_id, $x_credential_id AS x_credential_id,
               ${checkedRunDate} AS x_pipeline_run_date, $x_run_id AS x_run_id,
               CAST($x_ingested_at AS TIMESTAMPTZ) AS x_ingested_at, CAST(CAST($x_ingested_at AS TIMESTAMPTZ) AS DATE) AS x_ingestion_date
          FROM (${write.select.sql}) AS rows`;
      return withConnection(
        (c) =>
          inTransaction(c, async () => {
            for (const statement of write.setup ?? []) await runBound(c, statement.sql, statement.params ?? {});
            await runBound(c, `DELETE FROM ${target} WHERE x_org_slug = $x_org_slug AND x_pipeline_id = $x_pipeline_id AND x_credential_id = $x_credential_id
              AND x_pipeline_run_date BETWEEN CAST($x_range_start AS DATE) AND CAST($x_range_end AS DATE)`, key);
            const result = await runBound(c, insert, { ...write.select.params, ...key, x_run_id: lineage.runId, x_ingested_at: lineage.ingestedAt.toISOString() });
            return { rows: result };
          }),
        signal,
      );
    },

    async runScript(statements, signal) {
      await withConnection((c) => inTransaction(c, async () => {
        for (const statement of statements) await runBound(c, statement.sql, statement.params ?? {});
      }), signal);
    },

    async query(sql, params = {}, signal) {
      return withConnection(async (c) => {
        const prepared = await bind(c, sql, params);
        return (await prepared.runAndReadAll()).getRowObjectsJson() as Record<string, unknown>[];
      }, signal);
    },

    async health() {
      await withConnection((c) => c.run('SELECT 1'));
    },

    async close() {
      instance.closeSync();
    },
  };
  return warehouse;
}

/**
 * SQL that cannot bind or parse fails the same way every time, so it is not worth a retry;
 * a write-write conflict with a concurrent transaction, or an I/O error, may pass next time.
 */
const PERMANENT = /^(Binder|Parser|Catalog|Conversion|Invalid Input|Constraint|Not implemented|Out of Range) Error/;

function classify(error: unknown): unknown {
  if (error instanceof ProcessorError || !(error instanceof Error)) return error;
  return new ProcessorError(error.message, { retryable: !PERMANENT.test(error.message), cause: error });
}

/** Prepares one statement and binds only the named parameters it uses, so callers can pass a shared set. */
async function bind(connection: DuckDBConnection, sql: string, params: SqlParams): Promise<DuckDBPreparedStatement> {
  const prepared = await connection.prepare(sql);
  const values: Record<string, string | number | boolean | null> = {};
  for (let i = 1; i <= prepared.parameterCount; i++) {
    const name = prepared.parameterName(i);
    if (!(name in params)) throw new ProcessorError(`SQL parameter $${name} has no value`, { retryable: false });
    values[name] = params[name] ?? null;
  }
  if (prepared.parameterCount > 0) prepared.bind(values);
  return prepared;
}

async function runBound(connection: DuckDBConnection, sql: string, params: SqlParams): Promise<number> {
  const prepared = await bind(connection, sql, params);
  const result = await prepared.run();
  return Number(result.rowsChanged);
}
