import { randomUUID } from 'node:crypto';
import type { Settings } from '../config/settings.ts';
import { prepareRun } from '../engine/execute-run.ts';
import { resolveRunParameters } from '../engine/run-parameters.ts';
import type { PipelineConfig } from '../pipelines/config-schema.ts';
import type { PipelineRegistry } from '../pipelines/registry.ts';
import type { ProcessorRegistry } from '../processors/registry.ts';
import { addDays, type Clock } from '../shared/clock.ts';
import { errorMessage, InputError, NotFoundError } from '../shared/errors.ts';
import { every } from '../shared/every.ts';
import type { Logger } from '../shared/logger.ts';
import type { SchedulerMetrics } from '../shared/metrics.ts';
import { admitSources } from '../sources/admit-sources.ts';
import type { AdmittedTicks, NewTick, PipelineScheduleRow, Schedule, ScheduleChanges, ScheduleStore, ScheduleView } from '../store/schedules.ts';
import { localDate, nextOccurrence } from './cron-ticks.ts';
import { checkCron, pipelineSchedule } from './pipeline-schedule.ts';
import { checkScheduleTemplate, evaluateScheduleTemplate } from './schedule-template.ts';
import { planTicks, type PlannedTick } from './tick-plan.ts';

/** Schedules taken, and ticks admitted, per statement. */
const BATCH = 1000;

export interface SchedulerDeps {
  schedules: ScheduleStore;
  pipelines: PipelineRegistry;
  processors: ProcessorRegistry;
  clock: Clock;
  logger: Logger;
  settings: Pick<Settings, 'maxRangeDays' | 'sourceRoot' | 'env' | 'projectId'>;
  /** More work a pass does after the ticks (the backfill coordinator). */
  afterTicks?: (now: Date) => Promise<unknown>;
  metrics?: SchedulerMetrics;
}

export interface PassResult {
  schedules: number;
  enqueued: number;
  deferred: number;
  skipped: number;
}

/**
 * The scheduler loop every long-lived process runs (issue 12). A pass first admits the ticks
 * waiting from before (deferred by quota, or written by a trigger), then ticks every due
 * schedule (planned by planTicks, their run parameters resolved and checked as a run request's
 * are) and admits the new ticks in the same statement, through the same subscription and quota
 * checks as any run. Both steps are batched statements whose rows are taken with SKIP LOCKED,
 * and each tick has its primary key, so any number of processes may run passes at once and
 * each tick becomes one run at most.
 */
export function createScheduler(deps: SchedulerDeps) {
  const log = deps.logger.child({ component: 'scheduler' });

  /**
   * A due tick's run parameters and credential providers, resolved and checked as a run
   * request's are; or why the run cannot be requested. They depend on the schedule's pipeline,
   * template and tick, not on its org, so one pass resolves them once for every org sharing them.
   */
  function resolveTick(schedule: Schedule, pipeline: PipelineConfig | undefined, planned: PlannedTick): { parameters: Record<string, unknown>; credentialProviders: string[] } | { error: string } {
    try {
      if (!pipeline) throw new NotFoundError(`pipeline ${schedule.provider}/${schedule.domain}/${schedule.pipeline} no longer exists`);
      const today = localDate(planned.scheduledFor, schedule.timezone);
      const body = evaluateScheduleTemplate(schedule.parameters, { localDate: today });
      let resolved = resolveRunParameters(pipeline, body, today, deps.settings.maxRangeDays);
      if (planned.coversFrom) {
        // Policy once: the catch-up run's dates reach back to the earliest missed tick's (within the longest range a run may ask for).
        const day = localDate(planned.coversFrom, schedule.timezone);
        const earliest = resolveRunParameters(pipeline, evaluateScheduleTemplate(schedule.parameters, { localDate: day }), day, deps.settings.maxRangeDays).startDate;
        const longest = addDays(resolved.endDate, 1 - deps.settings.maxRangeDays);
        const { date: _date, ...rest } = body;
        if (earliest < resolved.startDate) resolved = resolveRunParameters(pipeline, { ...rest, start_date: earliest > longest ? earliest : longest, end_date: resolved.endDate }, today, deps.settings.maxRangeDays);
      }
      const run = {
        org_slug: schedule.org_slug, run_id: randomUUID(), pipeline_id: pipeline.pipeline_id, provider: schedule.provider, domain: schedule.domain, pipeline: schedule.pipeline,
        parameters: resolved.parameters, trigger: 'schedule' as const, created_by: 'scheduler', created_at: planned.scheduledFor,
      };
      return { parameters: resolved.parameters, credentialProviders: prepareRun(deps, pipeline, run).credentialProviders };
    } catch (error) {
      return { error: `the run cannot be requested: ${errorMessage(error)}` };
    }
  }

  /** Tick rows and next tick times for due schedules; what orgs share (the plan, the resolved parameters) is computed once. */
  async function plan(due: Schedule[], now: Date) {
    const plans = new Map<string, { ticks: PlannedTick[]; nextRunAt: Date; resolved: ReturnType<typeof resolveTick>[] }>();
    const ticks: NewTick[] = [];
    const next: { org_slug: string; schedule_id: string; next_run_at: Date }[] = [];
    for (const schedule of due) {
      const pipeline = deps.pipelines.get(`${schedule.provider}/${schedule.domain}/${schedule.pipeline}`);
      const key = JSON.stringify([schedule.provider, schedule.domain, schedule.pipeline, schedule.cron_expression, schedule.timezone, schedule.parameters, schedule.missed_policy, schedule.max_catchup, schedule.next_run_at]);
      let shared = plans.get(key);
      if (!shared) {
        const planned = planTicks({ ...schedule, next_run_at: schedule.next_run_at as Date }, now);
        shared = { ...planned, resolved: planned.ticks.map((tick) => (tick.status === 'due' ? resolveTick(schedule, pipeline, tick) : { error: tick.reason ?? 'skipped' })) };
        plans.set(key, shared);
      }
      for (const [i, tick] of shared.ticks.entries()) ticks.push(await tickRow(schedule, pipeline, tick, shared.resolved[i] as ReturnType<typeof resolveTick>));
      next.push({ org_slug: schedule.org_slug, schedule_id: schedule.schedule_id, next_run_at: shared.nextRunAt });
    }
    return { ticks, next };
  }

  /** One org's tick row: its sources checked in its own folder (source_uri parameters). */
  async function tickRow(schedule: Schedule, pipeline: PipelineConfig | undefined, planned: PlannedTick, resolved: ReturnType<typeof resolveTick>): Promise<NewTick> {
    const base = { org_slug: schedule.org_slug, schedule_id: schedule.schedule_id, scheduled_for: planned.scheduledFor, run_id: randomUUID(), pipeline_id: pipeline?.pipeline_id ?? '', parameters: {}, credential_providers: [] };
    if (planned.status === 'skipped') return { ...base, status: 'skipped', reason: planned.reason ?? null };
    if ('error' in resolved) return { ...base, status: 'failed', reason: resolved.error };
    try {
      await admitSources(pipeline?.parameters, resolved.parameters, { sourceRoot: deps.settings.sourceRoot, orgSlug: schedule.org_slug });
    } catch (error) {
      return { ...base, status: 'failed', reason: `the run cannot be requested: ${errorMessage(error)}` };
    }
    return { ...base, status: 'due', parameters: resolved.parameters, credential_providers: resolved.credentialProviders };
  }

  async function pass(now = deps.clock.now()): Promise<PassResult> {
    const result: PassResult = { schedules: 0, enqueued: 0, deferred: 0, skipped: 0 };
    const add = (batch: AdmittedTicks) => {
      deps.metrics?.ticksAdmitted(batch, batch.lag_seconds);
      result.enqueued += batch.enqueued;
      result.deferred += batch.deferred;
      result.skipped += batch.skipped;
    };
    // Ticks waiting from before (deferred by quota) first: a new tick does not take their room.
    for (;;) {
      const batch = await deps.schedules.admitDueTicks(now, BATCH);
      add(batch);
      if (batch.taken < BATCH) break;
    }
    for (;;) {
      const batch = await deps.schedules.tickDue(now, BATCH, (due) => plan(due, now));
      result.schedules += batch.schedules;
      add(batch);
      if (batch.schedules < BATCH) break;
    }
    await deps.afterTicks?.(now);
    return result;
  }

  /** The YAML schedules, as rows for every org that can run each pipeline. */
  function pipelineRows(now: Date): PipelineScheduleRow[] {
    return deps.pipelines.list().flatMap((pipeline) => {
      const schedule = pipelineSchedule(pipeline);
      if (!schedule) return [];
      const [provider, domain, name] = pipeline.route.split('/') as [string, string, string];
      // The credential providers its steps read, with the template evaluated for today.
      const body = evaluateScheduleTemplate(schedule.parameters, { localDate: localDate(now, schedule.timezone) });
      const resolved = resolveRunParameters(pipeline, body, localDate(now, schedule.timezone), deps.settings.maxRangeDays);
      const { credentialProviders } = prepareRun(deps, pipeline, { org_slug: '_', run_id: randomUUID(), pipeline_id: pipeline.pipeline_id, provider, domain, pipeline: name, parameters: resolved.parameters, trigger: 'schedule', created_by: 'scheduler', created_at: now });
      return [{ provider, domain, pipeline: name, cron: schedule.cron, timezone: schedule.timezone, parameters: schedule.parameters, missed: schedule.missed, max_catchup: schedule.maxCatchup, next_run_at: nextOccurrence(schedule.cron, schedule.timezone, now), providers: credentialProviders }];
    });
  }

  return {
    pass,

    /** Creates and updates the YAML schedules (see ScheduleStore.syncFromPipelines). */
    async sync(orgSlug?: string): Promise<number> {
      return deps.schedules.syncFromPipelines(pipelineRows(deps.clock.now()), orgSlug);
    },

    /**
     * A change by the org or the operator, checked first (400 naming the field). The next tick
     * is counted from now, so an edit or a re-enable never fires ticks from before it.
     */
    async update(scheduleId: string, orgSlug: string | undefined, changes: ScheduleChanges, by: 'org' | 'operator'): Promise<ScheduleView> {
      const current = await deps.schedules.get(scheduleId, orgSlug);
      if (!current) throw new NotFoundError('Schedule not found');
      const next = { ...current, ...changes };
      checkCron(next.cron_expression, next.timezone);
      if (changes.parameters) {
        checkScheduleTemplate(changes.parameters);
        const pipeline = deps.pipelines.get(`${current.provider}/${current.domain}/${current.pipeline}`);
        if (pipeline) {
          const today = localDate(deps.clock.now(), next.timezone);
          resolveRunParameters(pipeline, evaluateScheduleTemplate(changes.parameters, { localDate: today }), today, deps.settings.maxRangeDays);
        }
      }
      const now = deps.clock.now();
      const updated = await deps.schedules.update(scheduleId, orgSlug, changes, by, (schedule) => nextOccurrence(schedule.cron_expression, schedule.timezone, now));
      if (!updated) throw new NotFoundError('Schedule not found');
      log.info({ org_slug: updated.org_slug, schedule_id: scheduleId, changes: Object.keys(changes), by }, 'schedule changed');
      return updated;
    },

    /**
     * POST scheduler/trigger with a schedule: one tick of it now, whatever its cron says, then
     * a pass (which admits it). Triggering twice in the same second is one tick.
     */
    async triggerNow(scheduleId: string, orgSlug?: string): Promise<PassResult> {
      const schedule = await deps.schedules.get(scheduleId, orgSlug);
      if (!schedule) throw new NotFoundError('Schedule not found');
      if (schedule.is_deleted) throw new InputError('the schedule is deleted', { field: 'schedule_id' });
      const now = deps.clock.now();
      const at = new Date(Math.floor(now.getTime() / 1000) * 1000);
      const pipeline = deps.pipelines.get(`${schedule.provider}/${schedule.domain}/${schedule.pipeline}`);
      const tick: PlannedTick = { scheduledFor: at, status: 'due' };
      await deps.schedules.insertTicks([await tickRow(schedule, pipeline, tick, resolveTick(schedule, pipeline, tick))]);
      return pass(now);
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;

/** Runs passes every `intervalMs` (and at once) until stopped; a failed pass is logged and the next one tries again. */
export function startSchedulerLoop(scheduler: Scheduler, logger: Logger, intervalMs: number): { stop(): Promise<void> } {
  const log = logger.child({ component: 'scheduler' });
  return every(intervalMs, async () => {
    const result = await scheduler.pass();
    if (result.enqueued + result.deferred + result.skipped > 0) log.info(result, 'scheduler pass');
  }, log, 'scheduler pass');
}
