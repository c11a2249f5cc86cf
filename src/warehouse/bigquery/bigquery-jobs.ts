import type { BigQuery } from '@google-cloud/bigquery';
import type { Clock } from '../../shared/clock.ts';
import { ProcessorError } from '../../shared/errors.ts';
import type { WarehouseUsage } from '../warehouse.ts';
import { isTransientRequestError, jobError, requestError, type BigQueryErrorDetail } from './bigquery-errors.ts';
import { jobId } from './job-ids.ts';
import { retryDelayMs, type BigQueryRetryPolicy } from './retry-policy.ts';

/** The parts of a REST v2 Job resource this service reads. */
export interface JobResource {
  jobReference: { projectId: string; jobId: string; location?: string };
  configuration?: Record<string, unknown>;
  status?: { state?: 'PENDING' | 'RUNNING' | 'DONE'; errorResult?: BigQueryErrorDetail; errors?: BigQueryErrorDetail[] };
  statistics?: {
    query?: { totalBytesProcessed?: string; totalBytesBilled?: string; numDmlAffectedRows?: string };
    load?: { inputFileBytes?: string; outputRows?: string };
  };
}

export interface ResultField {
  name: string;
  type: string;
  mode?: string;
  fields?: ResultField[];
}

/** A page of jobs.getQueryResults: rows in the REST form (`{f: [{v}]}`). */
interface ResultsPage {
  jobComplete?: boolean;
  schema?: { fields: ResultField[] };
  rows?: { f: { v: unknown }[] }[];
  pageToken?: string;
}

/** What jobs cost, summed over the jobs of a step (or of one warehouse call). */
export type JobUsage = WarehouseUsage;

export const NO_USAGE: Readonly<JobUsage> = Object.freeze({ jobs: 0, bytesProcessed: 0, bytesBilled: 0, bytesLoaded: 0 });

export function addUsage(total: JobUsage, job: JobResource): void {
  total.jobs += 1;
  total.bytesProcessed += Number(job.statistics?.query?.totalBytesProcessed ?? 0);
  total.bytesBilled += Number(job.statistics?.query?.totalBytesBilled ?? 0);
  total.bytesLoaded += Number(job.statistics?.load?.inputFileBytes ?? 0);
}

export interface JobSpec {
  /** Short name of what the job does, part of its id: `stage`, `commit`, `query`, `load`, ... */
  kind: string;
  /** What makes this job this job (org first); the same parts give the same id. */
  idParts: readonly (string | number | undefined)[];
  /** What errors call it: "the write of acme_dev.demo_usage_raw". */
  what: string;
}

export interface BigQueryJobsOptions {
  client: BigQuery;
  projectId: string;
  location: string;
  clock: Clock;
  retry: BigQueryRetryPolicy;
  /** Called with every job that ended well, for its bytes. */
  onJobDone?: (job: JobResource) => void;
  random?: () => number;
}

/** The longest wait between two looks at a running load job. */
const MAX_POLL_MS = 2000;
/** How long one jobs.getQueryResults call waits for a query job to end. */
const LONG_POLL_MS = 10_000;
/** Rows per page of results: the REST default's order of size, and a bounded response. */
export const RESULT_PAGE_ROWS = 10_000;

/**
 * Jobs as this service runs them: a deterministic id, requests sent again after a transient
 * HTTP error under the same id (a 409 `duplicate` then means the first one arrived: that job is
 * fetched and waited on, never submitted twice), and a job that ran and failed for a transient
 * reason run again under the next try's id.
 */
export function bigQueryJobs(options: BigQueryJobsOptions) {
  const { client, clock } = options;

  function call<T>(request: { method?: string; uri: string; json?: unknown; qs?: Record<string, unknown> }): Promise<T> {
    return new Promise((resolve, reject) => {
      client.request(request as Parameters<BigQuery['request']>[0], (error, body) => (error ? reject(error) : resolve(body as T)));
    });
  }

  /** One REST call, sent again after a transient failure. `onConflict` turns a 409 into an answer. */
  async function send<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal, onConflict?: () => Promise<T>): Promise<T> {
    for (let tryNumber = 1; ; tryNumber++) {
      signal?.throwIfAborted();
      try {
        return await fn();
      } catch (error) {
        if ((error as { code?: number }).code === 409 && onConflict) return onConflict();
        const delay = isTransientRequestError(error) ? retryDelayMs(tryNumber, options.retry, options.random) : undefined;
        if (delay === undefined) throw requestError(error, what);
        await clock.sleep(delay, signal);
      }
    }
  }

  const jobPath = (id: string) => `/jobs/${encodeURIComponent(id)}`;

  function getJob(id: string, signal?: AbortSignal): Promise<JobResource> {
    return send('jobs.get', () => call<JobResource>({ uri: jobPath(id), qs: { location: options.location } }), signal);
  }

  /**
   * A query job is waited on with jobs.getQueryResults' long poll (`timeoutMs`: BigQuery answers
   * when the job ends, or after that long), one request per ten seconds of a long job, as the
   * client library waits; its end state is then read once with jobs.get. A load job has no
   * results, so jobs.get is polled, from 50 ms doubling to 2 s.
   */
  /** A job whose step was aborted (timeout, cancel) is cancelled in BigQuery too, best effort. */
  async function stopIfAborted(job: JobResource, signal?: AbortSignal): Promise<void> {
    if (!signal?.aborted) return;
    await call({ method: 'POST', uri: `${jobPath(job.jobReference.jobId)}/cancel`, qs: { location: options.location } }).catch(() => undefined);
    signal.throwIfAborted();
  }

  async function waitDone(job: JobResource, signal?: AbortSignal): Promise<JobResource> {
    if (job.status?.state === 'DONE') return job;
    if (job.configuration?.query) {
      const qs = { location: options.location, maxResults: 0, timeoutMs: LONG_POLL_MS };
      for (let failures = 1; ; ) {
        await stopIfAborted(job, signal);
        try {
          const page = await call<ResultsPage>({ uri: `/queries/${encodeURIComponent(job.jobReference.jobId)}`, qs });
          if (page.jobComplete !== false) break;
        } catch {
          // A failed job answers its own error here, and so may a passing fault of this call:
          // jobs.get (retried on its own) tells them apart.
          const current = await getJob(job.jobReference.jobId, signal);
          if (current.status?.state === 'DONE') return current;
          await clock.sleep(retryDelayMs(Math.min(failures++, options.retry.maxTries - 1), options.retry, options.random) ?? options.retry.maxDelayMs, signal);
        }
      }
    }
    let current = await getJob(job.jobReference.jobId, signal);
    for (let poll = 0; current.status?.state !== 'DONE'; poll++) {
      await stopIfAborted(current, signal);
      await clock.sleep(Math.min(50 * 2 ** poll, MAX_POLL_MS), signal).catch(() => undefined);
      current = await getJob(current.jobReference.jobId, signal);
    }
    return current;
  }

  /**
   * Submits a job (through `insert`, given the job id) and waits for its end; a job that failed
   * for a transient reason is submitted again under the next try's id.
   */
  async function run(spec: JobSpec, insert: (id: string) => Promise<JobResource>, signal?: AbortSignal): Promise<JobResource> {
    for (let tryNumber = 1; ; tryNumber++) {
      const id = jobId(spec.kind, spec.idParts, tryNumber);
      const submitted = await send(`${spec.what} (job ${id})`, () => insert(id), signal, () => getJob(id, signal));
      const done = await waitDone(submitted, signal);
      const failure = done.status?.errorResult;
      if (!failure) {
        options.onJobDone?.(done);
        return done;
      }
      const error = jobError(failure, spec.what);
      const delay = error.retryable ? retryDelayMs(tryNumber, options.retry, options.random) : undefined;
      if (delay === undefined) throw error;
      await clock.sleep(delay, signal);
    }
  }

  return {
    call,
    send,

    /** A query job (one statement or a script) with its configuration.query. */
    query(spec: JobSpec, query: Record<string, unknown>, labels: Record<string, string>, signal?: AbortSignal, dryRun = false): Promise<JobResource> {
      return run(
        spec,
        (id) => call<JobResource>({ method: 'POST', uri: '/jobs', json: { jobReference: { projectId: options.projectId, jobId: id, location: options.location }, configuration: { query, labels, ...(dryRun ? { dryRun } : {}) } } }),
        signal,
      );
    },

    /** A load job of a local file, sent with the job's configuration in one upload request. */
    load(spec: JobSpec, file: string, table: { dataset: string; table: string }, load: Record<string, unknown>, labels: Record<string, string>, signal?: AbortSignal): Promise<JobResource> {
      const target = client.dataset(table.dataset, { location: options.location }).table(table.table, { location: options.location });
      return run(
        spec,
        async (id) => {
          // The client library sends configuration.load and the file as one multipart request
          // to the upload endpoint (its createWriteStream_), under the job id we give.
          const createLoadJob = target.createLoadJob.bind(target) as (source: string, metadata: Record<string, unknown>) => Promise<[{ metadata?: JobResource }, unknown]>;
          const [job] = await createLoadJob(file, { ...load, labels, jobId: id });
          return job.metadata ?? { jobReference: { projectId: options.projectId, jobId: id }, status: { state: 'PENDING' } };
        },
        signal,
      );
    },

    /** Every page of a finished query job's results. */
    async *results(job: JobResource, signal?: AbortSignal, pageRows = RESULT_PAGE_ROWS): AsyncGenerator<{ fields: ResultField[]; rows: { f: { v: unknown }[] }[] }> {
      let pageToken: string | undefined;
      do {
        const qs: Record<string, unknown> = { location: options.location, maxResults: pageRows, 'formatOptions.useInt64Timestamp': true, ...(pageToken ? { pageToken } : {}) };
        const page = await send('jobs.getQueryResults', () => call<ResultsPage>({ uri: `/queries/${encodeURIComponent(job.jobReference.jobId)}`, qs }), signal);
        if (page.jobComplete === false) throw new ProcessorError('BigQuery results were asked for before the job ended', { retryable: true });
        yield { fields: page.schema?.fields ?? [], rows: page.rows ?? [] };
        pageToken = page.pageToken;
      } while (pageToken);
    },
  };
}

export type BigQueryJobs = ReturnType<typeof bigQueryJobs>;
