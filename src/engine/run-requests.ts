import type { Settings } from '../config/settings.ts';
import type { PipelineRegistry } from '../pipelines/registry.ts';
import type { Clock } from '../shared/clock.ts';
import { ConflictError, NotFoundError } from '../shared/errors.ts';
import type { IdGenerator } from '../shared/ids.ts';
import { admitSources } from '../sources/admit-sources.ts';
import { admitRun } from '../store/admission.ts';
import type { Db } from '../store/db.ts';
import type { ExecutionStore } from '../store/executions.ts';
import type { RunStore } from '../store/runs.ts';
import type { ProcessorRegistry } from '../processors/registry.ts';
import { prepareRun } from './execute-run.ts';
import { resolveRunParameters } from './run-parameters.ts';

export interface RunRequest {
  orgSlug: string;
  /** `{provider}/{domain}/{pipeline}` */
  route: string;
  body: Record<string, unknown>;
  trigger: 'api' | 'cli' | 'schedule' | 'backfill';
  createdBy: string;
}

/**
 * Requesting and cancelling runs: the one path the API, the CLI and the scheduler share
 * (FR-PIP-001 steps 3-5).
 */
export function runRequests(deps: {
  db: Db;
  pipelines: PipelineRegistry;
  runs: RunStore;
  executions: ExecutionStore;
  clock: Clock;
  ids: IdGenerator;
  processors: ProcessorRegistry;
  settings: Pick<Settings, 'maxRangeDays' | 'sourceRoot' | 'env' | 'projectId'>;
}) {
  return {
    async request(request: RunRequest): Promise<{ run_id: string; pipeline_logging_id: string; status: 'pending' }> {
      const pipeline = deps.pipelines.get(request.route);
      if (!pipeline) throw new NotFoundError(`Pipeline not found: ${request.route}`);
      const now = deps.clock.now();
      const resolved = resolveRunParameters(pipeline, request.body, now.toISOString().slice(0, 10), deps.settings.maxRangeDays);
      await admitSources(pipeline.parameters, resolved.parameters, { sourceRoot: deps.settings.sourceRoot, orgSlug: request.orgSlug });
      const [provider, domain, name] = request.route.split('/') as [string, string, string];
      const runId = deps.ids.runId();
      const run = {
        org_slug: request.orgSlug,
        run_id: runId,
        pipeline_id: pipeline.pipeline_id,
        provider,
        domain,
        pipeline: name,
        parameters: resolved.parameters,
        trigger: request.trigger,
        created_by: request.createdBy,
        created_at: now,
      };
      // The step configs resolve now, so a template naming no variable is refused (400) before
      // anything is queued; the worker resolves them again from the same inputs.
      const { credentialProviders } = prepareRun(deps, pipeline, run);
      await admitRun(deps.db, { ...run, credential_providers: credentialProviders });
      return { run_id: runId, pipeline_logging_id: runId, status: 'pending' };
    },

    async cancel(orgSlug: string, runId: string, by: string): Promise<{ success: boolean; status: string }> {
      const run = await deps.runs.get(orgSlug, runId);
      if (!run) throw new NotFoundError(`Run ${runId} not found`);
      const outcome = await deps.executions.requestCancel(orgSlug, runId, deps.clock.now(), `cancelled by ${by}`);
      if (outcome === 'ended') {
        const ended = (await deps.runs.get(orgSlug, runId))?.status ?? run.status;
        throw new ConflictError(`Run ${runId} already ${ended}: there is nothing to cancel`);
      }
      return { success: true, status: outcome };
    },
  };
}

export type RunRequests = ReturnType<typeof runRequests>;
