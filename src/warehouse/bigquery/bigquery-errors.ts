import { ProcessorError } from '../../shared/errors.ts';

/**
 * BigQuery's error bodies in the words a run's owner can act on. An error reaches us two ways:
 * an HTTP error of a REST call (`{error: {code, message, errors: [{reason}]}}`, which the
 * client library turns into an ApiError with `code` and `errors`), or a job that ran and
 * failed (`status.errorResult: {reason, message}`). Either way the `reason` decides.
 */
export interface BigQueryErrorDetail {
  reason?: string;
  message?: string;
  location?: string;
}

/** Reasons BigQuery documents as transient: the same request later may well succeed. */
const TRANSIENT = new Set(['rateLimitExceeded', 'backendError', 'internalError', 'jobBackendError', 'jobInternalError']);

/** A REST call's failure as the client library raises it. */
export interface ApiErrorLike {
  code?: number;
  message?: string;
  errors?: BigQueryErrorDetail[];
}

export function isApiError(error: unknown): error is ApiErrorLike & Error {
  return error instanceof Error && (typeof (error as ApiErrorLike).code === 'number' || Array.isArray((error as ApiErrorLike).errors));
}

/** Whether a failure (as raised, or as requestError wrapped it) is BigQuery's 404. */
export function isNotFound(error: unknown): boolean {
  const raw = error instanceof Error && !isApiError(error) ? error.cause : error;
  return isApiError(raw) && raw.code === 404;
}

export function reasonOf(error: unknown): string | undefined {
  return isApiError(error) ? error.errors?.find((detail) => detail.reason)?.reason : undefined;
}

/** An HTTP failure worth sending again (same job id, so a request that did arrive is not doubled). */
export function isTransientRequestError(error: unknown): boolean {
  if (!isApiError(error)) return isNetworkError(error);
  const reason = reasonOf(error);
  if (reason) return TRANSIENT.has(reason);
  return [429, 500, 502, 503, 504].includes(error.code ?? 0);
}

function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET'].includes(code);
}

/** A job that ran and failed for a reason that another job (a new id) may not meet. */
export function isTransientJobError(detail: BigQueryErrorDetail): boolean {
  if (detail.reason && TRANSIENT.has(detail.reason)) return true;
  // Two transactions touching one table: the loser is aborted and may simply run again.
  return /concurrent update|could not serialize access/i.test(detail.message ?? '');
}

/** A failed job's error as the step's error. Job errors never carry row values, only SQL positions. */
export function jobError(detail: BigQueryErrorDetail, what: string): ProcessorError {
  const message = plain(detail);
  return new ProcessorError(`BigQuery ${what} failed: ${message}`, { retryable: isTransientJobError(detail), cause: Object.assign(new Error(detail.message ?? message), { reason: detail.reason }) });
}

/** A REST call's error as the step's error, once retries gave up or it was never transient. */
export function requestError(error: unknown, what: string): unknown {
  if (error instanceof ProcessorError || !(error instanceof Error)) return error;
  if (!isApiError(error)) return new ProcessorError(`BigQuery ${what} failed: ${error.message}`, { retryable: isNetworkError(error), cause: error });
  const detail = error.errors?.[0] ?? {};
  return new ProcessorError(`BigQuery ${what} failed: ${plain({ ...detail, message: detail.message ?? error.message })}`, { retryable: isTransientRequestError(error), cause: error });
}

function plain(detail: BigQueryErrorDetail): string {
  const message = (detail.message ?? 'no message').split('\n')[0]?.trim() ?? '';
  switch (detail.reason) {
    case 'invalidQuery':
      return `the SQL is not valid BigQuery: ${message}`;
    case 'bytesBilledLimitExceeded':
      return `the query would bill more than BIGQUERY_MAXIMUM_BYTES_BILLED allows (${message})`;
    case 'notFound':
      return `not found: ${message}`;
    case 'accessDenied':
      return `access denied: ${message}`;
    case 'quotaExceeded':
      return `quota exceeded: ${message}`;
    default:
      return detail.reason ? `${message} (${detail.reason})` : message;
  }
}
