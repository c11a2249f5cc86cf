import { addDays } from '../../shared/clock.ts';
import { ProcessorError } from '../../shared/errors.ts';
import { pages } from '../http/pages.ts';
import { paginator } from '../http/pagination.ts';
import { endpointUrl } from './base-url.ts';
import { dayOf, inRange, isoOf, type ReportSource, type SourceRun } from './source.ts';

/**
 * Anthropic's Admin API usage and cost reports (an `sk-ant-admin` key in `x-api-key`, with
 * `anthropic-version`). Times are RFC 3339, buckets daily in UTC; array parameters carry a
 * literal `[]` (`group_by[]=model`). The cost report's amount is a decimal string in cents.
 */
const DEFAULT_BASE_URL = 'https://api.anthropic.com';
const USAGE_GROUP_BY = ['model', 'workspace_id', 'api_key_id', 'service_tier', 'context_window'];
const COST_GROUP_BY = ['workspace_id', 'description'];

function listingUrl(run: SourceRun, path: string, groupBy: string[]): URL {
  const url = endpointUrl(run.baseUrl, path);
  url.searchParams.set('starting_at', `${run.startDate}T00:00:00Z`);
  url.searchParams.set('ending_at', `${addDays(run.endDate, 1)}T00:00:00Z`);
  url.searchParams.set('bucket_width', '1d');
  url.searchParams.set('limit', String(run.options.bucket_limit ?? 31));
  for (const field of groupBy) url.searchParams.append('group_by[]', field);
  return url;
}

async function* bucketRows(run: SourceRun, url: URL, toRow: (result: Record<string, unknown>, bucket: { starting_at: string; ending_at: string }) => Record<string, unknown>) {
  const paging = paginator({ type: 'cursor', param: 'page', cursor_path: 'next_page', has_more_path: 'has_more' });
  let dropped = 0;
  for await (const page of pages({ client: run.client, paginator: paging, url, recordPath: ['data', 'results'], provider: 'Anthropic' })) {
    const rows: Record<string, unknown>[] = [];
    for (const scoped of page.records) {
      const bucket = scoped.parents[0] as { starting_at?: unknown; ending_at?: unknown };
      if (typeof bucket.starting_at !== 'string' || typeof bucket.ending_at !== 'string' || Number.isNaN(Date.parse(bucket.starting_at))) {
        throw new ProcessorError(`Anthropic ${url.pathname}: a bucket without RFC 3339 starting_at/ending_at`, { retryable: false });
      }
      if (!inRange(dayOf(bucket.starting_at), run)) {
        dropped++;
        continue;
      }
      rows.push(toRow((scoped.record ?? {}) as Record<string, unknown>, { starting_at: bucket.starting_at, ending_at: bucket.ending_at }));
    }
    yield rows;
  }
  if (dropped > 0) run.logger.warn({ path: url.pathname, dropped }, 'results of buckets outside the run range dropped');
}

const bucketColumns = (run: SourceRun, bucket: { starting_at: string; ending_at: string }) => ({
  usage_date: dayOf(bucket.starting_at),
  bucket_start: isoOf(bucket.starting_at),
  bucket_end: isoOf(bucket.ending_at),
  billing_account_id: run.account.id,
  billing_account_name: run.account.name,
});

const text = (value: unknown) => (value === undefined ? null : value);

export const anthropicUsage: ReportSource = {
  provider: 'anthropic',
  report: 'usage',
  label: 'Anthropic',
  table: 'genai_anthropic_usage_raw',
  schema: 'genai/genai_anthropic_usage_raw',
  runDateColumn: 'usage_date',
  defaultBaseUrl: DEFAULT_BASE_URL,
  headers: { 'anthropic-version': '2023-06-01' },
  authorize: async (credential) => ({ config: { type: 'header', name: 'x-api-key' }, secret: credential.secret }),
  async *rows(run) {
    yield* bucketRows(run, listingUrl(run, 'v1/organizations/usage_report/messages', USAGE_GROUP_BY), (result, bucket) => {
      const cache = (result.cache_creation ?? {}) as Record<string, unknown>;
      const tools = (result.server_tool_use ?? {}) as Record<string, unknown>;
      return {
        ...bucketColumns(run, bucket),
        api_key_id: text(result.api_key_id),
        workspace_id: text(result.workspace_id),
        model: text(result.model),
        service_tier: text(result.service_tier),
        context_window: text(result.context_window),
        inference_geo: text(result.inference_geo),
        account_id: text(result.account_id),
        service_account_id: text(result.service_account_id),
        speed: text(result.speed),
        uncached_input_tokens: text(result.uncached_input_tokens),
        cache_creation_5m_input_tokens: text(cache.ephemeral_5m_input_tokens),
        cache_creation_1h_input_tokens: text(cache.ephemeral_1h_input_tokens),
        cache_read_input_tokens: text(result.cache_read_input_tokens),
        output_tokens: text(result.output_tokens),
        web_search_requests: text(tools.web_search_requests),
      };
    });
  },
};

export const anthropicCosts: ReportSource = {
  ...anthropicUsage,
  report: 'costs',
  table: 'genai_anthropic_costs_raw',
  schema: 'genai/genai_anthropic_costs_raw',
  async *rows(run) {
    yield* bucketRows(run, listingUrl(run, 'v1/organizations/cost_report', COST_GROUP_BY), (result, bucket) => {
      const amount = result.amount;
      // A decimal string in cents ("123.78912" is $1.2378912); a number is accepted as well.
      if (!(typeof amount === 'number' || (typeof amount === 'string' && /^-?\d+(\.\d+)?$/.test(amount.trim())))) {
        throw new ProcessorError(`Anthropic /v1/organizations/cost_report: amount ${JSON.stringify(amount)} is not a decimal`, { retryable: false });
      }
      return {
        ...bucketColumns(run, bucket),
        workspace_id: text(result.workspace_id),
        description: text(result.description),
        cost_type: text(result.cost_type),
        model: text(result.model),
        service_tier: text(result.service_tier),
        token_type: text(result.token_type),
        context_window: text(result.context_window),
        inference_geo: text(result.inference_geo),
        amount_cents: typeof amount === 'string' ? amount.trim() : amount,
        currency: typeof result.currency === 'string' ? result.currency : 'USD',
      };
    });
  },
};
