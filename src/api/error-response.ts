import type { FastifyError } from 'fastify';
import { AppError, AuthenticationError, ConflictError, InputError, NotAllowedError, NotFoundError, QuotaExceededError, UnavailableError } from '../shared/errors.ts';

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
  if (error instanceof QuotaExceededError) {
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
    // Fastify's own client errors (malformed JSON, unsupported media type, body too large).
    return { status: fastifyError.statusCode, code: 'bad_request', message: fastifyError.message };
  }
  return { status: 500, code: 'internal_error', message: 'Internal error' };
}

function fieldOf(instancePath: string, params: Record<string, unknown>, context?: string): string | undefined {
  const path = instancePath.split('/').filter(Boolean);
  if (typeof params.missingProperty === 'string') path.push(params.missingProperty);
  if (typeof params.additionalProperty === 'string') path.push(params.additionalProperty);
  if (path.length === 0) return context;
  return path.join('.');
}
