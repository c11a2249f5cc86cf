import type { Settings } from '../config/settings.ts';
import type { CredentialService } from '../credentials/credentials.ts';
import type { PipelineConfig, StepConfig } from '../pipelines/config-schema.ts';
import type { PipelineRegistry } from '../pipelines/registry.ts';
import { resolveStepConfig, runVariables } from '../pipelines/templates.ts';
import type { ProcessorRegistry } from '../processors/registry.ts';
import type { ProcessorContext } from '../processors/types.ts';
import type { Clock } from '../shared/clock.ts';
import { errorMessage, ProcessorError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type { RunMetrics } from '../shared/metrics.ts';
import { LeaseLostError, type Claim, type ClaimedRun, type ExecutionStore, type NextRun } from '../store/executions.ts';
import type { Run, RunStatus, RunStore, StepStatus } from '../store/runs.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';
import type { ProcedureTexts } from '../procedures/procedure-texts.ts';
import type { QualityResult } from '../shared/quality.ts';
import { fencedWarehouse } from './fenced-warehouse.ts';
import { retryDecision } from './retry-policy.ts';
import { createRunJournal, type RunJournal } from './run-journal.ts';
import { runScratch, type RunScratch } from '../sources/scratch.ts';

export interface EngineDeps {
  executions: ExecutionStore;
  runs: RunStore;
  pipelines: PipelineRegistry;
  processors: ProcessorRegistry;
  warehouse: Warehouse;
  credentials: CredentialService;
  /** Procedure SQL for the steps: the registered version, else the file (docs/procedures.md). */
  procedures: ProcedureTexts;
  clock: Clock;
  logger: Logger;
  settings: Pick<Settings, 'env' | 'projectId' | 'configsDir' | 'sourceRoot' | 'stepConcurrency' | 'stepStopGraceSeconds' | 'providerBaseUrls' | 'dataDir' | 'sourceScratchMaxBytes'>;
  metrics?: RunMetrics;
  /**
   * Told, once the run's end is committed, of the tables its completed steps wrote (`dataset.table`),
   * whatever the run's status: the cost alerts of an org that got FOCUS rows are due an evaluation.
   */
  onTablesWritten?: (orgSlug: string, tables: string[]) => void;
  /** The worker's request that the run's end also claim the run taking its slot. */
  nextRun?: () => NextRun | undefined;
}

/** A worker that lost the same run this many times gives up on it rather than loop forever. */
export const MAX_CLAIMS = 3;
const DEFAULT_TIMEOUT_SECONDS = 3600;

/** A run's steps with their templates resolved, and what they need: the same at admission and in the worker. */
export interface PreparedRun {
  variables: Record<string, string>;
  steps: StepConfig[];
  /** Providers whose credential the steps declare they need. */
  credentialProviders: string[];
}

/**
 * Resolves a run's step configs (FR-PIP-006): SQL fields of a config (its schema's sqlText())
 * take only the service's identifiers, never a run parameter; an unknown variable is an
 * InputError naming it. Pure: admission calls it to refuse a bad request before anything is
 * queued, the worker to get the configs it runs.
 */
export function prepareRun(deps: { processors: ProcessorRegistry; settings: Pick<Settings, 'env' | 'projectId'> }, pipeline: PipelineConfig, run: Omit<Run, 'status' | 'started_at' | 'ended_at' | 'duration_ms' | 'records_processed' | 'error_message' | 'cancel_requested'>): PreparedRun {
  const variables = variablesOf(deps, run);
  const steps = pipeline.steps.map((step, i) => ({ ...step, config: resolveStepConfig(step.config ?? {}, deps.processors.get(step.ps_type)?.configSchema, variables, `steps[${i}].config`) }));
  const credentialProviders = [...new Set(steps.flatMap((step) => deps.processors.get(step.ps_type)?.requiredCredentials?.(step.config ?? {}) ?? []))].sort();
  return { variables, steps, credentialProviders };
}

/**
 * Executes one claimed run to its end (FR-PIP-001 steps 6-9). The claim already moved it to
 * `running` (or to `validating` when its steps need credentials, checked here first); then the
 * steps in `depends_on` order; then the end, written with the journal's last lines in one
 * statement. `signal` aborts on cancel, or with a LeaseLostError when the worker loses the run.
 */
export async function executeRun(deps: EngineDeps, claimed: ClaimedRun, signal: AbortSignal): Promise<void> {
  const { executions, clock } = deps;
  const { run } = claimed;
  const claim: Claim = { org_slug: claimed.org_slug, run_id: claimed.run_id, worker_id: claimed.worker_id, claims: claimed.claims };
  const pipeline = deps.pipelines.get(`${run.provider}/${run.domain}/${run.pipeline}`);
  const journal = createRunJournal({ executions, claim, steps: pipeline?.steps ?? [], processLogger: deps.logger });
  // Downloads of remote sources live as long as the run: removed before its end is written (and
  // again in the finally below, for a run lost to another worker), whatever that end.
  const scratch = runScratch({ dataDir: deps.settings.dataDir, orgSlug: claim.org_slug, runId: claim.run_id, claim: claim.claims, maxBytes: deps.settings.sourceScratchMaxBytes });
  const removeScratch = () => scratch.remove().catch((error: unknown) => deps.logger.error({ err: error, run_id: run.run_id }, 'run scratch folder not removed'));
  const log = journal.logger;
  let status: RunStatus = run.status;
  // A route the configs no longer have is one label value, not the stored text.
  const labels = { org: run.org_slug, pipeline: pipeline?.route ?? 'unknown' };
  const finish = async (end: 'completed' | 'failed' | 'cancelled', reason: string, error?: string, records = 0) => {
    log[end === 'failed' ? 'error' : 'info']({ status: end, error, records }, `run ${end}`);
    await removeScratch();
    await executions.finish(claim, { from: status, status: end, at: clock.now(), reason, records, ...(error ? { error } : {}) }, await journal.close(), deps.nextRun?.());
    deps.metrics?.runEnded({ ...labels, status: end });
  };

  try {
    if (claimed.recovered) log.warn({ claims: claimed.claims, was: claimed.priorStatus }, 'run recovered from a lost worker');
    if (!claimed.started) {
      if (claimed.claims > MAX_CLAIMS) return await finish('failed', 'worker lost too often', `run lost its worker ${claimed.claims - 1} times; giving up`);
      return await finish('cancelled', 'cancel requested before start');
    }
    deps.metrics?.runStarted({ ...labels, trigger: run.trigger });
    if (!pipeline) return await finish('failed', 'validation failed', `Pipeline not found: ${run.provider}/${run.domain}/${run.pipeline}`);
    let prepared: PreparedRun;
    try {
      prepared = prepareRun(deps, pipeline, run);
    } catch (error) {
      return await finish('failed', 'validation failed', `validating: ${errorMessage(error)}`);
    }
    const { steps, variables } = prepared;
    if (status === 'validating') {
      const missing = await missingCredentials(deps, run.org_slug, variables.credential_id as string, prepared.credentialProviders);
      if (missing) return await finish('failed', 'validation failed', `validating: ${missing}`);
      await executions.transition(claim, 'validating', 'running', clock.now(), 'credentials present');
      status = 'running';
    }
    const warehouse = fencedWarehouse({ warehouse: deps.warehouse, executions, claim, clock, logger: log, metrics: deps.metrics });
    journal.startSteps();
    const outcome = await runSteps({ deps, claim, journal, warehouse, scratch, run, pipeline, steps, variables, log, signal });
    if (signal.aborted) {
      if (signal.reason instanceof LeaseLostError) throw signal.reason; // another worker owns the run now; it writes the end
      await finish('cancelled', 'cancel requested', undefined, outcome.records);
    } else if (outcome.error) await finish('failed', 'a step failed', outcome.error, outcome.records);
    else await finish('completed', 'all steps completed', undefined, outcome.records);
    if (outcome.tables.length > 0) deps.onTablesWritten?.(run.org_slug, outcome.tables);
  } catch (error) {
    if (error instanceof LeaseLostError || signal.reason instanceof LeaseLostError) {
      deps.logger.warn({ run_id: run.run_id, claims: claim.claims }, 'run lost to another worker; this worker writes nothing more');
      return;
    }
    deps.logger.error({ err: error, run_id: run.run_id }, 'run execution failed');
    await finish('failed', 'engine error', `engine: ${errorMessage(error)}`).catch((finishError: unknown) => deps.logger.error({ err: finishError }, 'could not record the run end'));
  } finally {
    await removeScratch();
    await journal.close();
  }
}

/** DESIGN step 6: a run that cannot authenticate fails before its first step, naming what is missing. */
async function missingCredentials(deps: EngineDeps, orgSlug: string, credentialId: string, providers: string[]): Promise<string | undefined> {
  for (const provider of providers) {
    if (!(await deps.credentials.has(orgSlug, provider, credentialId))) return `no ${provider} credential "${credentialId}" for ${orgSlug}; add one with: pipeline credential set ${orgSlug} ${provider}`;
  }
  return undefined;
}

function variablesOf(deps: { settings: Pick<Settings, 'env' | 'projectId'> }, run: Pick<Run, 'org_slug' | 'run_id' | 'pipeline_id' | 'parameters' | 'created_at'>): Record<string, string> {
  const parameters = run.parameters as Record<string, string | number | boolean>;
  return runVariables({
    orgSlug: run.org_slug,
    env: deps.settings.env,
    projectId: deps.settings.projectId,
    runId: run.run_id,
    pipelineId: run.pipeline_id,
    credentialId: String(parameters.credential_id ?? 'default'),
    startDate: String(parameters.start_date),
    endDate: String(parameters.end_date),
    requestedOn: run.created_at.toISOString().slice(0, 10),
    parameters,
  });
}

interface StepsInput {
  deps: EngineDeps;
  claim: Claim;
  journal: RunJournal;
  /** The run's partition-locking, claim-fenced view of the warehouse. */
  warehouse: Warehouse;
  scratch: RunScratch;
  run: Run;
  pipeline: PipelineConfig;
  steps: StepConfig[];
  variables: Record<string, string>;
  log: Logger;
  signal: AbortSignal;
}

/**
 * Runs the DAG: a step starts once all it depends on completed, up to `stepConcurrency` at a
 * time; a failed step skips its dependants, while independent branches run to their end. A
 * step that finds the run lost to another worker stops the others and writes nothing more.
 */
async function runSteps(input: StepsInput): Promise<{ records: number; tables: string[]; error?: string }> {
  const { deps, steps } = input;
  const lost = new AbortController();
  const signal = AbortSignal.any([input.signal, lost.signal]);
  const stepInput = { ...input, signal };
  const state = new Map<string, StepStatus>(steps.map((step) => [step.step_id, 'pending']));
  const running = new Map<string, Promise<void>>();
  let records = 0;
  const tables = new Set<string>();
  let firstError: string | undefined;

  const blockedBy = (step: StepConfig) => (step.depends_on ?? []).find((id) => ['failed', 'skipped', 'cancelled'].includes(state.get(id) as string));
  const ready = (step: StepConfig) => (step.depends_on ?? []).every((id) => state.get(id) === 'completed');

  for (;;) {
    for (const step of steps) {
      if (state.get(step.step_id) !== 'pending' || lost.signal.aborted) continue;
      const blocker = blockedBy(step);
      if (signal.aborted) {
        state.set(step.step_id, 'cancelled');
        input.journal.setStep(step.step_id, { status: 'cancelled' });
      } else if (blocker) {
        state.set(step.step_id, 'skipped');
        input.journal.setStep(step.step_id, { status: 'skipped', error_message: `skipped: ${blocker} did not complete` });
        input.log.warn({ step_id: step.step_id, blocked_by: blocker }, 'step skipped');
      } else if (ready(step) && running.size < deps.settings.stepConcurrency) {
        state.set(step.step_id, 'running');
        const task = runStep(stepInput, step)
          .then(
            (result) => {
              state.set(step.step_id, result.status);
              records += result.records;
              for (const table of result.tables ?? []) tables.add(table);
              if (result.status === 'failed' && firstError === undefined) firstError = result.error;
            },
            (error: unknown) => {
              state.set(step.step_id, 'cancelled');
              if (!lost.signal.aborted) lost.abort(error instanceof LeaseLostError ? error : new LeaseLostError(errorMessage(error)));
            },
          )
          .finally(() => running.delete(step.step_id));
        running.set(step.step_id, task);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (lost.signal.aborted) throw lost.signal.reason;
  return firstError === undefined ? { records, tables: [...tables] } : { records, tables: [...tables], error: firstError };
}

/**
 * One step with its retries. Only a LeaseLostError (or an error storing the step) rejects;
 * every processor outcome is a step status.
 */
async function runStep(input: StepsInput, step: StepConfig): Promise<{ status: StepStatus; records: number; tables?: string[]; error?: string }> {
  const { deps, run, signal, claim } = input;
  const { executions, clock } = deps;
  const processor = deps.processors.get(step.ps_type);
  const log = input.log.child({ step_id: step.step_id });
  const policy = { maxAttempts: step.retry?.max_attempts ?? 1, backoffSeconds: step.retry?.backoff_seconds ?? 5 };
  const timeoutSeconds = step.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS;
  const startedAt = clock.now();
  // A warehouse that bills by the job (BigQuery) labels the step's jobs and sums what they processed.
  const scoped = deps.warehouse.forStep?.({ orgSlug: run.org_slug, pipelineId: run.pipeline_id, runId: run.run_id, stepId: step.step_id });
  const warehouse = scoped ? fencedWarehouse({ warehouse: scoped, executions, claim, clock, logger: log, metrics: deps.metrics }) : input.warehouse;
  // Quality results of the last attempt only: an earlier attempt's findings were rolled back with its write.
  let quality: QualityResult[] = [];
  const end = async (status: StepStatus, records: number, error?: string, result?: Record<string, unknown>) => {
    const endedAt = clock.now();
    const update = { status, ended_at: endedAt, duration_ms: endedAt.getTime() - startedAt.getTime(), records_processed: records, error_message: error ?? null, ...(result ? { result } : {}) };
    input.journal.endStep(step.step_id, update, quality);
    deps.metrics?.stepEnded({ psType: step.ps_type, status }, update.duration_ms / 1000);
    return error === undefined ? { status, records } : { status, records, error };
  };
  if (!processor) return end('failed', 0, `${step.ps_type}: no such processor`);

  for (let attempt = 1; ; attempt++) {
    quality = [];
    input.journal.setStep(step.step_id, { status: 'running', attempts: attempt, ...(attempt === 1 ? { started_at: startedAt } : {}) });
    log.info({ ps_type: step.ps_type, attempt }, 'step started');
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new ProcessorError(`step ${step.step_id} timed out after ${timeoutSeconds}s`, { retryable: true })), timeoutSeconds * 1000);
    const stepSignal = AbortSignal.any([signal, timeout.signal]);
    let work: Promise<unknown> | undefined;
    try {
      const context: ProcessorContext = {
        orgSlug: run.org_slug,
        dataset: input.variables.org_dataset as string,
        runId: run.run_id,
        pipelineId: run.pipeline_id,
        stepId: step.step_id,
        credentialId: input.variables.credential_id as string,
        startDate: input.variables.start_date as string,
        endDate: input.variables.end_date as string,
        variables: input.variables,
        lineage: { orgSlug: run.org_slug, pipelineId: run.pipeline_id, credentialId: input.variables.credential_id as string, runId: run.run_id, ingestedAt: clock.now() },
        warehouse,
        scratch: input.scratch,
        configsDir: deps.settings.configsDir,
        procedures: deps.procedures,
        sourceRoot: deps.settings.sourceRoot,
        providerBaseUrls: deps.settings.providerBaseUrls,
        logger: log,
        signal: stepSignal,
        recordQuality: (results) => quality.push(...results),
        credentials: deps.credentials.accessFor(run.org_slug, input.variables.credential_id as string, { runId: run.run_id, stepId: step.step_id }),
      };
      const running = processor.run(step.config ?? {}, context);
      work = running;
      const result = await untilAborted(running, stepSignal);
      log.info({ rows: result.rowsWritten, tables: result.tables }, 'step completed');
      const details = { tables: result.tables, ...result.details, ...(scoped ? { warehouse_usage: scoped.usage() } : {}) };
      return { ...(await end('completed', result.rowsWritten, undefined, details)), tables: result.tables };
    } catch (caught) {
      if (caught instanceof LeaseLostError) throw caught;
      // An aborted processor is waited for (DuckDB interrupts its statement, fetch its request):
      // nothing of this attempt may still run when the next one starts, or when the run ends.
      const graceSeconds = deps.settings.stepStopGraceSeconds;
      if (work && !(await settled(work, graceSeconds * 1000))) {
        const message = `${step.ps_type}: did not stop within ${graceSeconds}s of being ${signal.aborted ? 'cancelled' : 'timed out'}; not retried`;
        log.error({ attempt }, message);
        return end(signal.aborted ? 'cancelled' : 'failed', 0, message);
      }
      if (signal.aborted) {
        if (signal.reason instanceof LeaseLostError) throw signal.reason;
        return end('cancelled', 0, 'cancelled while running');
      }
      const error = timeout.signal.aborted ? timeout.signal.reason : caught;
      const decision = retryDecision(attempt, error, policy);
      const message = `${step.ps_type}: ${errorMessage(error)}`;
      if (!decision.retry) {
        log.error({ attempt, error: message }, 'step failed');
        return end('failed', 0, message);
      }
      log.warn({ attempt, error: message, retry_in_ms: decision.delayMs }, 'step attempt failed, retrying');
      try {
        await clock.sleep(decision.delayMs, signal);
      } catch {
        return end('cancelled', 0, 'cancelled while waiting to retry');
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Stops waiting for a processor once its signal aborts, even one that ignores the signal. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Whether `work` ends (either way) within `ms`. */
async function settled(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([work.then(() => true, () => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return ended;
}
