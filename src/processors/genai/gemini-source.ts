import { addDays } from '../../shared/clock.ts';
import { ProcessorError } from '../../shared/errors.ts';
import { pages } from '../http/pages.ts';
import { paginator } from '../http/pagination.ts';
import { endpointUrl } from './base-url.ts';
import { googleAccessToken, serviceAccountKey } from './google-auth.ts';
import { dayOf, inRange, isoOf, type ReportSource, type SourceRun } from './source.ts';

/**
 * The Gemini API (AI Studio) has no usage or billing REST API. What an organisation can read is
 * Cloud Monitoring: per GCP project and model, daily sums of the output token counter and of the
 * paid-tier input token quota usage. No key-level split, no cost (that is in the Cloud Billing
 * export to BigQuery, which the GCP billing pipeline reads).
 */
export const GEMINI_METRICS: { type: string; direction: 'input' | 'output' }[] = [
  { type: 'generativelanguage.googleapis.com/quota/generate_content_paid_tier_input_token_count/usage', direction: 'input' },
  { type: 'generativelanguage.googleapis.com/generate_content_usage_output_token_count', direction: 'output' },
];

const MONITORING_SCOPE = 'https://www.googleapis.com/auth/monitoring.read';

function projectOf(run: SourceRun): string {
  const fromKey = serviceAccountKey(run.credential.secret)?.project_id;
  const project = run.options.gcp_project_id ?? (typeof run.credential.metadata.project_id === 'string' ? run.credential.metadata.project_id : undefined) ?? fromKey;
  if (!project || !/^[a-z][a-z0-9-]{4,61}[a-z0-9]$/.test(project)) {
    throw new ProcessorError(`the Gemini credential needs the GCP project: set metadata project_id (or the step's gcp_project_id); got ${JSON.stringify(project ?? null)}`, { retryable: false });
  }
  return project;
}

export const geminiUsage: ReportSource = {
  provider: 'gemini',
  report: 'usage',
  label: 'Cloud Monitoring',
  table: 'genai_gemini_usage_raw',
  schema: 'genai/genai_gemini_usage_raw',
  runDateColumn: 'usage_date',
  defaultBaseUrl: 'https://monitoring.googleapis.com',
  async authorize(credential, exchange) {
    return { config: { type: 'bearer' }, secret: await googleAccessToken(credential, exchange, MONITORING_SCOPE) };
  },
  async *rows(run) {
    const project = projectOf(run);
    for (const metric of run.options.metrics ?? GEMINI_METRICS) {
      const url = endpointUrl(run.baseUrl, `v3/projects/${project}/timeSeries`);
      url.searchParams.set('filter', `metric.type="${metric.type}"`);
      url.searchParams.set('interval.startTime', `${run.startDate}T00:00:00Z`);
      url.searchParams.set('interval.endTime', `${addDays(run.endDate, 1)}T00:00:00Z`);
      url.searchParams.set('aggregation.alignmentPeriod', '86400s');
      url.searchParams.set('aggregation.perSeriesAligner', 'ALIGN_SUM');
      const paging = paginator({ type: 'cursor', param: 'pageToken', cursor_path: 'nextPageToken' });
      for await (const page of pages({ client: run.client, paginator: paging, url, recordPath: ['timeSeries', 'points'], provider: 'Cloud Monitoring' })) {
        const rows: Record<string, unknown>[] = [];
        for (const scoped of page.records) {
          const point = scoped.record as { interval?: { startTime?: string; endTime?: string }; value?: { int64Value?: unknown; doubleValue?: unknown } };
          const series = scoped.parents[0] as { metric?: { type?: string; labels?: Record<string, string> }; resource?: { labels?: Record<string, string> } };
          const start = point.interval?.startTime ?? point.interval?.endTime;
          const end = point.interval?.endTime;
          if (!start || !end) throw new ProcessorError(`Cloud Monitoring ${url.pathname}: a point without an interval`, { retryable: false });
          // ALIGN_SUM points are [end - 1 day, end); their day is the day they start.
          const usageDate = dayOf(Date.parse(start) === Date.parse(end) ? new Date(Date.parse(end) - 86_400_000).toISOString() : start);
          if (!inRange(usageDate, run)) continue;
          const count = point.value?.int64Value ?? point.value?.doubleValue;
          rows.push({
            usage_date: usageDate,
            point_start: isoOf(start),
            point_end: isoOf(end),
            billing_account_id: run.account.id,
            billing_account_name: run.account.name,
            gcp_project_id: series.resource?.labels?.project_id ?? project,
            location: series.resource?.labels?.location ?? null,
            metric_type: series.metric?.type ?? metric.type,
            direction: metric.direction,
            model: series.metric?.labels?.model ?? null,
            output_modality: series.metric?.labels?.output_modality ?? null,
            thinking_enabled: series.metric?.labels?.thinking_enabled ?? null,
            // int64Value is a decimal string on the wire.
            token_count: count === undefined || count === null ? 0 : String(count).split('.')[0],
          });
        }
        yield rows;
      }
    }
  },
};
