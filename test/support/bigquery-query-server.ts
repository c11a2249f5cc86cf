/**
 * The part of BigQuery's REST v2 API that reading a customer's billing export uses, as
 * @google-cloud/bigquery calls it with `apiEndpoint`: tables.get (the schema), jobs.insert of a
 * query, jobs.getQueryResults in pages (maxResults, pageToken; `jobComplete: false` first, as a
 * query still running answers), jobs.cancel. Requests carry a bearer token of the OAuth test
 * server, and a service account sees only the datasets it was granted (403 accessDenied).
 * Errors are BigQuery's bodies and statuses: 404 notFound, 403 accessDenied, 400 invalidQuery,
 * 403 rateLimitExceeded, 500 backendError.
 *
 * The one query shape served is the reader's (src/sources/bigquery-table.ts):
 * `SELECT TO_JSON_STRING(t) AS row FROM \`p.d.t\` AS t [WHERE t.\`c\` >= TIMESTAMP(@start_date)
 * AND t.\`c\` < TIMESTAMP_ADD(TIMESTAMP(@end_date), INTERVAL 1 DAY)]`, evaluated over rows held
 * as JSON objects (TO_JSON_STRING of a row is its JSON object); anything else is invalidQuery.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { GoogleOAuthTestServer } from './google-oauth-server.ts';
import { listenLocal } from './listen-local.ts';

export interface BigQueryRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | undefined;
  identity: string | undefined;
  status: number;
}

export interface BigQueryFault {
  /** `tables`, `insert` or `results`. */
  operation: 'tables' | 'insert' | 'results';
  status: number;
  reason: string;
  times: number;
}

export interface BigQueryQueryServer {
  apiEndpoint: string;
  requests: BigQueryRequest[];
  /** A table of rows (JSON objects as the table's TO_JSON_STRING gives them) with its top-level field names. */
  table(project: string, dataset: string, table: string, rows: Record<string, unknown>[]): void;
  grant(email: string, project: string, dataset: string): void;
  fail(fault: BigQueryFault): void;
  /** Rows per results page, whatever maxResults asks. */
  pageRows: number;
  close(): Promise<void>;
}

const QUERY = /^SELECT TO_JSON_STRING\(t\) AS row FROM `([^`.]+)\.([^`.]+)\.([^`.]+)` AS t(?: WHERE t\.`(\w+)` >= TIMESTAMP\(@start_date\) AND t\.`\4` < TIMESTAMP_ADD\(TIMESTAMP\(@end_date\), INTERVAL 1 DAY\))?$/;

export async function startBigQueryQueryServer(oauth: GoogleOAuthTestServer): Promise<BigQueryQueryServer> {
  const tables = new Map<string, Record<string, unknown>[]>();
  const grants = new Set<string>();
  const jobs = new Map<string, { rows: string[]; polls: number }>();
  const faults: BigQueryFault[] = [];
  const requests: BigQueryRequest[] = [];
  const state = { pageRows: 1000 };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        handle(req, res, chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : undefined);
      } catch (error) {
        send(res, 500, error500((error as Error).message));
      }
    });
  });

  function handle(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown> | undefined) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: BigQueryRequest = { method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), body, identity: oauth.identity(req.headers.authorization), status: 200 };
    requests.push(record);
    const answer = (status: number, payload: unknown) => {
      record.status = status;
      send(res, status, payload);
    };
    const fail = (status: number, reason: string, message: string) => answer(status, { error: { code: status, message, errors: [{ message, domain: 'global', reason }], status: status === 404 ? 'NOT_FOUND' : status === 403 ? 'PERMISSION_DENIED' : status === 400 ? 'INVALID_ARGUMENT' : 'INTERNAL' } });
    if (!record.identity) return fail(401, 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
    const path = url.pathname.replace(/^\/bigquery\/v2/, '');
    const operation = /\/tables\//.test(path) ? 'tables' : /\/queries\//.test(path) ? 'results' : /\/jobs$/.test(path) ? 'insert' : undefined;
    const fault = faults.find((f) => f.operation === operation);
    if (fault) {
      if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
      return fail(fault.status, fault.reason, fault.reason === 'rateLimitExceeded' ? 'Exceeded rate limits: too many concurrent queries for this project_and_region.' : 'Error encountered during execution. Retrying may solve the problem.');
    }
    const allowed = (project: string, dataset: string) => grants.has(`${record.identity}|${project}.${dataset}`);

    let match = /^\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)$/.exec(path);
    if (match && req.method === 'GET') {
      const [, project, dataset, table] = match as unknown as [string, string, string, string];
      const rows = tables.get(`${project}.${dataset}.${table}`);
      if (!rows) return fail(404, 'notFound', `Not found: Table ${project}:${dataset}.${table}`);
      if (!allowed(project, dataset)) return fail(403, 'accessDenied', `Access Denied: Table ${project}:${dataset}.${table}: Permission bigquery.tables.get denied on table ${project}:${dataset}.${table} (or it may not exist).`);
      const names = [...new Set(rows.flatMap((row) => Object.keys(row)))];
      return answer(200, { kind: 'bigquery#table', id: `${project}:${dataset}.${table}`, tableReference: { projectId: project, datasetId: dataset, tableId: table }, schema: { fields: names.map((name) => ({ name, type: 'STRING', mode: 'NULLABLE' })) }, numRows: String(rows.length), type: 'TABLE' });
    }
    match = /^\/projects\/([^/]+)\/jobs$/.exec(path);
    if (match && req.method === 'POST') {
      const reference = (body?.jobReference ?? {}) as { jobId?: string; projectId?: string };
      const config = ((body?.configuration as Record<string, unknown>)?.query ?? {}) as { query?: string; queryParameters?: { name: string; parameterValue: { value: string } }[] };
      const parsed = QUERY.exec(config.query ?? '');
      if (!parsed) return fail(400, 'invalidQuery', 'Syntax error: this test server serves only the billing export reader\'s query');
      const [, project, dataset, table, column] = parsed as unknown as [string, string, string, string, string | undefined];
      const rows = tables.get(`${project}.${dataset}.${table}`);
      if (!rows) return fail(404, 'notFound', `Not found: Table ${project}:${dataset}.${table} was not found in location US`);
      if (!allowed(project, dataset)) return fail(403, 'accessDenied', `Access Denied: Table ${project}:${dataset}.${table}: User does not have permission to query table ${project}:${dataset}.${table}.`);
      const param = (name: string) => config.queryParameters?.find((p) => p.name === name)?.parameterValue.value;
      const from = Date.parse(`${param('start_date')}T00:00:00Z`);
      const to = Date.parse(`${param('end_date')}T00:00:00Z`) + 86_400_000;
      const selected = column ? rows.filter((row) => {
        const at = Date.parse(String(row[column]).replace(' UTC', 'Z').replace(' ', 'T'));
        return at >= from && at < to;
      }) : rows;
      const jobId = reference.jobId ?? `job_${jobs.size + 1}`;
      jobs.set(jobId, { rows: selected.map((row) => JSON.stringify(row)), polls: 0 });
      return answer(200, { kind: 'bigquery#job', id: `${match[1]}:US.${jobId}`, jobReference: { projectId: match[1], jobId, location: 'US' }, configuration: body?.configuration, status: { state: 'RUNNING' }, statistics: { creationTime: String(Date.now()) } });
    }
    match = /^\/projects\/([^/]+)\/queries\/([^/]+)$/.exec(path);
    if (match && req.method === 'GET') {
      const job = jobs.get(match[2]!);
      const reference = { projectId: match[1], jobId: match[2], location: 'US' };
      if (!job) return fail(404, 'notFound', `Not found: Job ${match[1]}:US.${match[2]}`);
      if (job.polls++ === 0) return answer(200, { kind: 'bigquery#getQueryResultsResponse', jobReference: reference, jobComplete: false });
      const start = url.searchParams.get('pageToken') ? Number(Buffer.from(url.searchParams.get('pageToken')!, 'base64url').toString()) : 0;
      const size = Math.min(Number(url.searchParams.get('maxResults') ?? 100_000), state.pageRows);
      const page = job.rows.slice(start, start + size);
      const next = start + size < job.rows.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
      return answer(200, {
        kind: 'bigquery#getQueryResultsResponse',
        jobReference: reference,
        schema: { fields: [{ name: 'row', type: 'STRING', mode: 'NULLABLE' }] },
        totalRows: String(job.rows.length),
        ...(page.length ? { rows: page.map((text) => ({ f: [{ v: text }] })) } : {}),
        ...(next ? { pageToken: next } : {}),
        jobComplete: true,
        totalBytesProcessed: String(job.rows.reduce((sum, text) => sum + text.length, 0)),
        cacheHit: false,
      });
    }
    match = /^\/projects\/([^/]+)\/jobs\/([^/]+)\/cancel$/.exec(path);
    if (match && req.method === 'POST') return answer(200, { kind: 'bigquery#jobCancelResponse', job: { jobReference: { projectId: match[1], jobId: match[2] }, status: { state: 'DONE' } } });
    return fail(404, 'notFound', `Not found: URL ${url.pathname}`);
  }

  const listening = await listenLocal(server);
  return {
    apiEndpoint: listening.url,
    requests,
    get pageRows() {
      return state.pageRows;
    },
    set pageRows(value: number) {
      state.pageRows = value;
    },
    table(project, dataset, table, rows) {
      tables.set(`${project}.${dataset}.${table}`, rows);
    },
    grant(email, project, dataset) {
      grants.add(`${email}|${project}.${dataset}`);
    },
    fail(fault) {
      faults.push({ ...fault });
    },
    close: listening.close,
  };
}

const error500 = (message: string) => ({ error: { code: 500, message, errors: [{ message, domain: 'global', reason: 'backendError' }], status: 'INTERNAL' } });

function send(res: ServerResponse, status: number, payload: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(payload));
}
