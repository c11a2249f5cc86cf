/**
 * The closed set of errors the service raises. Each maps to exactly one HTTP status in
 * api/error-response.ts; everything else is an internal error and is never shown to callers.
 */
export class AppError extends Error {
  readonly code: string = 'internal_error';
}

/** Bad input from a caller or a config file; `field` names what was wrong. */
export class InputError extends AppError {
  override readonly code = 'invalid_input';
  readonly field: string | undefined;
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.field = options.field;
  }
}

export class NotFoundError extends AppError {
  override readonly code = 'not_found';
}

export class ConflictError extends AppError {
  override readonly code = 'conflict';
}

export class AuthenticationError extends AppError {
  override readonly code = 'unauthenticated';
}

export class NotAllowedError extends AppError {
  override readonly code = 'forbidden';
}

/**
 * Content that is well-formed as a request but that the service will not accept, such as a
 * procedure's SQL the warehouse would not run (HTTP 422); `field` names where it is.
 */
export class UnprocessableError extends AppError {
  override readonly code = 'unprocessable_content';
  readonly field: string | undefined;
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.field = options.field;
  }
}

/** A dependency this process does not have or cannot reach right now (HTTP 503). */
export class UnavailableError extends AppError {
  override readonly code = 'unavailable';
}

export type QuotaLimit = 'daily' | 'monthly' | 'concurrent';

export class QuotaExceededError extends AppError {
  override readonly code = 'quota_exceeded';
  readonly limit: QuotaLimit;
  readonly retryAfterSeconds: number;
  constructor(message: string, options: { limit: QuotaLimit; retryAfterSeconds: number }) {
    super(message);
    this.limit = options.limit;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A request rate limit of the API (api/limits.ts): per org (or client address), or over all requests. */
export class RateLimitedError extends AppError {
  override readonly code = 'rate_limited';
  readonly limit: 'org_requests_per_minute' | 'global_requests_per_minute';
  readonly retryAfterSeconds: number;
  constructor(message: string, options: { limit: RateLimitedError['limit']; retryAfterSeconds: number }) {
    super(message);
    this.limit = options.limit;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A step failed. `retryable` feeds the pure retry policy in engine/retry-policy.ts. */
export class ProcessorError extends AppError {
  override readonly code = 'processor_error';
  readonly retryable: boolean;
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
