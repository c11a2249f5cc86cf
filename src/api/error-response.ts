import { STATUS_CODES } from 'node:http';
import type { FastifyError } from 'fastify';
import { AppError, AuthenticationError, ConflictError, InputError, NotAllowedError, NotFoundError, QuotaExceededError, RateLimitedError, UnavailableError, UnprocessableError } from '../shared/errors.ts';

export interface HttpError {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
  details?: Record<string, unknown>;
}

/**
 * The one mapping from errors to HTTP. Only the closed set of AppErrors shows its message;
 * anything else is a 500 whose details stay in the log (no stack, SQL or secret leaves).
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof InputError) return { status: 400, code: error.code, message: error.message, ...(error.field ? { details: { field: error.field } } : {}) };
  if (error instanceof AuthenticationError) return { status: 401, code: error.code, message: error.message };
  if (error instanceof NotAllowedError) return { status: 403, code: error.code, message: error.message };
  if (error instanceof NotFoundError) return { status: 404, code: error.code, message: error.message };
  if (error instanceof ConflictError) return { status: 409, code: error.code, message: error.message };
  if (error instanceof UnprocessableError) return { status: 422, code: error.code, message: error.message, ...(error.field ? { details: { field: error.field } } : {}) };
  if (error instanceof QuotaExceededError || error instanceof RateLimitedError) {
    return { status: 429, code: error.code, message: error.message, headers: { 'retry-after': String(error.retryAfterSeconds) }, details: { limit: error.limit, retry_after_seconds: error.retryAfterSeconds } };
  }
  if (error instanceof UnavailableError) return { status: 503, code: error.code, message: error.message };
  if (error instanceof AppError) return { status: 500, code: 'internal_error', message: 'Internal error' };
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const first = fastifyError.validation[0];
    const field = first ? fieldOf(first.instancePath, first.params as Record<string, unknown>, fastifyError.validationContext) : undefined;
    return { status: 400, code: 'invalid_input', message: `${field ?? fastifyError.validationContext ?? 'request'}: ${first?.message ?? 'invalid'}`, ...(field ? { details: { field } } : {}) };
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    // Fastify's own client errors (malformed JSON, media type, body too large, a path parameter
    // over maxParamLength). Their messages echo the URL, a header or a parser's view of the body,
    // so each gets a message of ours.
    const known = FRAMEWORK_ERRORS[fastifyError.code ?? ''] ?? (error instanceof SyntaxError ? FRAMEWORK_ERRORS.FST_ERR_CTP_INVALID_JSON_BODY : undefined);
    if (known) return { ...known };
    return { status: fastifyError.statusCode, code: 'bad_request', message: STATUS_CODES[fastifyError.statusCode] ?? 'Bad request' };
  }
  return { status: 500, code: 'internal_error', message: 'Internal error' };
}

const FRAMEWORK_ERRORS: Record<string, HttpError> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json', message: 'The body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json', message: 'The body is empty but Content-Type says application/json' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'This Content-Type is not accepted here (JSON endpoints take application/json, the plans import text/csv)' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large', message: 'The body is larger than this endpoint accepts' },
  FST_ERR_BAD_URL: { status: 400, code: 'invalid_input', message: 'The URL has a malformed percent-encoding' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'uri_too_long', message: 'A path parameter is longer than any valid value' },
};

function fieldOf(instancePath: string, params: Record<string, unknown>, context?: string): string | undefined {
  const path = instancePath.split('/').filter(Boolean);
  if (typeof params.missingProperty === 'string') path.push(params.missingProperty);
  if (typeof params.additionalProperty === 'string') path.push(params.additionalProperty);
  if (path.length === 0) return context;
  return path.join('.');
}
