import { Type, type TSchema } from '@sinclair/typebox';

/**
 * The one error shape (error-response.ts and the not-found handler send it), added to the
 * server once with addSchema so every route's error responses refer to it: the OpenAPI document
 * shows it once, under components.schemas.ErrorResponse. `error` stays open: Fastify serialises
 * with the response schema, and a detail this schema did not list would silently vanish.
 */
export const ErrorResponse = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'stable, machine-readable: invalid_input, invalid_json, unauthenticated, forbidden, not_found, conflict, rate_limited, quota_exceeded, ...' }),
        message: Type.String({ description: 'for people; names the field and what was wrong' }),
        field: Type.Optional(Type.String({ description: 'the request field that was wrong (400)' })),
        limit: Type.Optional(Type.String({ description: 'the limit that was reached (429): a run quota (daily, monthly, concurrent) or a request rate (org_requests_per_minute, global_requests_per_minute)' })),
        retry_after_seconds: Type.Optional(Type.Number({ description: 'when to try again, as in Retry-After (429)' })),
      },
      { additionalProperties: true },
    ),
    request_id: Type.String({ description: 'the X-Request-Id of the request, also sent as a header' }),
  },
  { $id: 'ErrorResponse', description: 'An error: { error: { code, message, ... }, request_id }' },
);

/** What each error status means on this API, as the description of the response. */
export const ERROR_STATUSES: Readonly<Record<number, string>> = {
  400: 'Invalid input: the body, a path or query parameter, or a cursor (error.field names it)',
  401: 'No key, or a key that is not valid or revoked',
  403: 'The key may not do this: another organization’s key, or the admin API is disabled',
  404: 'Not found (another organization’s resources look the same as missing ones)',
  409: 'Conflicts with the current state',
  413: 'The body is larger than this endpoint accepts',
  415: 'The Content-Type is not accepted here',
  422: 'Understood but not processable',
  429: 'Too many requests: the per-org or global rate limit, or for a run the subscription’s quota (Retry-After says when to try again)',
  500: 'Internal error (the details stay in the server log)',
  503: 'Unavailable on this process (no warehouse, or a dependency unreachable)',
};

/**
 * Errors every route can answer, so they are not repeated on each: 429 from the per-org and
 * global rate limits (issue 14, item 1), 500 from the error handler.
 */
const EVERY_ROUTE = [429, 500];

/** A route's `response`: its successes and the errors it can answer besides those every route can. */
export function withErrors(ok: Record<number, TSchema>, ...statuses: number[]): Record<number, TSchema> {
  const errors = [...new Set([...statuses, ...EVERY_ROUTE])].sort((a, b) => a - b);
  return { ...ok, ...Object.fromEntries(errors.map((status) => [status, errorRef(status)])) };
}

/** The responses of a route the rate limits never throttle (limits.ts: the probe and the scrape). */
export function unthrottled(responses: Record<number, TSchema>): Record<number, TSchema> {
  const { 429: _limited, ...rest } = responses;
  return rest;
}

function errorRef(status: number): TSchema {
  const description = ERROR_STATUSES[status];
  if (!description) throw new Error(`no description for error status ${status}: add it to ERROR_STATUSES`);
  return Type.Unsafe({ $ref: 'ErrorResponse#', description });
}

/**
 * A success whose body is a file or text rather than JSON (a stream is sent as it is, never
 * serialised), with the headers that describe it.
 */
export function fileResponse(description: string, mediaTypes: readonly string[], headers: Record<string, string> = {}): TSchema {
  return Type.Unsafe({
    description,
    content: Object.fromEntries(mediaTypes.map((type) => [type, { schema: { type: 'string' } }])),
    ...(Object.keys(headers).length > 0 ? { headers: Object.fromEntries(Object.entries(headers).map(([name, text]) => [name, { type: 'string', description: text }])) } : {}),
  });
}

type SecurityRequirements = readonly Readonly<Record<string, readonly string[]>>[];

/** A route's `security` in the document: the keys its auth hook (auth.ts) takes, any one of them. */
export const SECURITY: Record<'orgKey' | 'orgKeyOrRoot' | 'root', SecurityRequirements> = {
  /** orgAuth: X-API-Key. */
  orgKey: [{ apiKey: [] }],
  /** orgAuth given the settings, on a GET naming {org}: X-API-Key, or the operator's X-CA-Root-Key. */
  orgKeyOrRoot: [{ apiKey: [] }, { rootKey: [] }],
  /** rootAuth: X-CA-Root-Key. */
  root: [{ rootKey: [] }],
};
