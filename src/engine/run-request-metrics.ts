import type { PipelineRegistry } from '../pipelines/registry.ts';
import { InputError, NotAllowedError, NotFoundError, QuotaExceededError } from '../shared/errors.ts';
import type { AdmissionMetrics, AdmissionRejection } from '../shared/metrics.ts';
import type { RunStore } from '../store/runs.ts';
import type { RunRequests } from './run-requests.ts';

/** The reason label of a refused request; undefined for an internal error, which is no refusal. */
export function rejectionReason(error: unknown): AdmissionRejection | undefined {
  if (error instanceof QuotaExceededError) return `quota_${error.limit}`;
  if (error instanceof NotAllowedError) return 'not_allowed';
  if (error instanceof InputError) return 'bad_input';
  if (error instanceof NotFoundError) return 'not_found';
  return undefined;
}

type CountDeps = { metrics: AdmissionMetrics; pipelines: PipelineRegistry };

/** The route of a request only when the configs have it: the URL may say anything. */
const routeLabel = (pipelines: PipelineRegistry, route: string) => (pipelines.get(route) ? route : 'unknown');

/**
 * A run request whose body the API's schema refused (a date that does not exist, a wrong
 * type): it never reaches admission, and is the same bad_input refusal.
 */
export function countRefusedBody(deps: CountDeps, orgSlug: string, route: string): void {
  deps.metrics.admissionRejected({ org: orgSlug, pipeline: routeLabel(deps.pipelines, route), reason: 'bad_input' });
}

/**
 * Run requests (the API's and the CLI's) counted: each refusal by its reason, and each run
 * cancelled before a worker took it, which ends there rather than in a worker. Scheduled and
 * backfill ticks are admitted by their own statements; a refusal defers them and is counted
 * with the ticks.
 */
export function countedRunRequests(requests: RunRequests, deps: CountDeps & { runs: Pick<RunStore, 'get'> }): RunRequests {
  return {
    ...requests,
    async request(request) {
      try {
        return await requests.request(request);
      } catch (error) {
        const reason = rejectionReason(error);
        if (reason) deps.metrics.admissionRejected({ org: request.orgSlug, pipeline: routeLabel(deps.pipelines, request.route), reason });
        throw error;
      }
    },
    async cancel(orgSlug, runId, by) {
      const result = await requests.cancel(orgSlug, runId, by);
      if (result.success && result.status === 'cancelled') {
        const run = await deps.runs.get(orgSlug, runId);
        if (run) deps.metrics.runEnded({ org: orgSlug, pipeline: routeLabel(deps.pipelines, `${run.provider}/${run.domain}/${run.pipeline}`), status: 'cancelled' });
      }
      return result;
    },
  };
}
