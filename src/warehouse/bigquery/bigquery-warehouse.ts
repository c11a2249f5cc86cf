import { randomUUID } from 'node:crypto';
import { BigQuery, type BigQueryOptions } from '@google-cloud/bigquery';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { DUCKDB_TYPES } from '../duckdb/duckdb-warehouse.ts';
import { exportRows } from '../duckdb/export-rows.ts';
import { stageBatches } from '../duckdb/stage-rows.ts';
import { loadTableSchema, type FieldType, type TableSchema } from '../table-schema.ts';
import { assertIdentifier, type ExportRequest, type SqlParams, type StepWarehouse, type Warehouse, type WarehouseScope, type WarehouseUsage } from '../warehouse.ts';
import { isNotFound } from './bigquery-errors.ts';
import { addUsage, bigQueryJobs, NO_USAGE, RESULT_PAGE_ROWS, type JobResource } from './bigquery-jobs.ts';
import { jobLabels } from './job-ids.ts';
import { loadBigQueryMigrations, migrateBigQueryDataset, type MigrationRunner } from './migrate-dataset.ts';
import { replaceFromBatches, replaceFromSelect, type ReplaceDeps } from './partition-replace.ts';
import { qualified } from './partition-sql.ts';
import { bigQueryProcedureCatalog } from './procedure-catalog.ts';
import { namedParameters, positionalParameters, resultRows } from './query-parameters.ts';
import { DEFAULT_RETRY_POLICY, type BigQueryRetryPolicy } from './retry-policy.ts';
import { openScratchDuckDb, type ScratchDuckDb } from './scratch-duckdb.ts';
import { tableResource, type RestField } from './table-resource.ts';

export interface BigQueryWarehouseOptions {
  projectId: string;
  /** Where datasets are created and jobs run (`US`, `EU`, `europe-west3`, ...). */
  location: string;
  configsDir: string;
  /** Another endpoint than Google's (a local server speaking the REST API). A loopback one gets no credentials. */
  apiEndpoint?: string | undefined;
  /** Every query job's `maximumBytesBilled`: a job that would bill more fails instead of running. */
  maximumBytesBilled?: number | undefined;
  /** Where procedures are created: the seeds' central dataset, `organizations` by default. */
  proceduresDataset?: string | undefined;
  /** Where the private scratch DuckDB's folder is made; the OS temp folder by default. */
  scratchRoot?: string | undefined;
  scratchMemoryLimit?: string | undefined;
  clock?: Clock;
  retry?: BigQueryRetryPolicy;
  /** Jitter of retry delays; tests pin it. */
  random?: () => number;
  /** Rows per page of query results. */
  resultPageRows?: number;
  migrationsDir?: string;
}

/**
 * A server on this machine (a test server, an emulator) gets requests without credentials: what
 * google-auth-library's PassThroughClient does, the one method the client library calls of it.
 */
const ANONYMOUS = { getRequestHeaders: async () => new Headers() } as unknown as BigQueryOptions['authClient'];
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/;

/**
 * The warehouse in BigQuery: one dataset per org (`{org_slug}_{env}`), tables from the schema
 * files partitioned by day and clustered by org and pipeline, every write a load or query job
 * with a deterministic id and the org's labels, and each partition replaced in one transaction
 * (partition-replace.ts). The SQL it is given is BigQuery SQL (`*.bigquery.sql`, `@params`);
 * it runs it as given and never translates it.
 */
export async function openBigQueryWarehouse(options: BigQueryWarehouseOptions): Promise<Warehouse> {
  const clock = options.clock ?? systemClock;
  const client = new BigQuery({
    projectId: options.projectId,
    location: options.location,
    // Retries are ours (retry-policy.ts), so that every resend keeps its job id.
    autoRetry: false,
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint.replace(/\/+$/, '') } : {}),
    ...(options.apiEndpoint && LOOPBACK.test(options.apiEndpoint) ? { authClient: ANONYMOUS } : {}),
  });
  const serviceJobs = jobsFor(undefined);
  const migrations = loadBigQueryMigrations(options.migrationsDir);
  const preparingDatasets = new Map<string, Promise<void>>();
  const creatingTables = new Map<string, Promise<TableSchema>>();
  const writeSequence = new Map<string, number>();
  let scratch: Promise<ScratchDuckDb> | undefined;

  function jobsFor(usage: WarehouseUsage | undefined) {
    return bigQueryJobs({ client, projectId: options.projectId, location: options.location, clock, retry: options.retry ?? DEFAULT_RETRY_POLICY, ...(options.random ? { random: options.random } : {}), ...(usage ? { onJobDone: (job: JobResource) => addUsage(usage, job) } : {}) });
  }

  const tables = {
    async create(dataset: string, table: string, resource: Record<string, unknown>): Promise<boolean> {
      return serviceJobs.send(`creating table ${dataset}.${table}`, async () => {
        await serviceJobs.call({ method: 'POST', uri: `/datasets/${dataset}/tables`, json: resource });
        return true;
      }, undefined, async () => false);
    },
    async get(dataset: string, table: string): Promise<{ schema?: { fields: RestField[] }; numRows?: string } | undefined> {
      try {
        return await serviceJobs.send(`reading table ${dataset}.${table}`, () => serviceJobs.call({ uri: `/datasets/${dataset}/tables/${table}` }));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async drop(dataset: string, table: string): Promise<void> {
      await serviceJobs.send(`dropping table ${dataset}.${table}`, () => serviceJobs.call({ method: 'DELETE', uri: `/datasets/${dataset}/tables/${table}` })).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
    },
  };

  /** One warehouse over the shared client: `scope` labels its jobs, `usage` sums them. */
  function scoped(scope: WarehouseScope | undefined, usage: WarehouseUsage | undefined): StepWarehouse {
    const labelsFor = (org?: string, pipeline?: string, run?: string) => jobLabels({ org: org ?? scope?.orgSlug, pipeline: pipeline ?? scope?.pipelineId, run: run ?? scope?.runId, step: scope?.stepId });

    async function queryJob(jobs: ReturnType<typeof jobsFor>, kind: string, idParts: readonly (string | number | undefined)[], sql: string, params: SqlParams | readonly unknown[], dataset: string | undefined, labels: Record<string, string>, signal?: AbortSignal, dryRun = false) {
      const query = {
        query: sql,
        useLegacySql: false,
        ...(Array.isArray(params) ? positionalParameters(params) : namedParameters(sql, params as SqlParams)),
        ...(dataset ? { defaultDataset: { projectId: options.projectId, datasetId: dataset } } : {}),
        ...(options.maximumBytesBilled ? { maximumBytesBilled: String(options.maximumBytesBilled) } : {}),
      };
      return jobs.query({ kind, idParts, what: `the ${kind} job` }, query, labels, signal, dryRun);
    }

    async function readAll(jobs: ReturnType<typeof jobsFor>, job: JobResource, signal?: AbortSignal): Promise<Record<string, unknown>[]> {
      const rows: Record<string, unknown>[] = [];
      for await (const page of jobs.results(job, signal, options.resultPageRows ?? RESULT_PAGE_ROWS)) rows.push(...resultRows(page.fields, page.rows));
      return rows;
    }

    /** What one write needs: jobs that add to the call's usage (and the step's), and the tables API. */
    function replaceDeps(callUsage: WarehouseUsage, labels: Record<string, string>): ReplaceDeps {
      const jobs = jobsFor(callUsage);
      return {
        async query(kind, idParts, sql, params, dataset, signal) {
          const job = await queryJob(jobs, kind, idParts, sql, params, dataset, labels, signal);
          return kind === 'verify' ? readAll(jobs, job, signal) : [];
        },
        async load(idParts, file, dataset, table, signal) {
          const load = {
            sourceFormat: 'PARQUET',
            writeDisposition: 'WRITE_TRUNCATE',
            createDisposition: 'CREATE_NEVER',
          };
          const job = await jobs.load({ kind: 'load', idParts: [...idParts, table], what: `the load into ${dataset}.${table}` }, file, { dataset, table }, load, labels, signal);
          return Number(job.statistics?.load?.outputRows ?? 0);
        },
        async createTable(dataset, table, fields, expiresInMs) {
          await tables.create(dataset, table, { tableReference: { projectId: options.projectId, datasetId: dataset, tableId: table }, schema: { fields }, expirationTime: String(clock.now().getTime() + expiresInMs) });
        },
        async describeTable(dataset, table) {
          const found = await tables.get(dataset, table);
          return { fields: found?.schema?.fields ?? [], rows: Number(found?.numRows ?? 0) };
        },
        dropTable: (dataset, table) => tables.drop(dataset, table),
        scratch: openScratch,
      };
    }

    /** The id parts of a write: org first, its run, step, table and attempt, and its place among this attempt's writes. */
    function writeIdParts(write: { dataset: string; table: string; lineage: { orgSlug: string; pipelineId: string; credentialId: string; runId: string; ingestedAt: Date }; runDates: { start: string; end: string } }) {
      const attempt = [write.lineage.orgSlug, write.lineage.runId, scope?.stepId, write.dataset, write.table, write.lineage.pipelineId, write.lineage.credentialId, write.runDates.start, write.runDates.end, write.lineage.ingestedAt.toISOString()];
      const key = JSON.stringify(attempt);
      const sequence = (writeSequence.get(key) ?? 0) + 1;
      writeSequence.delete(key);
      writeSequence.set(key, sequence);
      // Bounded: the oldest keys are attempts long ended, whose ingestion time never comes back.
      if (writeSequence.size > WRITE_SEQUENCE_KEYS) writeSequence.delete(writeSequence.keys().next().value as string);
      return [...attempt, sequence];
    }

    async function write<T extends { rows: number }>(target: Parameters<typeof writeIdParts>[0] & { schema: string }, fn: (deps: ReplaceDeps, schema: TableSchema, idParts: readonly (string | number | undefined)[]) => Promise<T>): Promise<T & { usage: WarehouseUsage }> {
      const schema = await ensureTable(target.dataset, target.table, target.schema);
      const callUsage = { ...NO_USAGE };
      const labels = labelsFor(target.lineage.orgSlug, target.lineage.pipelineId, target.lineage.runId);
      try {
        return { ...(await fn(replaceDeps(callUsage, labels), schema, writeIdParts(target))), usage: callUsage };
      } finally {
        if (usage) for (const key of Object.keys(usage) as (keyof WarehouseUsage)[]) usage[key] += callUsage[key];
      }
    }

    const warehouse: StepWarehouse = {
      dialect: 'bigquery',
      procedures: bigQueryProcedureCatalog({
        dataset: options.proceduresDataset ?? 'organizations',
        query: async (kind, idParts, sql, { params, dryRun, signal }) => {
          await queryJob(jobsFor(usage), kind, idParts, sql, params ?? {}, undefined, labelsFor(), signal, dryRun);
        },
        ensureDataset: async (dataset) => {
          await runner.createDataset(dataset);
        },
      }),
      forStep: (stepScope) => scoped(stepScope, { ...NO_USAGE }),
      usage: () => ({ ...(usage ?? NO_USAGE) }),

      async ensureDataset(dataset) {
        await prepareDataset(dataset);
      },

      async ensureTable(dataset, table, schemaName) {
        await ensureTable(dataset, table, schemaName);
      },

      replacePartition: (request, signal) => write(request, (deps, schema, idParts) => replaceFromSelect(deps, request, schema, idParts, signal)),

      replacePartitionFromBatches: (request, signal) => write(request, (deps, schema, idParts) => replaceFromBatches(deps, request, schema, idParts, signal)),

      async runScript(statements, signal) {
        if (statements.length === 0) return;
        const params: SqlParams = {};
        for (const statement of statements) Object.assign(params, statement.params ?? {});
        // BigQuery runs no DDL inside a transaction (warehouse.ts says what that means here).
        const ddl = statements.some((statement) => /^\s*(CREATE|ALTER|DROP)\b/i.test(statement.sql) && !/^\s*CREATE\s+(OR\s+REPLACE\s+)?TEMP(ORARY)?\s+(TABLE|FUNCTION)\b/i.test(statement.sql));
        const body = statements.map((statement) => statement.sql).join(';\n');
        const script = ddl ? body : `BEGIN TRANSACTION;\n${body};\nCOMMIT TRANSACTION`;
        await queryJob(jobsFor(usage), 'script', [scope?.orgSlug, scope?.runId, scope?.stepId, randomUUID()], script, params, undefined, labelsFor(), signal);
      },

      async query(sql, params = {}, signal) {
        const jobs = jobsFor(usage);
        const job = await queryJob(jobs, 'query', [scope?.orgSlug, scope?.runId, scope?.stepId, randomUUID()], sql, params, undefined, labelsFor(), signal);
        return readAll(jobs, job, signal);
      },

      async exportRows(request, signal) {
        return exportThroughScratch(request, signal);
      },

      async hasTable(dataset, table) {
        return (await tables.get(assertIdentifier('dataset', dataset), assertIdentifier('table', table))) !== undefined;
      },

      async health() {
        await serviceJobs.call({ uri: '/datasets', qs: { maxResults: 1 } });
      },

      // A step's warehouse shares the process's client and scratch DuckDB: only the warehouse itself closes them.
      close: scope
        ? async () => undefined
        : async () => {
            if (scratch) (await scratch).close();
          },
    };

    /**
     * An export reads the org's rows from BigQuery page by page into the scratch DuckDB, whose
     * COPY writes the file exactly as the DuckDB warehouse's export does (the same columns,
     * formats and order). A large export belongs in BigQuery's own EXPORT DATA to GCS.
     */
    async function exportThroughScratch(request: ExportRequest, signal?: AbortSignal): Promise<number> {
      const dataset = assertIdentifier('dataset', request.dataset);
      const table = assertIdentifier('table', request.table);
      const found = await tables.get(dataset, table);
      const fields = found?.schema?.fields ?? [];
      const names = new Set(fields.map((field) => field.name));
      const period = names.has('ChargePeriodStart') ? 'CAST(ChargePeriodStart AS DATE)' : 'x_pipeline_run_date';
      const where = ['x_org_slug = @org_slug'];
      if (request.from) where.push(`${period} >= CAST(@from_day AS DATE)`);
      if (request.to) where.push(`${period} <= CAST(@to_day AS DATE)`);
      if (request.runId) where.push('x_run_id = @run_id');
      const jobs = jobsFor(usage);
      const params: SqlParams = { org_slug: request.orgSlug, from_day: request.from ?? null, to_day: request.to ?? null, run_id: request.runId ?? null };
      const job = await queryJob(jobs, 'export', [request.orgSlug, randomUUID()], `SELECT * FROM ${qualified(dataset, table)} WHERE ${where.join(' AND ')}`, params, undefined, labelsFor(request.orgSlug), signal);
      const columns = fields.map((field) => field.name);
      async function* batches() {
        for await (const page of jobs.results(job, signal, options.resultPageRows ?? RESULT_PAGE_ROWS)) yield resultRows(page.fields, page.rows);
      }
      return (await openScratch()).withConnection(async (connection) => {
        await stageBatches(connection, columns, batches(), signal);
        const typed = fields.map((field) => `CAST("${field.name}" AS ${DUCKDB_TYPES[(SYNONYMS[field.type] ?? field.type) as FieldType] ?? 'VARCHAR'}) AS "${field.name}"`);
        // A schema of this export's own, so two exports of one table in this process never meet.
        const local = `export_${randomUUID().replace(/-/g, '')}`;
        await connection.run(`CREATE SCHEMA ${local}`);
        try {
          await connection.run(`CREATE TABLE ${local}.${table} AS SELECT ${typed.join(', ')} FROM staged`);
          await connection.run('DROP TABLE staged');
          return await exportRows(connection, { ...request, dataset: local });
        } finally {
          await connection.run(`DROP SCHEMA ${local} CASCADE`);
        }
      }, signal);
    }

    return warehouse;
  }

  /** Creates a table from its schema file once per process (an existing one is left to the migrations); returns the schema. */
  function ensureTable(dataset: string, table: string, schemaName: string): Promise<TableSchema> {
    const key = `${assertIdentifier('dataset', dataset)}.${assertIdentifier('table', table)}`;
    let creating = creatingTables.get(key);
    if (!creating) {
      creating = (async () => {
        const schema = await loadTableSchema(options.configsDir, schemaName);
        await prepareDataset(dataset);
        await tables.create(dataset, table, tableResource(options.projectId, dataset, table, schema));
        return schema;
      })();
      creatingTables.set(key, creating);
      creating.catch(() => creatingTables.delete(key));
    }
    return creating;
  }

  function openScratch(): Promise<ScratchDuckDb> {
    scratch ??= openScratchDuckDb({ root: options.scratchRoot, memoryLimit: options.scratchMemoryLimit });
    return scratch;
  }

  const runner: MigrationRunner = {
    async createDataset(dataset) {
      return serviceJobs.send(`creating dataset ${dataset}`, async () => {
        await serviceJobs.call({ method: 'POST', uri: '/datasets', json: { datasetReference: { projectId: options.projectId, datasetId: dataset }, location: options.location, labels: { app: 'finops_pipeline' } } });
        return true;
      }, undefined, async () => false);
    },
    async createVersionTable(dataset) {
      await tables.create(dataset, '_schema_migrations', {
        tableReference: { projectId: options.projectId, datasetId: dataset, tableId: '_schema_migrations' },
        schema: { fields: [{ name: 'version', type: 'STRING', mode: 'REQUIRED' }, { name: 'applied_at', type: 'TIMESTAMP', mode: 'REQUIRED' }] },
      });
    },
    async appliedVersions(dataset) {
      const rows = await root.query(`SELECT version FROM ${qualified(dataset, '_schema_migrations')}`);
      return new Set(rows.map((row) => String(row.version)));
    },
    async runStatements(statements) {
      await root.runScript(statements.map((sql) => ({ sql })));
    },
    async recordVersions(dataset, versions) {
      if (versions.length === 0) return;
      const table = qualified(dataset, '_schema_migrations');
      await root.runScript(versions.map((version, i) => ({
        sql: `INSERT INTO ${table} (version, applied_at) SELECT @version_${i}, CAST(@applied_at AS TIMESTAMP) FROM (SELECT 1) WHERE @version_${i} NOT IN (SELECT version FROM ${table})`,
        params: { [`version_${i}`]: version, applied_at: clock.now().toISOString() },
      })));
    },
  };

  function prepareDataset(dataset: string): Promise<void> {
    assertIdentifier('dataset', dataset);
    let preparing = preparingDatasets.get(dataset);
    if (!preparing) {
      preparing = migrateBigQueryDataset(runner, dataset, migrations).then(() => undefined);
      preparingDatasets.set(dataset, preparing);
      preparing.catch(() => preparingDatasets.delete(dataset));
    }
    return preparing;
  }

  const root = scoped(undefined, undefined);
  return root;
}

/** Attempts whose write counts a process remembers (a few hundred bytes each). */
const WRITE_SEQUENCE_KEYS = 10_000;

/** REST schemas name some types the legacy way. */
const SYNONYMS: Record<string, string> = { INTEGER: 'INT64', FLOAT: 'FLOAT64', BOOLEAN: 'BOOL' };
