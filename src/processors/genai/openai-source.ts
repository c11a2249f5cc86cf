import { addDays } from '../../shared/clock.ts';
import { ProcessorError } from '../../shared/errors.ts';
import { pages } from '../http/pages.ts';
import { paginator } from '../http/pagination.ts';
import { endpointUrl } from './base-url.ts';
import { dayOf, inRange, isoOf, unixDay, type ReportSource, type SourceRun } from './source.ts';

/**
 * OpenAI's organization usage and costs endpoints (Admin API, an `sk-admin-` key with
 * api.usage.read). Daily buckets from the run's first midnight to the midnight after its last
 * day; `limit` counts buckets (31 at most for 1d), so a month is one page unless the server
 * splits it. Array parameters go as repeated keys (`group_by=model&group_by=project_id`), as
 * the cookbook sends them; the API accepts the SDK's `group_by[]=` too.
 */
export const OPENAI_USAGE_ENDPOINTS: Record<string, readonly string[]> = {
  completions: ['project_id', 'model', 'api_key_id', 'batch', 'service_tier'],
  embeddings: ['project_id', 'model', 'api_key_id'],
  moderations: ['project_id', 'model', 'api_key_id'],
  images: ['project_id', 'model', 'api_key_id', 'size', 'source'],
  audio_speeches: ['project_id', 'model', 'api_key_id'],
  audio_transcriptions: ['project_id', 'model', 'api_key_id'],
  vector_stores: ['project_id'],
  code_interpreter_sessions: ['project_id'],
  file_search_calls: ['project_id', 'api_key_id'],
  web_search_calls: ['project_id', 'api_key_id', 'model', 'context_level'],
};

/** Fields of a usage result copied as they are (dimensions, then measures). */
const USAGE_FIELDS = [
  'project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier', 'size', 'source', 'vector_store_id', 'context_level',
  'input_tokens', 'output_tokens', 'input_cached_tokens', 'input_cache_write_tokens', 'input_uncached_tokens', 'input_text_tokens',
  'output_text_tokens', 'input_cached_text_tokens', 'input_audio_tokens', 'input_cached_audio_tokens', 'output_audio_tokens',
  'input_image_tokens', 'input_cached_image_tokens', 'output_image_tokens', 'num_model_requests', 'images', 'characters', 'seconds',
  'usage_bytes', 'num_sessions', 'num_requests',
] as const;

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

function listingUrl(run: SourceRun, path: string, groupBy: readonly string[]): URL {
  const url = endpointUrl(run.baseUrl, path);
  url.searchParams.set('start_time', String(unixDay(run.startDate)));
  url.searchParams.set('end_time', String(unixDay(addDays(run.endDate, 1))));
  url.searchParams.set('bucket_width', '1d');
  url.searchParams.set('limit', String(run.options.bucket_limit ?? 31));
  for (const field of groupBy) url.searchParams.append('group_by', field);
  return url;
}

interface Bucket {
  usage_date: string;
  bucket_start: string;
  bucket_end: string;
}

/**
 * Rows of every bucket of every page of one listing; buckets outside the run's days are dropped.
 * A bucket's dates are converted once, not per result (a bucket holds thousands of results).
 */
async function* bucketRows(run: SourceRun, url: URL, toRow: (result: Record<string, unknown>, bucket: Bucket) => Record<string, unknown>) {
  // A fresh paginator per listing: the cursor-loop guard is per listing.
  const paging = paginator({ type: 'cursor', param: 'page', cursor_path: 'next_page', has_more_path: 'has_more' });
  let dropped = 0;
  let last: { raw: unknown; bucket: Bucket | undefined } = { raw: undefined, bucket: undefined };
  for await (const page of pages({ client: run.client, paginator: paging, url, recordPath: ['data', 'results'], provider: 'OpenAI' })) {
    const rows: Record<string, unknown>[] = [];
    for (const scoped of page.records) {
      const raw = scoped.parents[0] as { start_time?: unknown; end_time?: unknown };
      if (raw !== last.raw) {
        if (typeof raw.start_time !== 'number' || typeof raw.end_time !== 'number') throw new ProcessorError(`OpenAI ${url.pathname}: a bucket without numeric start_time/end_time`, { retryable: false });
        const day = dayOf(raw.start_time);
        last = { raw, bucket: inRange(day, run) ? { usage_date: day, bucket_start: isoOf(raw.start_time), bucket_end: isoOf(raw.end_time) } : undefined };
      }
      if (!last.bucket) {
        dropped++;
        continue;
      }
      rows.push(toRow((scoped.record ?? {}) as Record<string, unknown>, last.bucket));
    }
    yield rows;
  }
  if (dropped > 0) run.logger.warn({ path: url.pathname, dropped }, 'results of buckets outside the run range dropped');
}

export const openaiUsage: ReportSource = {
  provider: 'openai',
  report: 'usage',
  label: 'OpenAI',
  table: 'genai_openai_usage_raw',
  schema: 'genai/genai_openai_usage_raw',
  runDateColumn: 'usage_date',
  defaultBaseUrl: DEFAULT_BASE_URL,
  authorize: async (credential) => ({ config: { type: 'bearer' }, secret: credential.secret }),
  async *rows(run) {
    const endpoints = run.options.endpoints ?? Object.keys(OPENAI_USAGE_ENDPOINTS);
    for (const endpoint of endpoints) {
      const groupBy = OPENAI_USAGE_ENDPOINTS[endpoint];
      if (!groupBy) throw new ProcessorError(`OpenAI has no usage endpoint "${endpoint}"; expected one of ${Object.keys(OPENAI_USAGE_ENDPOINTS).join(', ')}`, { retryable: false });
      yield* bucketRows(run, listingUrl(run, `organization/usage/${endpoint}`, groupBy), (result, bucket) => {
        const row: Record<string, unknown> = { ...bucket, endpoint, billing_account_id: run.account.id, billing_account_name: run.account.name };
        for (const field of USAGE_FIELDS) row[field] = result[field] ?? null;
        return row;
      });
    }
  },
};

export const openaiCosts: ReportSource = {
  ...openaiUsage,
  report: 'costs',
  table: 'genai_openai_costs_raw',
  schema: 'genai/genai_openai_costs_raw',
  async *rows(run) {
    yield* bucketRows(run, listingUrl(run, 'organization/costs', ['project_id', 'line_item']), (result, bucket) => {
      const cost = result as { amount?: { value?: unknown; currency?: unknown }; line_item?: unknown; project_id?: unknown; api_key_id?: unknown; quantity?: unknown; quantity_unit?: unknown };
      const value = cost.amount?.value;
      // Seen live as a number and as a numeric string ("12.50"); both stay exact decimals.
      if (typeof value !== 'number' && !(typeof value === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value.trim()))) {
        throw new ProcessorError(`OpenAI /organization/costs: amount.value ${JSON.stringify(value)} is not a number`, { retryable: false });
      }
      return {
        ...bucket,
        billing_account_id: run.account.id,
        billing_account_name: run.account.name,
        project_id: cost.project_id ?? null,
        line_item: cost.line_item ?? null,
        api_key_id: cost.api_key_id ?? null,
        amount_value: typeof value === 'string' ? value.trim() : value,
        currency: typeof cost.amount?.currency === 'string' ? cost.amount.currency : 'usd',
        quantity: cost.quantity ?? null,
        quantity_unit: cost.quantity_unit ?? null,
      };
    });
  },
};
