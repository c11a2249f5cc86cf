import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, DuckDBTimestampTZValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { splitStatements } from '../../src/warehouse/split-statements.ts';
import { BIGQUERY_TYPES_IN_DUCKDB, bigQueryType, referencedTables, translate } from './bigquery-sql.ts';

/**
 * A local server speaking the BigQuery REST v2 API as @google-cloud/bigquery calls it with
 * `apiEndpoint` (read from its source, version 8.3: requests under `/bigquery/v2/projects/{p}/`;
 * a load's configuration and file as one multipart/related POST to
 * `/upload/bigquery/v2/projects/{p}/jobs?uploadType=multipart`, the only upload the library
 * makes), with BigQuery's status codes and error bodies. Datasets are DuckDB
 * schemas, tables DuckDB tables; SQL is evaluated as bigquery-sql.ts says (DuckDB, after a
 * minimal translation: NOT a BigQuery engine). Jobs run in the background and are seen RUNNING
 * first. Bytes processed are estimated with BigQuery's data-size rules over every column of each
 * table a statement names (an upper bound: BigQuery counts only the columns read), and billed
 * bytes as on demand: at least 10 MB per table, in whole MB.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** Bytes of the request body as sent. */
  bytes: number;
  /** Bytes of the response body. */
  responseBytes: number;
  status: number;
  /** When the request arrived (performance.now() of this process). */
  at: number;
}

export interface Fault {
  method?: string;
  path: RegExp;
  /** Only requests whose body text matches (a job id, a statement). */
  body?: RegExp;
  /** Only requests whose query string matches. */
  search?: RegExp;
  status: number;
  reason: string;
  message?: string;
  /** How many matching requests fail (1 by default). */
  times?: number;
  /** Handle the request first, then answer with the error: a response lost on its way back. */
  afterHandling?: boolean;
}

interface StoredJob {
  resource: Record<string, unknown> & { status: { state: string; errorResult?: unknown; errors?: unknown[] }; statistics: Record<string, unknown> };
  result?: { fields: { name: string; type: string; mode: string }[]; rows: unknown[][] };
}

const STATUS_NAMES: Record<number, string> = { 400: 'INVALID_ARGUMENT', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 409: 'ALREADY_EXISTS', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };
const MB = 1024 * 1024;

class HttpError extends Error {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export async function startBigQueryServer(options: { projectId?: string } = {}) {
  const projectId = options.projectId ?? 'test-project';
  const db = await DuckDBInstance.create(':memory:');
  const setup = await db.connect();
  await setup.run("SET GLOBAL TimeZone = 'UTC'");
  setup.closeSync();
  const files = mkdtempSync(join(tmpdir(), 'bigquery-server-'));
  const datasets = new Map<string, Record<string, unknown>>();
  const tables = new Map<string, Record<string, unknown>>();
  const jobs = new Map<string, StoredJob>();
  const procedures = new Map<string, string>();
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const statementFaults: { pattern: RegExp; reason: string; message: string; times: number }[] = [];
  const running = new Set<Promise<void>>();

  async function withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const c = await db.connect();
    try {
      return await fn(c);
    } finally {
      c.closeSync();
    }
  }

  const fail = (status: number, reason: string, message: string) => new HttpError(status, reason, message);
  const errorBody = (status: number, reason: string, message: string) => ({ error: { code: status, message, errors: [{ message, domain: 'global', reason }], status: STATUS_NAMES[status] ?? 'UNKNOWN' } });

  async function tableResource(dataset: string, table: string): Promise<Record<string, unknown>> {
    const stored = tables.get(`${dataset}.${table}`);
    if (!stored) throw fail(404, 'notFound', `Not found: Table ${projectId}:${dataset}.${table}`);
    return withConnection(async (c) => {
      const columns = (await c.runAndReadAll(`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, [dataset, table])).getRowObjectsJson();
      const count = (await c.runAndReadAll(`SELECT count(*)::VARCHAR AS n FROM "${dataset}"."${table}"`)).getRowObjectsJson()[0]?.n;
      const fields = columns.map((column) => ({ name: String(column.column_name), type: bigQueryType(String(column.data_type)), mode: column.is_nullable === 'NO' ? 'REQUIRED' : 'NULLABLE' }));
      return { ...stored, schema: { fields }, numRows: String(count), numBytes: String(await tableBytes(c, dataset, table)) };
    });
  }

  /** BigQuery's data size: 8 bytes a number, date or timestamp, 16 a NUMERIC, 32 a BIGNUMERIC, 1 a BOOL, 2 + length a STRING. */
  async function tableBytes(c: DuckDBConnection, dataset: string, table: string): Promise<number> {
    const columns = (await c.runAndReadAll(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, [dataset, table])).getRowObjectsJson();
    if (columns.length === 0) return 0;
    const terms = columns.map(({ column_name: name, data_type: type }) => {
      const t = String(type);
      const quoted = `"${String(name)}"`;
      if (t === 'VARCHAR' || t === 'JSON') return `coalesce(sum(2 + strlen(CAST(${quoted} AS VARCHAR))), 0)`;
      const width = t.startsWith('DECIMAL(38,18)') ? 32 : t.startsWith('DECIMAL') ? 16 : t === 'BOOLEAN' ? 1 : 8;
      return `count(*) * ${width}`;
    });
    const row = (await c.runAndReadAll(`SELECT CAST(${terms.join(' + ')} AS BIGINT)::VARCHAR AS n FROM "${dataset}"."${table}"`)).getRowObjectsJson()[0];
    return Number(row?.n ?? 0);
  }

  async function estimateBytes(c: DuckDBConnection, sql: string): Promise<{ processed: number; billed: number }> {
    let processed = 0;
    let named = 0;
    for (const qualified of referencedTables(sql)) {
      const [dataset, table] = qualified.split('.') as [string, string];
      if (!tables.has(qualified)) continue;
      named++;
      processed += await tableBytes(c, dataset, table);
    }
    return { processed, billed: named === 0 ? 0 : Math.max(named * 10 * MB, Math.ceil(processed / MB) * MB) };
  }

  function bindValues(parameters: { name?: string; parameterType: { type: string }; parameterValue?: { value?: string } }[] = []) {
    const value = (p: (typeof parameters)[number]): DuckDBValue => {
      const raw = p.parameterValue?.value;
      if (raw === undefined) return null;
      switch (p.parameterType.type) {
        case 'INT64':
          return BigInt(raw);
        case 'FLOAT64':
          return Number(raw);
        case 'BOOL':
          return raw === 'true';
        default:
          return raw;
      }
    };
    return { named: Object.fromEntries(parameters.filter((p) => p.name).map((p) => [p.name as string, value(p)])), positional: parameters.filter((p) => !p.name).map(value) };
  }

  /** A statement a test made fail (`failStatement`) fails, as often as it was told. */
  function failIfFaulted(statement: string): void {
    const fault = statementFaults.find((f) => f.times > 0 && f.pattern.test(statement));
    if (!fault) return;
    fault.times--;
    throw fail(400, fault.reason, fault.message);
  }

  /** Runs a query job's script; returns the rows of its last SELECT. */
  async function runQuery(config: Record<string, unknown>, job: StoredJob): Promise<void> {
    const query = String(config.query);
    const params = bindValues(config.queryParameters as never);
    await withConnection(async (c) => {
      // A procedure is kept as sent, by `dataset.name`: its body is BigQuery scripting DuckDB does not run.
      const procedure = /^\s*(CREATE\s+OR\s+REPLACE|CREATE|DROP)\s+PROCEDURE\s+(?:IF\s+EXISTS\s+)?`([^`]+)`/i.exec(query);
      if (procedure) {
        failIfFaulted(query);
        if (/^DROP/i.test(procedure[1] as string)) procedures.delete(procedure[2] as string);
        else procedures.set(procedure[2] as string, query.trim());
        job.resource.status = { state: 'DONE' };
        return;
      }
      const translated = translate(query);
      const bytes = await estimateBytes(c, translated);
      const limit = config.maximumBytesBilled ? Number(config.maximumBytesBilled) : undefined;
      if (limit !== undefined && bytes.billed > limit) throw fail(400, 'bytesBilledLimitExceeded', `Query exceeded limit for bytes billed: ${limit}. ${bytes.billed} or higher required.`);
      let inTransaction = false;
      try {
        for (const statement of splitStatements(translated)) {
          failIfFaulted(statement);
          if (/^BEGIN\s+TRANSACTION$/i.test(statement)) inTransaction = true;
          if (/^COMMIT\s+TRANSACTION$/i.test(statement)) inTransaction = false;
          const prepared = await c.prepare(statement);
          const values: Record<string, DuckDBValue> = {};
          for (let i = 1; i <= prepared.parameterCount; i++) {
            const name = prepared.parameterName(i);
            if (/^\d+$/.test(name)) continue;
            if (!(name in params.named)) throw fail(400, 'invalidQuery', `Query parameter '${name}' not found at [1:1]`);
            values[name] = params.named[name] as DuckDBValue;
          }
          if (params.positional.length > 0) prepared.bind(params.positional);
          else if (prepared.parameterCount > 0) prepared.bind(values);
          const reader = await prepared.runAndReadAll();
          if (/^\s*(\(|SELECT|WITH)\b/i.test(statement)) {
            const types = reader.columnTypes().map(String);
            job.result = {
              fields: reader.columnNames().map((name, i) => ({ name, type: bigQueryType(types[i] as string), mode: 'NULLABLE' })),
              rows: reader.getRows(),
            };
          }
          const created = /^CREATE\s+(?:OR\s+REPLACE\s+)?TABLE\s+"([^"]+)"\."([^"]+)"/i.exec(statement);
          if (created) tables.set(`${created[1]}.${created[2]}`, { tableReference: { projectId, datasetId: created[1], tableId: created[2] } });
        }
      } catch (error) {
        if (inTransaction) await c.run('ROLLBACK').catch(() => undefined);
        if (error instanceof HttpError) throw error;
        const message = (error as Error).message;
        if (/conflict/i.test(message)) throw fail(400, 'invalidQuery', `Transaction is aborted due to concurrent update against table. ${message.split('\n')[0]}`);
        throw fail(400, 'invalidQuery', message.split('\n')[0] ?? message);
      }
      job.resource.statistics.query = { totalBytesProcessed: String(bytes.processed), totalBytesBilled: String(bytes.billed), statementType: /^\s*BEGIN/i.test(query) ? 'SCRIPT' : 'SELECT' };
    });
  }

  async function runLoad(config: Record<string, unknown>, data: Buffer, job: StoredJob): Promise<void> {
    const destination = config.destinationTable as { datasetId: string; tableId: string };
    const key = `${destination.datasetId}.${destination.tableId}`;
    if (!tables.has(key)) throw fail(404, 'notFound', `Not found: Table ${projectId}:${key}`);
    const file = join(files, `${randomUUID()}.${config.sourceFormat === 'PARQUET' ? 'parquet' : 'json'}`);
    writeFileSync(file, data);
    try {
      await withConnection(async (c) => {
        const reader = config.sourceFormat === 'PARQUET' ? `read_parquet('${file}')` : `read_json_auto('${file}', format = 'newline_delimited')`;
        await c.run('BEGIN TRANSACTION');
        try {
          if (config.writeDisposition === 'WRITE_TRUNCATE') await c.run(`DELETE FROM "${destination.datasetId}"."${destination.tableId}"`);
          const inserted = await c.run(`INSERT INTO "${destination.datasetId}"."${destination.tableId}" BY NAME SELECT * FROM ${reader}`);
          await c.run('COMMIT');
          job.resource.statistics.load = { inputFiles: '1', inputFileBytes: String(data.length), outputRows: String(inserted.rowsChanged) };
        } catch (error) {
          await c.run('ROLLBACK').catch(() => undefined);
          throw fail(400, 'invalid', `Error while reading data, error message: ${(error as Error).message.split('\n')[0]}`);
        }
      });
    } finally {
      rmSync(file, { force: true });
    }
  }

  function insertJob(body: Record<string, unknown>, data?: Buffer): StoredJob {
    const reference = (body.jobReference ?? {}) as { jobId?: string; location?: string };
    const configuration = (body.configuration ?? {}) as Record<string, unknown>;
    const jobId = reference.jobId ?? randomUUID();
    if (configuration.dryRun) {
      return { resource: { kind: 'bigquery#job', jobReference: { projectId, jobId, location: reference.location }, configuration, status: { state: 'DONE' }, statistics: { query: { totalBytesProcessed: '0' } } } };
    }
    if (jobs.has(jobId)) throw fail(409, 'duplicate', `Already Exists: Job ${projectId}:${reference.location ?? 'US'}.${jobId}`);
    const job: StoredJob = { resource: { kind: 'bigquery#job', id: `${projectId}:${jobId}`, jobReference: { projectId, jobId, location: reference.location ?? 'US' }, configuration, status: { state: 'RUNNING' }, statistics: { creationTime: String(Date.now()) } } };
    jobs.set(jobId, job);
    const work = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      try {
        if (configuration.query) await runQuery(configuration.query as Record<string, unknown>, job);
        else if (configuration.load && data) await runLoad(configuration.load as Record<string, unknown>, data, job);
        else throw fail(400, 'invalid', 'Only query jobs and load jobs with an uploaded file are served here');
        job.resource.status = { state: 'DONE' };
      } catch (error) {
        const detail = error instanceof HttpError ? { reason: error.reason, message: error.message } : { reason: 'internalError', message: String(error) };
        job.resource.status = { state: 'DONE', errorResult: { ...detail, location: 'query' }, errors: [detail] };
      }
    })();
    running.add(work);
    void work.finally(() => running.delete(work));
    return job;
  }

  /**
   * A dry run as BigQuery's: the whole script parsed first (a syntax error is invalidQuery), then
   * each statement bound, where a dataset that does not exist is notFound, as BigQuery words it.
   */
  async function dryRunCheck(job: StoredJob): Promise<void> {
    const query = String(((job.resource.configuration as Record<string, unknown>).query as Record<string, unknown>).query);
    const statements = splitStatements(translate(query));
    await withConnection(async (c) => {
      for (const statement of statements) {
        try {
          await c.extractStatements(statement);
        } catch (error) {
          throw fail(400, 'invalidQuery', `Syntax error: ${(error as Error).message.split('\n')[0]}`);
        }
      }
      for (const statement of statements) {
        const named = [...statement.matchAll(/\b(?:FROM|JOIN|INTO|TABLE|UPDATE|MERGE|FUNCTION)\s+"?([A-Za-z_][\w-]*)"?\."?[A-Za-z_]\w*/gi)].map((match) => match[1] as string);
        const missing = named.find((dataset) => !datasets.has(dataset));
        if (missing) throw fail(404, 'notFound', `Not found: Dataset ${projectId}:${missing} was not found in location US`);
      }
    });
  }

  function resultPage(job: StoredJob, query: URLSearchParams): Record<string, unknown> {
    if (job.resource.status.state !== 'DONE') return { kind: 'bigquery#getQueryResultsResponse', jobReference: job.resource.jobReference, jobComplete: false };
    if (job.resource.status.errorResult) {
      const detail = job.resource.status.errorResult as { reason: string; message: string };
      throw fail(400, detail.reason, detail.message);
    }
    const result = job.result ?? { fields: [], rows: [] };
    const start = Number(query.get('pageToken') ?? 0);
    const size = query.has('maxResults') ? Number(query.get('maxResults')) : 100_000;
    const micros = query.get('formatOptions.useInt64Timestamp') === 'true';
    const cell = (value: unknown): unknown => {
      if (value === null || value === undefined) return null;
      if (value instanceof DuckDBTimestampTZValue) return micros ? String(value.micros) : String(Number(value.micros) / 1e6);
      if (typeof value === 'object' && 'toString' in value) return String(value);
      return String(value);
    };
    const rows = result.rows.slice(start, start + size).map((row) => ({ f: row.map((value) => ({ v: cell(value) })) }));
    const next = size > 0 && start + size < result.rows.length ? String(start + size) : undefined;
    return { kind: 'bigquery#getQueryResultsResponse', jobReference: job.resource.jobReference, schema: { fields: result.fields }, rows, totalRows: String(result.rows.length), jobComplete: true, ...(next ? { pageToken: next } : {}) };
  }

  async function route(method: string, path: string, query: URLSearchParams, raw: Buffer, headers: IncomingMessage['headers'], respond: (status: number, body: unknown, extra?: Record<string, string>) => void): Promise<void> {
    const json = () => (raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {});
    const upload = new RegExp(`^/upload/bigquery/v2/projects/${projectId}/jobs$`).exec(path);
    if (upload && method === 'POST' && query.get('uploadType') === 'multipart') {
      const boundary = /boundary="?([^";]+)"?/.exec(String(headers['content-type']))?.[1] ?? '';
      const parts = multipart(raw, boundary);
      const job = insertJob(JSON.parse(parts[0]?.toString('utf8') ?? '{}'), parts[1] ?? Buffer.alloc(0));
      return respond(200, job.resource);
    }
    const match = new RegExp(`^/bigquery/v2/projects/${projectId}/(.*)$`).exec(path);
    if (!match) throw fail(404, 'notFound', `Not found: URL ${path}`);
    const [resource = '', id, sub, subId] = (match[1] as string).split('/');
    if (resource === 'datasets' && id === undefined && method === 'POST') {
      const body = json() as { datasetReference: { datasetId: string } };
      const datasetId = body.datasetReference.datasetId;
      if (datasets.has(datasetId)) throw fail(409, 'duplicate', `Already Exists: Dataset ${projectId}:${datasetId}`);
      await withConnection((c) => c.run(`CREATE SCHEMA "${datasetId}"`));
      datasets.set(datasetId, { ...body, id: `${projectId}:${datasetId}` });
      return respond(200, datasets.get(datasetId));
    }
    if (resource === 'datasets' && id === undefined && method === 'GET') return respond(200, { kind: 'bigquery#datasetList', datasets: [...datasets.values()].slice(0, Number(query.get('maxResults') ?? 50)) });
    if (resource === 'datasets' && id && sub === undefined && method === 'GET') {
      if (!datasets.has(id)) throw fail(404, 'notFound', `Not found: Dataset ${projectId}:${id}`);
      return respond(200, datasets.get(id));
    }
    if (resource === 'datasets' && id && sub === 'tables' && subId === undefined && method === 'POST') {
      if (!datasets.has(id)) throw fail(404, 'notFound', `Not found: Dataset ${projectId}:${id}`);
      const body = json() as { tableReference: { tableId: string }; schema: { fields: { name: string; type: string; mode?: string }[] } };
      const key = `${id}.${body.tableReference.tableId}`;
      if (tables.has(key)) throw fail(409, 'duplicate', `Already Exists: Table ${projectId}:${key}`);
      const columns = body.schema.fields.map((field) => `"${field.name}" ${BIGQUERY_TYPES_IN_DUCKDB[field.type] ?? 'VARCHAR'}${field.mode === 'REQUIRED' ? ' NOT NULL' : ''}`);
      await withConnection((c) => c.run(`CREATE TABLE "${id}"."${body.tableReference.tableId}" (${columns.join(', ')})`));
      tables.set(key, body);
      return respond(200, await tableResource(id, body.tableReference.tableId));
    }
    if (resource === 'datasets' && id && sub === 'tables' && subId && method === 'GET') return respond(200, await tableResource(id, subId));
    if (resource === 'datasets' && id && sub === 'tables' && subId && method === 'PATCH') {
      const existing = await tableResource(id, subId);
      const have = new Set(((existing.schema as { fields: { name: string }[] }).fields).map((field) => field.name));
      const wanted = (json().schema as { fields?: { name: string; type: string }[] } | undefined)?.fields ?? [];
      await withConnection(async (c) => {
        for (const field of wanted.filter((f) => !have.has(f.name))) await c.run(`ALTER TABLE "${id}"."${subId}" ADD COLUMN "${field.name}" ${BIGQUERY_TYPES_IN_DUCKDB[field.type] ?? 'VARCHAR'}`);
      });
      return respond(200, await tableResource(id, subId));
    }
    if (resource === 'datasets' && id && sub === 'tables' && subId && method === 'DELETE') {
      if (!tables.has(`${id}.${subId}`)) throw fail(404, 'notFound', `Not found: Table ${projectId}:${id}.${subId}`);
      await withConnection((c) => c.run(`DROP TABLE "${id}"."${subId}"`));
      tables.delete(`${id}.${subId}`);
      return respond(204, undefined);
    }
    if (resource === 'jobs' && id === undefined && method === 'POST') {
      const job = insertJob(json());
      if ((job.resource.configuration as Record<string, unknown>).dryRun) await dryRunCheck(job);
      return respond(200, job.resource);
    }
    if (resource === 'jobs' && id && method === 'GET') {
      const job = jobs.get(decodeURIComponent(id));
      if (!job) throw fail(404, 'notFound', `Not found: Job ${projectId}:${id}`);
      return respond(200, job.resource);
    }
    if (resource === 'jobs' && id && sub === 'cancel' && method === 'POST') {
      const job = jobs.get(decodeURIComponent(id));
      if (!job) throw fail(404, 'notFound', `Not found: Job ${projectId}:${id}`);
      return respond(200, { kind: 'bigquery#jobCancelResponse', job: job.resource });
    }
    if (resource === 'queries' && id && method === 'GET') {
      const job = jobs.get(decodeURIComponent(id));
      if (!job) throw fail(404, 'notFound', `Not found: Job ${projectId}:${id}`);
      // timeoutMs: BigQuery holds the call until the job ends or the time is up (10 s by default).
      const deadline = Date.now() + Number(query.get('timeoutMs') ?? 10_000);
      while (job.resource.status.state !== 'DONE' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      return respond(200, resultPage(job, query));
    }
    throw fail(404, 'notFound', `Not found: ${method} ${path}`);
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const url = new URL(request.url ?? '/', 'http://localhost');
      const method = request.method ?? 'GET';
      const recorded: RecordedRequest = { method, path: url.pathname, query: url.searchParams, body: parseBody(raw, request.headers['content-type']), bytes: raw.length, responseBytes: 0, status: 0, at: performance.now() };
      requests.push(recorded);
      const respond = (status: number, body: unknown, extra: Record<string, string> = {}) => {
        recorded.status = status;
        const text = body === undefined ? '' : JSON.stringify(body);
        recorded.responseBytes = Buffer.byteLength(text);
        response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...extra });
        response.end(text);
      };
      const fault = faults.find((f) => (f.times ?? 1) > 0 && (!f.method || f.method === method) && f.path.test(url.pathname) && (!f.body || f.body.test(raw.toString('latin1'))) && (!f.search || f.search.test(url.search)));
      if (fault) fault.times = (fault.times ?? 1) - 1;
      const answerFault = () => respond(fault!.status, errorBody(fault!.status, fault!.reason, fault!.message ?? `${fault!.reason} (injected)`));
      if (fault && !fault.afterHandling) return answerFault();
      route(method, url.pathname, url.searchParams, raw, request.headers, fault ? () => answerFault() : respond).catch((error: unknown) => {
        if (error instanceof HttpError) respond(error.status, errorBody(error.status, error.reason, error.message));
        else respond(500, errorBody(500, 'internalError', String(error)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    projectId,
    requests,
    jobs,
    procedures,
    /** The next matching requests fail with this status and reason. */
    fail(fault: Fault) {
      faults.push(fault);
    },
    /** The next job statement matching `pattern` (translated SQL) fails: a job that fails after running. */
    failStatement(pattern: RegExp, reason = 'backendError', message = 'Error encountered during execution. Retrying may solve the problem.', times = 1) {
      statementFaults.push({ pattern, reason, message, times });
    },
    /** Reads the server's tables directly, for assertions. */
    async rows(sql: string): Promise<Record<string, unknown>[]> {
      return withConnection(async (c) => (await c.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[]);
    },
    async close() {
      await Promise.allSettled([...running]);
      await new Promise((resolve) => server.close(resolve));
      db.closeSync();
      rmSync(files, { recursive: true, force: true });
    },
  };
}

export type BigQueryTestServer = Awaited<ReturnType<typeof startBigQueryServer>>;

function parseBody(raw: Buffer, type: string | undefined): unknown {
  if (raw.length === 0) return undefined;
  if (type?.startsWith('application/json')) return JSON.parse(raw.toString('utf8'));
  if (type?.startsWith('multipart/related')) {
    const boundary = /boundary="?([^";]+)"?/.exec(type)?.[1] ?? '';
    const parts = multipart(raw, boundary);
    return { metadata: JSON.parse(parts[0]?.toString('utf8') ?? '{}'), fileBytes: parts[1]?.length ?? 0 };
  }
  return { bytes: raw.length };
}

/** The bodies of a multipart/related message (each part's headers stripped). */
function multipart(raw: Buffer, boundary: string): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = raw.indexOf(delimiter);
  while (at !== -1) {
    const next = raw.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    const part = raw.subarray(at + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1) parts.push(part.subarray(headerEnd + 4, part.length - 2));
    at = next;
  }
  return parts;
}
