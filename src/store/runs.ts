import { isUuid } from '../shared/ids.ts';
import type { QualityResult } from '../shared/quality.ts';
import type { Db, Queryable } from './db.ts';

export type RunStatus = 'pending' | 'validating' | 'running' | 'completed' | 'failed' | 'cancelled';
export type StepStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled';
export const TERMINAL_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

export interface NewRun {
  org_slug: string;
  run_id: string;
  pipeline_id: string;
  provider: string;
  domain: string;
  pipeline: string;
  parameters: Record<string, unknown>;
  trigger: 'api' | 'cli' | 'schedule' | 'backfill';
  created_by: string;
  created_at: Date;
  /** Providers whose credentials the run's steps need, checked while it is validating. */
  credential_providers?: string[];
}

export interface Run extends NewRun {
  status: RunStatus;
  started_at: Date | null;
  ended_at: Date | null;
  duration_ms: number | null;
  records_processed: number;
  error_message: string | null;
  cancel_requested: boolean;
}

export interface StepRun {
  step_id: string;
  ps_type: string;
  position: number;
  status: StepStatus;
  attempts: number;
  started_at: Date | null;
  ended_at: Date | null;
  duration_ms: number | null;
  records_processed: number;
  error_message: string | null;
  result: Record<string, unknown> | null;
}

export interface Transition {
  from_status: RunStatus | null;
  to_status: RunStatus;
  at: Date;
  reason: string;
}

export interface LogLine {
  id: number;
  at: Date;
  level: string;
  step_id: string | null;
  message: string;
  fields: Record<string, unknown> | null;
}

export interface RunFilter {
  provider?: string;
  domain?: string;
  pipeline?: string;
  status?: RunStatus;
  trigger?: NewRun['trigger'];
  /** Created on or after this day, and on or before that one (UTC, YYYY-MM-DD). */
  from?: string;
  to?: string;
  limit: number;
  /** Runs created strictly before this (created_at, run_id) position: the cursor of the previous page. */
  before?: { created_at: Date; run_id: string };
}

const COLUMNS = ['org_slug', 'run_id', 'pipeline_id', 'provider', 'domain', 'pipeline', 'status', 'parameters', 'trigger', 'created_by', 'created_at',
  'started_at', 'ended_at', 'duration_ms', 'records_processed', 'error_message', 'cancel_requested', 'credential_providers'];

/** The columns of a `Run`, read from the table (or CTE) named `alias`. */
export const RUN_COLUMNS_OF = (alias: string) => COLUMNS.map((column) => (column === 'run_id' ? `${alias}.run_id::text AS run_id` : `${alias}.${column}`)).join(', ');
const RUN_COLUMNS = RUN_COLUMNS_OF('pipeline_runs');

export async function insertTransition(tx: Queryable, orgSlug: string, runId: string, from: RunStatus | null, to: RunStatus, at: Date, reason: string): Promise<void> {
  await tx.query('INSERT INTO run_transitions (org_slug, run_id, from_status, to_status, at, reason) VALUES ($1, $2, $3, $4, $5, $6)', [orgSlug, runId, from, to, at, reason]);
}

/** Reads of a run's trace. Every query is scoped by org first: there is no cross-tenant read. */
export function runStore(db: Db) {
  return {
    async get(orgSlug: string, runId: string): Promise<Run | undefined> {
      if (!isUuid(runId)) return undefined;
      const [run] = await db.query<Run>(`SELECT ${RUN_COLUMNS} FROM pipeline_runs WHERE org_slug = $1 AND run_id = $2`, [orgSlug, runId]);
      return run;
    },

    async list(orgSlug: string, filter: RunFilter): Promise<Run[]> {
      const where = ['org_slug = $1'];
      const params: unknown[] = [orgSlug];
      const add = (sql: string, value: unknown) => {
        params.push(value);
        where.push(sql.replace('?', `$${params.length}`));
      };
      if (filter.provider) add('provider = ?', filter.provider);
      if (filter.domain) add('domain = ?', filter.domain);
      if (filter.pipeline) add('pipeline = ?', filter.pipeline);
      if (filter.status) add('status = ?', filter.status);
      if (filter.trigger) add('trigger = ?', filter.trigger);
      if (filter.from) add('created_at >= ?', new Date(`${filter.from}T00:00:00Z`));
      if (filter.to) add('created_at < ?', new Date(Date.parse(`${filter.to}T00:00:00Z`) + 86_400_000));
      if (filter.before) {
        params.push(filter.before.created_at, filter.before.run_id);
        where.push(`(created_at, run_id) < ($${params.length - 1}, $${params.length})`);
      }
      params.push(filter.limit);
      return db.query<Run>(`SELECT ${RUN_COLUMNS} FROM pipeline_runs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, run_id DESC LIMIT $${params.length}`, params);
    },

    async steps(orgSlug: string, runId: string): Promise<StepRun[]> {
      return db.query<StepRun>(
        `SELECT step_id, ps_type, position, status, attempts, started_at, ended_at, duration_ms, records_processed, error_message, result
           FROM step_runs WHERE org_slug = $1 AND run_id = $2 ORDER BY position`,
        [orgSlug, runId],
      );
    },

    async transitions(orgSlug: string, runId: string): Promise<Transition[]> {
      return db.query<Transition>('SELECT from_status, to_status, at, reason FROM run_transitions WHERE org_slug = $1 AND run_id = $2 ORDER BY id', [orgSlug, runId]);
    },

    async quality(orgSlug: string, runId: string, status?: string): Promise<(QualityResult & { step_id: string })[]> {
      return db.query(
        `SELECT step_id, check_kind, rule_id, level, status, description, failing_rows, details FROM run_quality_results
          WHERE org_slug = $1 AND run_id = $2 AND ($3::text IS NULL OR status = $3) ORDER BY id`,
        [orgSlug, runId, status ?? null],
      );
    },

    async logs(orgSlug: string, runId: string, options: { afterId?: number; limit?: number } = {}): Promise<LogLine[]> {
      return db.query<LogLine>(
        `SELECT id, at, level, step_id, message, fields FROM run_logs
          WHERE org_slug = $1 AND run_id = $2 AND id > $3 ORDER BY id LIMIT $4`,
        [orgSlug, runId, options.afterId ?? 0, options.limit ?? 10_000],
      );
    },
  };
}

export type RunStore = ReturnType<typeof runStore>;
