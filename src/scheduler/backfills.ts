import { createHash, randomUUID } from 'node:crypto';
import type { Settings } from '../config/settings.ts';
import { prepareRun } from '../engine/execute-run.ts';
import { resolveRunParameters } from '../engine/run-parameters.ts';
import type { PipelineConfig } from '../pipelines/config-schema.ts';
import type { PipelineRegistry } from '../pipelines/registry.ts';
import type { ProcessorRegistry } from '../processors/registry.ts';
import { addDays, isIsoDate, isoDate, type Clock } from '../shared/clock.ts';
import { AppError, InputError, NotAllowedError, NotFoundError, QuotaExceededError } from '../shared/errors.ts';
import { isUuid } from '../shared/ids.ts';
import type { Logger } from '../shared/logger.ts';
import { admitSources } from '../sources/admit-sources.ts';
import { admitRun } from '../store/admission.ts';
import type { Db, Queryable } from '../store/db.ts';
import type { ExecutionStore } from '../store/executions.ts';
import type { NewRun } from '../store/runs.ts';

export type BackfillMode = 'missing' | 'failed' | 'all';
export type BackfillStatus = 'running' | 'cancelling' | 'completed' | 'completed_with_failures' | 'cancelled';
/** A day as callers see it: `pending` until admitted, `running` until its run ends, then its run's end. */
export type DayOutcome = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'skipped';
export const DAY_OUTCOMES: readonly DayOutcome[] = ['pending', 'running', 'completed', 'failed', 'cancelled', 'skipped'];
export const BACKFILL_MODES: readonly BackfillMode[] = ['missing', 'failed', 'all'];

/** A backfill is at most this many days, whatever MAX_RUN_RANGE_DAYS says of one run: a year and a month's margin. */
export const MAX_BACKFILL_DAYS = 400;
export const MAX_CONCURRENT_CHILDREN = 20;
const DEFAULT_MAX_CONCURRENT = 2;
/** Backfills one pass looks at, at most; the rest wait for the next pass. */
const PASS_BATCH = 100;
/** A spent daily or monthly quota is tried again this often (an operator may raise the limit meanwhile). */
const QUOTA_RECHECK_SECONDS = 300;

export interface NewBackfill {
  orgSlug: string;
  /** `{provider}/{domain}/{pipeline}` */
  route: string;
  startDate: string;
  endDate: string;
  mode?: BackfillMode | undefined;
  maxConcurrent?: number | undefined;
  /** Declared run parameters every child gets besides its date. */
  parameters?: Record<string, unknown> | undefined;
  createdBy: string;
}

/** A backfill as callers see it: its row, its route, and its days counted by outcome. */
export interface BackfillSummary extends Omit<BackfillRow, 'provider' | 'domain' | 'pipeline'> {
  route: string;
  total_days: number;
  counts: Record<DayOutcome, number>;
  /** Days that reached an end (skipped ones included), of all days. */
  progress: { done: number; total: number; percent: number };
}

export interface BackfillDay {
  day: string;
  status: DayOutcome;
  run_id: string | null;
  /** Why a day was skipped, or its error when it failed. */
  reason: string | null;
}

export interface BackfillDetail extends BackfillSummary {
  failed_days: { day: string; run_id: string | null; error_message: string | null }[];
  days: BackfillDay[];
}

export interface BackfillDeps {
  db: Db;
  pipelines: PipelineRegistry;
  processors: ProcessorRegistry;
  executions: Pick<ExecutionStore, 'requestCancel'>;
  settings: Pick<Settings, 'maxRangeDays' | 'sourceRoot' | 'env' | 'projectId'>;
  clock: Pick<Clock, 'now'>;
  logger: Logger;
  newId?: () => string;
}

export interface BackfillRow {
  org_slug: string;
  backfill_id: string;
  pipeline_id: string;
  provider: string;
  domain: string;
  pipeline: string;
  start_date: string;
  end_date: string;
  mode: BackfillMode;
  max_concurrent: number;
  parameters: Record<string, unknown>;
  status: BackfillStatus;
  created_by: string;
  created_at: Date;
  ended_at: Date | null;
  /** Why the last pass admitted fewer children than it had room for. */
  last_deferral: string | null;
  last_deferred_at: Date | null;
}

const BACKFILL_COLUMNS = `org_slug, backfill_id::text AS backfill_id, pipeline_id, provider, domain, pipeline, start_date::text AS start_date, end_date::text AS end_date,
  mode, max_concurrent, parameters, status, created_by, created_at, ended_at, last_deferral, last_deferred_at`;
const TERMINAL_RUN = `('completed', 'failed', 'cancelled')`;
/** A day joined with its child run, and its outcome (DayOutcome) from both. */
const DAYS_WITH_RUNS = 'backfill_days d LEFT JOIN pipeline_runs r ON r.org_slug = d.org_slug AND r.run_id = d.run_id';
const OUTCOME = `CASE d.status
    WHEN 'admitted' THEN CASE WHEN r.status IS NULL THEN 'failed' WHEN r.status IN ${TERMINAL_RUN} THEN r.status ELSE 'running' END
    WHEN 'refused' THEN 'failed'
    ELSE d.status END`;

/**
 * The child run of a day: a UUID (in the v5 layout) of the SHA-1 of backfill, day and attempt.
 * A pass admits a child and records it in one transaction; the id guards beyond that: every
 * process derives the same one, so a run admitted for a day but not recorded with it (a crash,
 * an older version) is found again by its id, and a second admission of it hits the primary key.
 */
export function childRunId(backfillId: string, day: string, attempt: number): string {
  const hash = createHash('sha1').update(`backfill:${backfillId}:${day}:${attempt}`).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Which days of the range get a child, in one statement. `missing`: no run of the pipeline (same
 * org and credential, any trigger) covering the day completed or is still under way. `failed`:
 * the latest run covering the day failed or was cancelled. `all`: every day. A run covers the
 * days from its start_date to its end_date, the partitions it replaces. The others are skipped
 * with the run that decided it.
 */
const INSERT_DAYS = `
  INSERT INTO backfill_days (org_slug, backfill_id, day, status, reason)
  SELECT $1, $2, g.day, CASE WHEN pick.reason IS NULL THEN 'pending' ELSE 'skipped' END, pick.reason
    FROM (SELECT $3::date + i AS day FROM generate_series(0, $4::date - $3::date) AS s(i)) g
    LEFT JOIN LATERAL (
      SELECT r.run_id, r.status FROM pipeline_runs r
       WHERE r.org_slug = $1 AND r.provider = $6 AND r.domain = $7 AND r.pipeline = $8 AND coalesce(r.parameters->>'credential_id', 'default') = $9
         AND (r.parameters->>'start_date')::date <= g.day AND (r.parameters->>'end_date')::date >= g.day
       ORDER BY r.created_at DESC, r.run_id DESC LIMIT 1) latest ON true
    LEFT JOIN LATERAL (
      SELECT r.run_id, r.status FROM pipeline_runs r
       WHERE r.org_slug = $1 AND r.provider = $6 AND r.domain = $7 AND r.pipeline = $8 AND coalesce(r.parameters->>'credential_id', 'default') = $9
         AND (r.parameters->>'start_date')::date <= g.day AND (r.parameters->>'end_date')::date >= g.day AND r.status NOT IN ('failed', 'cancelled')
       ORDER BY r.status = 'completed' DESC, r.created_at DESC, r.run_id DESC LIMIT 1) kept ON true
    CROSS JOIN LATERAL (SELECT CASE $5::text
      WHEN 'all' THEN NULL
      WHEN 'missing' THEN CASE WHEN kept.run_id IS NULL THEN NULL
        WHEN kept.status = 'completed' THEN 'completed by run ' || kept.run_id
        ELSE 'run ' || kept.run_id || ' is ' || kept.status END
      ELSE CASE WHEN latest.run_id IS NULL THEN 'never ran (mode missing runs it)'
        WHEN latest.status IN ('failed', 'cancelled') THEN NULL
        ELSE 'latest run ' || latest.run_id || ' ' || CASE WHEN latest.status = 'completed' THEN 'completed' ELSE 'is ' || latest.status END END
      END AS reason) pick
  RETURNING status`;

/**
 * Backfills: one child run per day of a range, admitted a few at a time through the same
 * validation and admission as any run (trigger `backfill`). The coordinator's `pass` does the
 * pacing; everything is in the control plane, so any process may carry a backfill on.
 */
export function backfillService(deps: BackfillDeps) {
  const coordinator = backfillCoordinator(deps);
  const newId = deps.newId ?? randomUUID;

  async function summaries(orgSlug: string, rows: BackfillRow[]): Promise<BackfillSummary[]> {
    if (rows.length === 0) return [];
    const counted = await deps.db.query<{ backfill_id: string; outcome: DayOutcome; n: number }>(
      `SELECT d.backfill_id::text AS backfill_id, ${OUTCOME} AS outcome, count(*)::int AS n FROM ${DAYS_WITH_RUNS}
        WHERE d.org_slug = $1 AND d.backfill_id = ANY($2::uuid[]) GROUP BY 1, 2`,
      [orgSlug, rows.map((row) => row.backfill_id)],
    );
    return rows.map((row) => present(row, counted.filter((c) => c.backfill_id === row.backfill_id)));
  }

  /** The backfill with its days; undefined for another org's, like a missing one. */
  async function get(orgSlug: string, backfillId: string): Promise<BackfillDetail | undefined> {
    if (!isUuid(backfillId)) return undefined;
    const [row] = await deps.db.query<BackfillRow>(`SELECT ${BACKFILL_COLUMNS} FROM backfills WHERE org_slug = $1 AND backfill_id = $2`, [orgSlug, backfillId]);
    if (!row) return undefined;
    const days = await deps.db.query<{ day: string; outcome: DayOutcome; run_id: string | null; reason: string | null; error_message: string | null; run_missing: boolean }>(
      `SELECT d.day::text AS day, ${OUTCOME} AS outcome, d.run_id::text AS run_id, d.reason, r.error_message, (d.run_id IS NOT NULL AND r.run_id IS NULL) AS run_missing
         FROM ${DAYS_WITH_RUNS} WHERE d.org_slug = $1 AND d.backfill_id = $2 ORDER BY d.day`,
      [orgSlug, backfillId],
    );
    const list: BackfillDay[] = days.map((d) => ({ day: d.day, status: d.outcome, run_id: d.run_id, reason: d.run_missing ? 'its run no longer exists' : (d.error_message ?? d.reason) }));
    const counts = DAY_OUTCOMES.map((outcome) => ({ backfill_id: backfillId, outcome, n: list.filter((d) => d.status === outcome).length }));
    return {
      ...present(row, counts),
      failed_days: list.filter((d) => d.status === 'failed').map((d) => ({ day: d.day, run_id: d.run_id, error_message: d.reason })),
      days: list,
    };
  }

  return {
    /** Creates a backfill and its days; every child's body is checked first, so a bad one stores nothing. */
    async create(input: NewBackfill): Promise<BackfillSummary> {
      const pipeline = deps.pipelines.get(input.route);
      if (!pipeline) throw new NotFoundError(`Pipeline not found: ${input.route}`);
      const mode = input.mode ?? 'missing';
      const maxConcurrent = input.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
      const parameters = input.parameters ?? {};
      checkRange(input.startDate, input.endDate);
      if (!BACKFILL_MODES.includes(mode)) throw new InputError(`mode must be one of ${BACKFILL_MODES.join(', ')}, got ${JSON.stringify(mode)}`, { field: 'mode' });
      if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1 || maxConcurrent > MAX_CONCURRENT_CHILDREN) {
        throw new InputError(`max_concurrent must be an integer from 1 to ${MAX_CONCURRENT_CHILDREN}, got ${JSON.stringify(maxConcurrent)}`, { field: 'max_concurrent' });
      }
      for (const reserved of ['date', 'start_date', 'end_date']) {
        if (reserved in parameters) throw new InputError(`parameters.${reserved}: each child runs one day of start_date..end_date; give the range as the backfill's start_date and end_date`, { field: `parameters.${reserved}` });
      }
      const backfillId = newId();
      const now = deps.clock.now();
      const [provider, domain, name] = input.route.split('/') as [string, string, string];
      // The children's bodies as they will be sent, before anything is stored: the first and the
      // last day's (the others differ only in their date).
      let credentialId = 'default';
      for (const day of [input.startDate, input.endDate]) {
        const resolved = resolveChild(pipeline, parameters, day, now);
        credentialId = resolved.credentialId;
        await admitSources(pipeline.parameters, resolved.parameters, { sourceRoot: deps.settings.sourceRoot, orgSlug: input.orgSlug });
        prepareRun(deps, pipeline, childRun(input.orgSlug, pipeline, { provider, domain, name }, resolved.parameters, childRunId(backfillId, day, 1), input.createdBy, now));
      }
      const statuses = await deps.db.transaction(async (tx) => {
        const inserted = await tx.query(
          `INSERT INTO backfills (org_slug, backfill_id, pipeline_id, provider, domain, pipeline, start_date, end_date, mode, max_concurrent, parameters, status, created_by, created_at, next_attempt_at)
           SELECT org_slug, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running', $12, $13, $13 FROM organizations WHERE org_slug = $1 RETURNING 1`,
          [input.orgSlug, backfillId, pipeline.pipeline_id, provider, domain, name, input.startDate, input.endDate, mode, maxConcurrent, JSON.stringify(parameters), input.createdBy, now],
        );
        if (inserted.length === 0) throw new NotFoundError(`Organization ${input.orgSlug} not found`);
        const days = await tx.query<{ status: string }>(INSERT_DAYS, [input.orgSlug, backfillId, input.startDate, input.endDate, mode, provider, domain, name, credentialId]);
        if (!days.some((day) => day.status === 'pending')) {
          await tx.query(`UPDATE backfills SET status = 'completed', ended_at = $3 WHERE org_slug = $1 AND backfill_id = $2`, [input.orgSlug, backfillId, now]);
        }
        return days;
      });
      deps.logger.info({ org_slug: input.orgSlug, backfill_id: backfillId, route: input.route, days: statuses.length, mode }, 'backfill created');
      const { days: _days, failed_days: _failed, ...summary } = (await get(input.orgSlug, backfillId)) as BackfillDetail;
      return summary;
    },

    get,

    /** The org's backfills, newest first. */
    async list(orgSlug: string, options: { limit: number; status?: BackfillStatus | undefined }): Promise<BackfillSummary[]> {
      const rows = await deps.db.query<BackfillRow>(
        `SELECT ${BACKFILL_COLUMNS} FROM backfills WHERE org_slug = $1 AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC, backfill_id DESC LIMIT $3`,
        [orgSlug, options.status ?? null, options.limit],
      );
      return summaries(orgSlug, rows);
    },

    /**
     * Stops admitting (its pending days become cancelled) and asks every child still under way to
     * cancel, through the runs' own cancel path. The backfill is `cancelled` once they have ended.
     */
    async cancel(orgSlug: string, backfillId: string, by: string): Promise<BackfillDetail> {
      if (!isUuid(backfillId)) throw new NotFoundError('Backfill not found');
      const now = deps.clock.now();
      const children = await deps.db.transaction(async (tx) => {
        // Waits for a pass holding it, so no child it admits is missed below.
        const [row] = await tx.query<{ status: BackfillStatus }>('SELECT status FROM backfills WHERE org_slug = $1 AND backfill_id = $2 FOR UPDATE', [orgSlug, backfillId]);
        if (!row) throw new NotFoundError('Backfill not found');
        if (row.status !== 'running' && row.status !== 'cancelling') return [];
        await tx.query(`UPDATE backfills SET status = 'cancelling', next_attempt_at = $3 WHERE org_slug = $1 AND backfill_id = $2`, [orgSlug, backfillId, now]);
        await tx.query(`UPDATE backfill_days SET status = 'cancelled', reason = $3 WHERE org_slug = $1 AND backfill_id = $2 AND status = 'pending'`, [orgSlug, backfillId, `backfill cancelled by ${by}`]);
        return tx.query<{ run_id: string }>(
          `SELECT d.run_id::text AS run_id FROM ${DAYS_WITH_RUNS} WHERE d.org_slug = $1 AND d.backfill_id = $2 AND d.status = 'admitted' AND r.status NOT IN ${TERMINAL_RUN}`,
          [orgSlug, backfillId],
        );
      });
      for (const { run_id } of children) await deps.executions.requestCancel(orgSlug, run_id, now, `backfill ${backfillId} cancelled by ${by}`);
      await coordinator.settle(orgSlug, backfillId, now);
      return (await get(orgSlug, backfillId)) as BackfillDetail;
    },

    pass: (now: Date) => coordinator.pass(now),
  };

  function resolveChild(pipeline: PipelineConfig, parameters: Record<string, unknown>, day: string, now: Date) {
    try {
      return resolveRunParameters(pipeline, { ...parameters, date: day }, isoDate(now), deps.settings.maxRangeDays);
    } catch (error) {
      // Every field of a child's body but its date is one of the backfill's parameters.
      if (error instanceof InputError && error.field) throw new InputError(error.message, { field: `parameters.${error.field}`, cause: error });
      throw error;
    }
  }
}

export type BackfillService = ReturnType<typeof backfillService>;

/**
 * The pacing of every active backfill, for the scheduler loop of each serve / worker process.
 * `pass(now)` takes the backfills due (FOR UPDATE SKIP LOCKED, each in a transaction of its
 * own, so processes calling it at once share them out and an org's subscription row is the
 * only other lock taken) and admits each one's next pending days, up to `max_concurrent`
 * children under way. Admission happens inside that transaction: a child's run and its
 * recording commit together. Returns how many children it admitted.
 */
export function backfillCoordinator(deps: BackfillDeps) {
  const log = deps.logger.child({ component: 'backfills' });

  /** One backfill locked by `tx`: admit what fits, record deferrals, end it when every day has. */
  async function advance(tx: Queryable, row: BackfillRow, now: Date): Promise<number> {
    const counts = Object.fromEntries(DAY_OUTCOMES.map((outcome) => [outcome, 0])) as Record<DayOutcome, number>;
    for (const c of await tx.query<{ outcome: DayOutcome; n: number }>(
      `SELECT ${OUTCOME} AS outcome, count(*)::int AS n FROM ${DAYS_WITH_RUNS} WHERE d.org_slug = $1 AND d.backfill_id = $2 GROUP BY 1`,
      [row.org_slug, row.backfill_id],
    )) counts[c.outcome] = c.n;

    let admitted = 0;
    let deferral: { reason: string; until: Date } | undefined;
    let room = row.status === 'running' ? Math.min(row.max_concurrent - counts.running, counts.pending) : 0;
    if (room > 0) {
      const lane = await laneRoom(tx, row.org_slug, now);
      if (lane.room < room) {
        room = Math.max(lane.room, 0);
        deferral = lane.deferral;
      }
    }
    if (room > 0) {
      const route = `${row.provider}/${row.domain}/${row.pipeline}`;
      const pipeline = deps.pipelines.get(route);
      const days = await tx.query<{ day: string; attempt: number }>(
        `SELECT day::text AS day, attempt FROM backfill_days WHERE org_slug = $1 AND backfill_id = $2 AND status = 'pending' ORDER BY day LIMIT $3`,
        [row.org_slug, row.backfill_id, room],
      );
      const ids = days.map((d) => childRunId(row.backfill_id, d.day, d.attempt));
      const existing = new Set((await tx.query<{ run_id: string }>('SELECT run_id::text AS run_id FROM pipeline_runs WHERE org_slug = $1 AND run_id = ANY($2::uuid[])', [row.org_slug, ids])).map((r) => r.run_id));
      for (const [i, { day }] of days.entries()) {
        const runId = ids[i] as string;
        const outcome = existing.has(runId) ? { kind: 'existing' as const } : await admitDay(tx, pipeline, route, row, day, runId, now);
        if (outcome.kind === 'deferred') {
          deferral = outcome;
          break;
        }
        if (outcome.kind === 'refused') {
          await tx.query(`UPDATE backfill_days SET status = 'refused', reason = $4 WHERE org_slug = $1 AND backfill_id = $2 AND day = $3`, [row.org_slug, row.backfill_id, day, outcome.reason]);
          counts.pending -= 1;
          counts.failed += 1;
          continue;
        }
        await tx.query(`UPDATE backfill_days SET status = 'admitted', run_id = $4, admitted_at = $5 WHERE org_slug = $1 AND backfill_id = $2 AND day = $3`, [row.org_slug, row.backfill_id, day, runId, now]);
        counts.pending -= 1;
        counts.running += 1;
        if (outcome.kind === 'admitted') admitted += 1;
      }
    }

    const ended = counts.pending === 0 && counts.running === 0;
    const status: BackfillStatus = !ended ? row.status : row.status === 'cancelling' ? 'cancelled' : counts.failed + counts.cancelled > 0 ? 'completed_with_failures' : 'completed';
    await tx.query(
      `UPDATE backfills SET status = $3, ended_at = $4, next_attempt_at = $5,
              last_deferral = coalesce($6, last_deferral), last_deferred_at = CASE WHEN $6::text IS NULL THEN last_deferred_at ELSE $7 END
        WHERE org_slug = $1 AND backfill_id = $2`,
      [row.org_slug, row.backfill_id, status, ended ? now : null, deferral?.until ?? now, deferral?.reason ?? null, now],
    );
    if (ended) log.info({ org_slug: row.org_slug, backfill_id: row.backfill_id, status, counts }, 'backfill ended');
    else if (deferral && admitted === 0) log.debug({ org_slug: row.org_slug, backfill_id: row.backfill_id, reason: deferral.reason }, 'backfill deferred');
    return admitted;
  }

  /**
   * A day's child through the run requests' own checks (parameters, sources, step templates),
   * then admitRun on the pass's transaction. A savepoint keeps a refused statement from
   * aborting the transaction; a primary-key conflict is a child admitted before.
   */
  async function admitDay(tx: Queryable, pipeline: PipelineConfig | undefined, route: string, row: BackfillRow, day: string, runId: string, now: Date):
    Promise<{ kind: 'admitted' | 'existing' } | { kind: 'refused'; reason: string } | { kind: 'deferred'; reason: string; until: Date }> {
    if (!pipeline) return { kind: 'refused', reason: `Pipeline not found: ${route}` };
    await tx.query('SAVEPOINT backfill_child');
    try {
      const resolved = resolveRunParameters(pipeline, { ...row.parameters, date: day }, isoDate(now), deps.settings.maxRangeDays);
      await admitSources(pipeline.parameters, resolved.parameters, { sourceRoot: deps.settings.sourceRoot, orgSlug: row.org_slug });
      const run = childRun(row.org_slug, pipeline, { provider: row.provider, domain: row.domain, name: row.pipeline }, resolved.parameters, runId, `${row.created_by} (backfill ${row.backfill_id})`, now);
      const { credentialProviders } = prepareRun(deps, pipeline, run);
      await admitRun(inTransaction(tx, deps.db.kind), { ...run, credential_providers: credentialProviders });
      await tx.query('RELEASE SAVEPOINT backfill_child');
      return { kind: 'admitted' };
    } catch (error) {
      // An AppError was raised by our own checks, after no failed statement: what admitRun's
      // refusal repaired (a drifted slot counter) is kept.
      await tx.query(error instanceof AppError ? 'RELEASE SAVEPOINT backfill_child' : 'ROLLBACK TO SAVEPOINT backfill_child');
      if ((error as { code?: string }).code === '23505') return { kind: 'existing' };
      if (error instanceof QuotaExceededError) {
        const wait = error.limit === 'concurrent' ? 0 : Math.min(error.retryAfterSeconds, QUOTA_RECHECK_SECONDS);
        return { kind: 'deferred', reason: error.message, until: new Date(now.getTime() + wait * 1000) };
      }
      if (error instanceof NotAllowedError) return { kind: 'deferred', reason: error.message, until: new Date(now.getTime() + QUOTA_RECHECK_SECONDS * 1000) };
      if (error instanceof InputError || error instanceof NotFoundError) return { kind: 'refused', reason: error.message };
      throw error;
    }
  }

  /** Locks one backfill (waiting for a pass holding it) and advances it: the end of a cancel. */
  async function settle(orgSlug: string, backfillId: string, now: Date): Promise<void> {
    await deps.db.transaction(async (tx) => {
      const [row] = await tx.query<BackfillRow>(`SELECT ${BACKFILL_COLUMNS} FROM backfills WHERE org_slug = $1 AND backfill_id = $2 AND status IN ('running', 'cancelling') FOR UPDATE`, [orgSlug, backfillId]);
      if (row) await advance(tx, row, now);
    });
  }

  return {
    settle,
    async pass(now: Date): Promise<number> {
      const seen: string[] = [];
      let admitted = 0;
      while (seen.length < PASS_BATCH) {
        let claimed: string | undefined;
        try {
          admitted += await deps.db.transaction(async (tx) => {
            const [row] = await tx.query<BackfillRow>(
              `SELECT ${BACKFILL_COLUMNS} FROM backfills
                WHERE status IN ('running', 'cancelling') AND next_attempt_at <= $1 AND NOT (backfill_id = ANY($2::uuid[]))
                ORDER BY next_attempt_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
              [now, seen],
            );
            if (!row) return 0;
            claimed = row.backfill_id;
            return advance(tx, row, now);
          });
        } catch (error) {
          // One backfill's failure (its transaction rolled back) does not stop the others.
          if (!claimed) throw error;
          log.error({ err: error, backfill_id: claimed }, 'backfill pass failed');
        }
        if (!claimed) break;
        seen.push(claimed);
      }
      return admitted;
    },
  };
}

/**
 * The org's room for backfill children: backfills run in a lane of their own, leaving one
 * concurrent slot and a tenth of the daily and monthly quota to the org's scheduled and ad-hoc
 * runs (on a plan of one slot, or of one run, there is nothing to leave: the limit itself is
 * then the only bound, and admitRun refuses past it). admitRun stays the authority on quotas.
 */
async function laneRoom(tx: Queryable, orgSlug: string, now: Date): Promise<{ room: number; deferral?: { reason: string; until: Date } }> {
  const day = isoDate(now);
  const [sub] = await tx.query<{ concurrent_limit: number; running_count: number; daily_limit: number; runs_today: number; monthly_limit: number; runs_this_month: number }>(
    `SELECT concurrent_limit, running_count, daily_limit, monthly_limit,
            CASE WHEN quota_day = $2::date THEN runs_today ELSE 0 END AS runs_today,
            CASE WHEN quota_month = $3::date THEN runs_this_month ELSE 0 END AS runs_this_month
       FROM subscriptions WHERE org_slug = $1`,
    [orgSlug, day, `${day.slice(0, 7)}-01`],
  );
  if (!sub) return { room: Number.POSITIVE_INFINITY };
  const later = new Date(now.getTime() + QUOTA_RECHECK_SECONDS * 1000);
  const lanes: { room: number; until: Date; reason: string }[] = [];
  if (sub.concurrent_limit >= 2) {
    lanes.push({ room: sub.concurrent_limit - 1 - sub.running_count, until: now, reason: `backfills use at most ${sub.concurrent_limit - 1} of the org's ${sub.concurrent_limit} concurrent slots, one is kept for its other runs` });
  }
  for (const [limit, used, per] of [[sub.daily_limit, sub.runs_today, 'a day'], [sub.monthly_limit, sub.runs_this_month, 'a month']] as const) {
    const kept = share(limit);
    if (kept > 0) lanes.push({ room: limit - kept - used, until: later, reason: `backfills use at most ${limit - kept} of the org's ${limit} runs ${per}, ${kept} are kept for its other runs` });
  }
  const tightest = lanes.reduce<(typeof lanes)[number] | undefined>((a, b) => (a === undefined || b.room < a.room ? b : a), undefined);
  if (!tightest) return { room: Number.POSITIVE_INFINITY };
  return { room: tightest.room, deferral: { reason: `Backfill lane full: ${tightest.reason}`, until: tightest.until } };
}

/** The part of a quota a backfill leaves to the org's other runs. */
const share = (limit: number) => (limit >= 2 ? Math.ceil(limit / 10) : 0);

/** A Db on a transaction: admitRun's statements, and its own "transaction", join the pass's. */
function inTransaction(tx: Queryable, kind: Db['kind']): Db {
  const refuse = () => Promise.reject(new Error('not available inside a backfill pass'));
  return { kind, query: (sql, params) => tx.query(sql, params), transaction: (fn) => fn(tx), exec: refuse, listen: refuse, close: refuse };
}

function childRun(orgSlug: string, pipeline: PipelineConfig, route: { provider: string; domain: string; name: string }, parameters: Record<string, unknown>, runId: string, createdBy: string, now: Date): NewRun {
  return { org_slug: orgSlug, run_id: runId, pipeline_id: pipeline.pipeline_id, provider: route.provider, domain: route.domain, pipeline: route.name, parameters, trigger: 'backfill', created_by: createdBy, created_at: now };
}

function checkRange(start: string, end: string): void {
  for (const [field, value] of Object.entries({ start_date: start, end_date: end })) {
    if (!isIsoDate(value)) throw new InputError(`${field} must be a date as YYYY-MM-DD, got ${JSON.stringify(value)}`, { field });
  }
  if (start > end) throw new InputError(`start_date ${start} is after end_date ${end}`, { field: 'start_date' });
  if (addDays(start, MAX_BACKFILL_DAYS - 1) < end) throw new InputError(`a backfill is at most ${MAX_BACKFILL_DAYS} days; ${start}..${end} is longer`, { field: 'end_date' });
}

function present(row: BackfillRow, counted: { outcome: DayOutcome; n: number }[]): BackfillSummary {
  const counts = Object.fromEntries(DAY_OUTCOMES.map((outcome) => [outcome, counted.filter((c) => c.outcome === outcome).reduce((sum, c) => sum + c.n, 0)])) as Record<DayOutcome, number>;
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const done = total - counts.pending - counts.running;
  const { provider, domain, pipeline, ...rest } = row;
  return {
    ...rest,
    route: `${provider}/${domain}/${pipeline}`,
    total_days: total,
    counts,
    progress: { done, total, percent: total === 0 ? 100 : Math.floor((done * 100) / total) },
  };
}
