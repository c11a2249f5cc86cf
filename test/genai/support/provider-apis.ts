import { createVerify } from 'node:crypto';
import { arrayParam, type Handler, type Reply, type SeenRequest } from './replay-server.ts';

/**
 * Handlers speaking the providers' wire formats as /work/shared/providers/genai/apis.md describes
 * them: envelopes, bucket rules (empty days keep their bucket), cursors, limits and the error
 * bodies. The data comes from functions of the day, so a test (or the benchmark) decides it.
 */

const DAY = 86_400;
const isoDay = (unix: number) => new Date(unix * 1000).toISOString().slice(0, 10);
const cursor = (state: object) => `page_${Buffer.from(JSON.stringify(state)).toString('base64')}`;
const uncursor = (value: string | null): { bucket: number; result: number } => (value ? (JSON.parse(Buffer.from(value.replace(/^page_/, ''), 'base64').toString('utf8')) as { bucket: number; result: number }) : { bucket: 0, result: 0 });

export interface Paging {
  /** Buckets a page holds at most (besides the request's limit). */
  pageBuckets?: number;
  /** Results a page holds at most: a bucket with more continues on the next page. */
  pageResults?: number;
}

/** Pages of daily buckets [start, end) with a cursor of (bucket, result) positions. */
function bucketPage<B>(days: { start: number; end: number }[], limit: number, at: { bucket: number; result: number }, results: (index: number) => object[], paging: Paging, bucket: (day: { start: number; end: number }, results: object[]) => B) {
  const data: B[] = [];
  let budget = paging.pageResults ?? Number.POSITIVE_INFINITY;
  let { bucket: index, result: offset } = at;
  const maxBuckets = Math.min(limit, paging.pageBuckets ?? limit);
  while (index < days.length && data.length < maxBuckets && budget > 0) {
    const all = results(index);
    const slice = all.slice(offset, offset + budget);
    data.push(bucket(days[index]!, slice));
    budget -= slice.length;
    if (offset + slice.length < all.length) {
      offset += slice.length;
      break;
    }
    index += 1;
    offset = 0;
  }
  const more = index < days.length;
  return { data, more, next: more ? { bucket: index, result: offset } : undefined };
}

function dayRange(start: number, end: number) {
  const days: { start: number; end: number }[] = [];
  for (let t = start; t < end; t += DAY) days.push({ start: t, end: Math.min(t + DAY, end) });
  return days;
}

export interface OpenAiData extends Paging {
  adminKey: string;
  usage?: (endpoint: string, day: string, groupBy: string[]) => object[];
  costs?: (day: string, groupBy: string[]) => object[];
}

const OPENAI_MISSING_SCOPE = { error: { message: 'You have insufficient permissions for this operation. Missing scopes: api.usage.read.', type: 'invalid_request_error' } };
const OPENAI_OBJECT: Record<string, string> = { file_search_calls: 'organization.usage.file_searches.result', web_search_calls: 'organization.usage.web_searches.result' };

export function openaiRoutes(data: OpenAiData): Record<string, Handler> {
  const listing = (kind: 'usage' | 'costs', endpoint: string) => (request: SeenRequest): Reply => {
    if (request.headers.authorization !== `Bearer ${data.adminKey}`) return { status: 401, body: OPENAI_MISSING_SCOPE };
    const start = Number(request.query.get('start_time'));
    if (!request.query.get('start_time') || !Number.isInteger(start)) return { status: 400, body: { error: { message: 'start_time is required', type: 'invalid_request_error' } } };
    const end = Number(request.query.get('end_time') ?? Math.floor(Date.now() / 1000));
    const limit = Number(request.query.get('limit') ?? 7);
    const max = kind === 'costs' ? 180 : 31;
    if (!Number.isInteger(limit) || limit < 1 || limit > max) return { status: 400, body: { error: { message: `limit must be 1..${max}`, type: 'invalid_request_error' } } };
    if ((request.query.get('bucket_width') ?? '1d') !== '1d') return { status: 400, body: { error: { message: 'only 1d here', type: 'invalid_request_error' } } };
    const groupBy = arrayParam(request.query, 'group_by');
    const days = dayRange(start, end);
    const resultsOf = (index: number) => {
      const day = isoDay(days[index]!.start);
      return kind === 'costs' ? (data.costs?.(day, groupBy) ?? []) : (data.usage?.(endpoint, day, groupBy) ?? []);
    };
    const object = kind === 'costs' ? 'organization.costs.result' : (OPENAI_OBJECT[endpoint] ?? `organization.usage.${endpoint}.result`);
    const page = bucketPage(days, limit, uncursor(request.query.get('page')), resultsOf, data, (day, results) => ({ object: 'bucket', start_time: day.start, end_time: day.end, results: results.map((result) => ({ object, ...result })) }));
    return { body: { object: 'page', data: page.data, has_more: page.more, next_page: page.next ? cursor(page.next) : null } };
  };
  return {
    '/v1/organization/usage/': (request) => listing('usage', request.path.split('/').pop() ?? '')(request),
    '/v1/organization/costs': listing('costs', 'costs'),
  };
}

export interface AnthropicData extends Paging {
  adminKey: string;
  usage?: (day: string, groupBy: string[]) => object[];
  costs?: (day: string, groupBy: string[]) => object[];
}

const anthropicError = (type: string, message: string) => ({ type: 'error', error: { type, message } });

export function anthropicRoutes(data: AnthropicData): Record<string, Handler> {
  const listing = (kind: 'usage' | 'costs') => (request: SeenRequest): Reply => {
    if (!request.headers['anthropic-version']) return { status: 400, body: anthropicError('invalid_request_error', 'anthropic-version: header is required') };
    if (request.headers['x-api-key'] !== data.adminKey) return { status: 401, body: anthropicError('authentication_error', 'invalid x-api-key') };
    const startText = request.query.get('starting_at');
    if (!startText || Number.isNaN(Date.parse(startText))) return { status: 400, body: anthropicError('invalid_request_error', 'starting_at is required') };
    if (request.query.getAll('group_by').length > 0) return { status: 400, body: anthropicError('invalid_request_error', 'group_by is an array: group_by[]') };
    const limit = Number(request.query.get('limit') ?? 7);
    if (!Number.isInteger(limit) || limit < 1 || limit > 31) return { status: 400, body: anthropicError('invalid_request_error', 'limit must be 1..31') };
    // Buckets snap to the day in UTC.
    const start = Math.floor(Date.parse(startText) / 1000 / DAY) * DAY;
    const end = Math.floor(Date.parse(request.query.get('ending_at') ?? new Date().toISOString()) / 1000);
    const groupBy = request.query.getAll('group_by[]');
    const days = dayRange(start, end);
    const resultsOf = (index: number) => {
      const day = isoDay(days[index]!.start);
      return (kind === 'costs' ? data.costs?.(day, groupBy) : data.usage?.(day, groupBy)) ?? [];
    };
    const page = bucketPage(days, limit, uncursor(request.query.get('page')), resultsOf, data, (day, results) => ({
      starting_at: new Date(day.start * 1000).toISOString().replace('.000Z', 'Z'),
      ending_at: new Date(day.end * 1000).toISOString().replace('.000Z', 'Z'),
      results,
    }));
    return { body: { data: page.data, has_more: page.more, next_page: page.next ? cursor(page.next) : null } };
  };
  return { '/v1/organizations/usage_report/messages': listing('usage'), '/v1/organizations/cost_report': listing('costs') };
}

export interface MonitoringData {
  accessToken: string;
  /** The series of a metric type (each with points for the days asked). */
  series: (metricType: string, days: string[]) => object[];
  seriesPerPage?: number;
}

export function monitoringRoutes(data: MonitoringData): Record<string, Handler> {
  return {
    '/v3/projects/': (request) => {
      if (request.headers.authorization !== `Bearer ${data.accessToken}`) return { status: 401, body: { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } } };
      const filter = /metric\.type="([^"]+)"/.exec(request.query.get('filter') ?? '')?.[1];
      const start = Date.parse(request.query.get('interval.startTime') ?? '');
      const end = Date.parse(request.query.get('interval.endTime') ?? '');
      if (!filter || Number.isNaN(start) || Number.isNaN(end)) return { status: 400, body: { error: { code: 400, message: 'filter and interval are required', status: 'INVALID_ARGUMENT' } } };
      const days = dayRange(start / 1000, end / 1000).map((day) => isoDay(day.start));
      const all = data.series(filter, days);
      const offset = Number(request.query.get('pageToken') ?? 0);
      const size = data.seriesPerPage ?? 2;
      const next = offset + size < all.length ? String(offset + size) : undefined;
      // Cloud Monitoring omits empty fields: no timeSeries key when there is nothing.
      return { body: { ...(all.length > 0 ? { timeSeries: all.slice(offset, offset + size) } : {}), ...(next ? { nextPageToken: next } : {}) } };
    },
  };
}

/** Google's token endpoint for the JWT-bearer grant: checks the RS256 signature with the key's public half. */
export function googleTokenRoute(options: { publicKey: string; clientEmail: string; accessToken: string }): Record<string, Handler> {
  return {
    '/token': (request) => {
      const form = new URLSearchParams(request.body);
      const assertion = form.get('assertion') ?? '';
      const [header, claims, signature] = assertion.split('.');
      const valid = form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && header && claims && signature && createVerify('RSA-SHA256').update(`${header}.${claims}`).verify(options.publicKey, signature, 'base64url');
      const payload = valid ? (JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as { iss?: string; scope?: string }) : undefined;
      if (!payload || payload.iss !== options.clientEmail || !payload.scope?.includes('monitoring.read')) return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
      return { body: { access_token: options.accessToken, expires_in: 3599, token_type: 'Bearer' } };
    },
  };
}

export function deepseekRoutes(options: { apiKey: string; balance: object }): Record<string, Handler> {
  return {
    '/user/balance': (request) => {
      if (request.headers.authorization !== `Bearer ${options.apiKey}`) return { status: 401, body: { error: { message: 'Authentication Fails (no such user)', type: 'authentication_error' } } };
      return { body: options.balance };
    },
  };
}
