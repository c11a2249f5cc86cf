/**
 * The data plane. DuckDB is the embedded default; BigQuery implements the same interface at
 * scale. Processors only ever see this interface, so a pipeline runs unchanged on both.
 */
export type SqlParams = Record<string, string | number | boolean | null>;

export interface Lineage {
  orgSlug: string;
  pipelineId: string;
  credentialId: string;
  runId: string;
  ingestedAt: Date;
}

export interface PartitionWrite {
  dataset: string;
  table: string;
  /** Name of the table's schema file under `configs/schemas/` (without `.json`). */
  schema: string;
  lineage: Lineage;
  /** The x_pipeline_run_date range the write replaces, inclusive (`YYYY-MM-DD`). */
  runDates: { start: string; end: string };
  /** Statements run first in the same transaction (a procedure's preparation steps). */
  setup?: { sql: string; params?: SqlParams }[];
  /** The rows to write: a SELECT whose columns are bound to the table's by name. */
  select: { sql: string; params?: SqlParams };
  /** A column of the select that gives each row's x_pipeline_run_date; the range start by default. */
  runDateColumn?: string;
  /**
   * Checks the written rows before the transaction commits; throwing rolls the write back.
   * `rows` is a SQL filter selecting exactly the rows this write inserted.
   */
  verify?: (check: VerifyContext) => Promise<void>;
}

/** What a verification sees: the open transaction, so it reads the rows not yet committed. */
export interface VerifyContext {
  /** Qualified target table. */
  table: string;
  /** SQL filter of the rows this write inserted. */
  rows: string;
  /**
   * Disjoint filters (rowid ranges) that together cover `rows`, one per warehouse thread. DuckDB
   * sizes a scan by the table's committed rows, so it scans an open transaction's rows in an
   * empty table with one thread; a check that scans each part in its own UNION ALL branch uses
   * them all (measured: the FOCUS check of 900k new rows, 2.0 s as one scan, 1.1 s as two parts).
   */
  parts: string[];
  /** The checked table's columns in table order with their types, where the warehouse has no DESCRIBE (BigQuery: its REST types). */
  columns?: readonly { name: string; type: string }[];
  /** Positional parameters (`?`, `$1`). */
  all(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Named parameters (`$name`), bound like every other statement. */
  query(sql: string, params?: SqlParams): Promise<Record<string, unknown>[]>;
}

/**
 * The rows a write inserted, as a table expression to read FROM: one UNION ALL branch per part,
 * so DuckDB scans them on all its threads (see VerifyContext.parts).
 */
export function insertedRows(check: Pick<VerifyContext, 'table' | 'rows' | 'parts'>): string {
  const branches = (check.parts.length > 1 ? check.parts : ['TRUE']).map((part) => `SELECT * FROM ${check.table} WHERE (${check.rows}) AND (${part})`);
  return `(${branches.join(' UNION ALL ')})`;
}

/** A partition written from rows produced in TypeScript (API pages), streamed in batches. */
export interface BatchPartitionWrite extends Omit<PartitionWrite, 'select' | 'setup'> {
  /** The fields of each row that are staged. */
  columns: string[];
  batches: AsyncIterable<Record<string, unknown>[]>;
  /** A SELECT over the staged rows (table `staged`, text columns); by default each column cast to the target's type. */
  select?: { sql: string; params?: SqlParams };
}

export interface ExportRequest {
  dataset: string;
  table: string;
  orgSlug: string;
  /** Inclusive days of the charge period (FOCUS tables) or the data date (other tables). */
  from?: string | undefined;
  to?: string | undefined;
  runId?: string | undefined;
  format: 'csv' | 'parquet';
  /** File to write. */
  path: string;
}

/**
 * The warehouse's side of the procedures API (src/procedures/): a procedure's SQL checked in the
 * warehouse's dialect, and registered where that warehouse keeps procedures.
 */
export interface ProcedureCatalog {
  /**
   * Refuses SQL this warehouse would not run, with an UnprocessableError naming the statement
   * and the problem (never the engine's own message with its excerpt). `sql` is the procedure's
   * text with its templates resolved to the variables of a sample run (`sample`), whose
   * `org_dataset` exists for no org: tables are bound when a run executes the procedure. Its
   * values are also those of the parameters a check must bind.
   */
  check(sql: string, sample: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<void>;
  /**
   * Makes a checked procedure the one runs use, replacing any before it. `sql` is the text as
   * registered, templates unresolved. BigQuery: CREATE OR REPLACE PROCEDURE in the procedures
   * dataset (`organizations`), callable with the org's dataset and the run's values. DuckDB has no stored procedures: runs read the registered text from the control plane.
   */
  register(name: string, sql: string, signal?: AbortSignal): Promise<void>;
  /** Removes a registered procedure from the warehouse (nothing to remove on DuckDB). */
  drop(name: string, signal?: AbortSignal): Promise<void>;
}

/** Who a warehouse's work is for: BigQuery labels its jobs with these, and counts their bytes per step. */
export interface WarehouseScope {
  orgSlug: string;
  pipelineId: string;
  runId: string;
  stepId: string;
}

/** What a warehouse's jobs cost (BigQuery's job statistics); DuckDB runs no jobs. */
export interface WarehouseUsage {
  jobs: number;
  bytesProcessed: number;
  bytesBilled: number;
  /** Bytes of the files load jobs read. */
  bytesLoaded: number;
}

/** A warehouse bound to one step: its jobs labelled with the step's scope, `usage()` their sum so far. */
export interface StepWarehouse extends Warehouse {
  usage(): WarehouseUsage;
}

export interface Warehouse {
  readonly dialect: 'duckdb' | 'bigquery';
  /** This warehouse as one step uses it (BigQuery: jobs labelled and bytes counted per step). */
  forStep?(scope: WarehouseScope): StepWarehouse;
  readonly procedures: ProcedureCatalog;
  ensureDataset(dataset: string): Promise<void>;
  /** Creates the table from its schema file (lineage columns last) when it does not exist. */
  ensureTable(dataset: string, table: string, schema: string): Promise<void>;
  /**
   * Replaces the rows of the composite key (org, pipeline, credential, run date in range) with
   * the select's rows, atomically: a re-run gives identical rows, a failure leaves the old ones.
   */
  replacePartition(write: PartitionWrite, signal?: AbortSignal): Promise<{ rows: number; usage?: WarehouseUsage }>;
  /**
   * The same replace for rows from TypeScript: batches go through the engine's bulk path into
   * a staging table, then one transaction replaces the partition. Nothing is visible until then.
   */
  replacePartitionFromBatches(write: BatchPartitionWrite, signal?: AbortSignal): Promise<{ rows: number; staged: number; usage?: WarehouseUsage }>;
  /**
   * Runs statements in one transaction, each bound to the parameters it names. (BigQuery runs no
   * DDL inside a transaction: there, statements that include DDL run as one script that stops at
   * the first failure, each statement atomic by itself.)
   */
  runScript(statements: { sql: string; params?: SqlParams }[], signal?: AbortSignal): Promise<void>;
  /** Writes an org's rows of a table to a file; returns the row count. */
  exportRows(request: ExportRequest, signal?: AbortSignal): Promise<number>;
  /** Whether a table exists in a dataset. */
  hasTable(dataset: string, table: string): Promise<boolean>;
  query(sql: string, params?: SqlParams, signal?: AbortSignal): Promise<Record<string, unknown>[]>;
  health(): Promise<void>;
  close(): Promise<void>;
}

const IDENTIFIER = /^[a-z][a-z0-9_]{0,127}$/;

/** Dataset and table names end up in SQL text, so they are held to a strict shape. */
export function assertIdentifier(kind: string, value: string): string {
  if (!IDENTIFIER.test(value)) throw new Error(`${kind} "${value}" must be lowercase letters, digits and underscores, starting with a letter`);
  return value;
}
