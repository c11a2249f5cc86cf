import type { AlertRule, RuleDefinition } from '../alerts/rule-spec.ts';
import { ConflictError, NotFoundError } from '../shared/errors.ts';
import type { Db, Queryable } from './db.ts';

export type AlertStatus = 'open' | 'resolved';
export type AlertBasis = 'actual' | 'forecast';
export type Resolution = 'cleared' | 'period_ended' | 'rule_changed' | 'rule_disabled';

/** An alert row; days are `YYYY-MM-DD`. */
export interface StoredAlert {
  org_slug: string;
  alert_id: string;
  rule_id: string;
  group_key: string;
  basis: AlertBasis;
  period_start: string;
  period_end: string;
  status: AlertStatus;
  level: number;
  resolved_day: string | null;
  resolution: Resolution | null;
  details: Record<string, unknown>;
  opened_at: Date;
  updated_at: Date;
  resolved_at: Date | null;
}

/** An alert as listed: with its rule's name and kind. */
export interface AlertView extends StoredAlert {
  rule_name: string;
  rule_kind: string;
}

/** What an evaluation writes for one alert: the row's new state, and the outbox event that tells of it (if any). */
export interface AlertWrite {
  alert: Omit<StoredAlert, 'org_slug' | 'opened_at' | 'updated_at' | 'resolved_at'>;
  isNew: boolean;
  event?: { kind: 'cost_alert' | 'cost_alert_resolved'; severity: 'WARNING' | 'INFO'; provider: string | null; payload: Record<string, unknown> };
}

/** A load that is queued or running (or a backfill under way): the charge days it covers are being restated. */
export interface LoadInFlight {
  pipeline_id: string;
  credential_id: string;
  first_day: string;
  last_day: string;
}

const RULE_COLUMNS = 'org_slug, rule_id::text AS rule_id, name, kind, is_enabled, currency, cost_column, scope, group_by, params, created_at, updated_at';
const alertColumns = (a: string) => `${a}.org_slug, ${a}.alert_id::text AS alert_id, ${a}.rule_id::text AS rule_id, ${a}.group_key, ${a}.basis,
  ${a}.period_start::text AS period_start, ${a}.period_end::text AS period_end, ${a}.status, ${a}.level, ${a}.resolved_day::text AS resolved_day,
  ${a}.resolution, ${a}.details, ${a}.opened_at, ${a}.updated_at, ${a}.resolved_at`;

/**
 * What an evaluation reads: every open alert, and the others whose period or clearing day
 * reaches into the judged window (they cover its days; a budget's covers its month).
 */
const STATE = `SELECT ${alertColumns('a')} FROM cost_alerts a
  WHERE a.org_slug = $1 AND (a.status = 'open' OR a.period_end >= $2::date OR a.resolved_day >= $2::date)
  ORDER BY a.rule_id, a.group_key, a.basis, a.period_start`;

// The candidates are read without locks; the upsert's WHERE is judged again on the row as it
// is when the write gets its lock, so of two processes taking the same org one wins. $1 is the
// day of a daily pass, or null outside its hours.
const EVALUATION_DUE = `(p.lease_until IS NULL OR p.lease_until < now())
  AND (p.due_at <= now() OR ($1::date IS NOT NULL AND (p.passed_on IS NULL OR p.passed_on < $1::date)))`;
const TAKE_DUE_EVALUATIONS = `
  WITH due AS (
    SELECT r.org_slug FROM (SELECT DISTINCT org_slug FROM cost_alert_rules WHERE is_enabled) r
    LEFT JOIN cost_alert_passes p ON p.org_slug = r.org_slug
    WHERE ${EVALUATION_DUE}
    ORDER BY p.due_at NULLS LAST, r.org_slug LIMIT $2)
  INSERT INTO cost_alert_passes AS p (org_slug, lease_until)
  SELECT org_slug, now() + $3 * interval '1 millisecond' FROM due
  ON CONFLICT (org_slug) DO UPDATE SET lease_until = excluded.lease_until WHERE ${EVALUATION_DUE}
  RETURNING p.org_slug, p.due_at::text AS due_at`;

export interface CostAlertStore {
  createRule(orgSlug: string, rule: RuleDefinition): Promise<AlertRule>;
  /** Replaces a rule's definition; its open alerts end (without an event) when what it measures changed or it was disabled. */
  updateRule(orgSlug: string, ruleId: string, rule: RuleDefinition, endOpen: Resolution | undefined): Promise<AlertRule>;
  deleteRule(orgSlug: string, ruleId: string): Promise<void>;
  getRule(orgSlug: string, ruleId: string): Promise<AlertRule | undefined>;
  listRules(orgSlug: string, options?: { enabledOnly?: boolean }): Promise<AlertRule[]>;
  /** Open alerts first, then the others, most recently changed first. */
  listAlerts(orgSlug: string, options: { status?: AlertStatus | undefined; ruleId?: string | undefined; limit: number }): Promise<AlertView[]>;
  /** The alert state an evaluation starts from (see STATE). */
  alertState(orgSlug: string, since: string): Promise<StoredAlert[]>;
  loadsInFlight(orgSlug: string): Promise<LoadInFlight[]>;
  /**
   * Writes an evaluation's alert changes and their outbox events in one transaction, if the
   * org's alert state is still the one the evaluation started from (`expected`, from
   * stateFingerprint); false when another evaluation changed it first: nothing is written.
   */
  applyEvaluation(orgSlug: string, since: string, expected: string, writes: AlertWrite[], now: Date): Promise<boolean>;
  /** The org is due an evaluation `afterMs` from now (database clock), or later if it already was. */
  evaluationDue(orgSlug: string, afterMs: number): Promise<void>;
  /**
   * Takes up to `limit` orgs with an enabled rule, not leased to another process, whose
   * evaluation is due (due_at passed) or, with `day` (UTC), whose daily pass for that day is not
   * done; leases each for `leaseMs` on the database clock. Exactly-once between processes: an
   * org taken by one is not returned to another until its lease ends.
   */
  takeDueEvaluations(day: string | undefined, leaseMs: number, limit: number): Promise<DueEvaluation[]>;
  /** A taken evaluation is done: its lease ends, the due time it answered is cleared (unless a later load moved it), and `day`'s pass is recorded. */
  evaluationDone(taken: DueEvaluation, day: string | undefined): Promise<void>;
}

export interface DueEvaluation {
  org_slug: string;
  /** As PostgreSQL prints it: a Date would lose its microseconds, and no longer match. */
  due_at: string | null;
}

/** The identity of an alert state: any write by another evaluation changes it. */
export function stateFingerprint(alerts: StoredAlert[]): string {
  return JSON.stringify(alerts.map((a) => [a.alert_id, a.status, a.level, a.period_end, a.resolved_day, a.updated_at.getTime()]));
}

export function costAlertStore(db: Db): CostAlertStore {
  const getRule = async (q: Queryable, orgSlug: string, ruleId: string) =>
    (await q.query<AlertRule>(`SELECT ${RULE_COLUMNS} FROM cost_alert_rules WHERE org_slug = $1 AND rule_id = $2::uuid`, [orgSlug, ruleId]))[0];

  return {
    async createRule(orgSlug, rule) {
      try {
        const [created] = await db.query<AlertRule>(
          `INSERT INTO cost_alert_rules (org_slug, name, kind, is_enabled, currency, cost_column, scope, group_by, params)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb) RETURNING ${RULE_COLUMNS}`,
          [orgSlug, rule.name, rule.kind, rule.is_enabled, rule.currency, rule.cost_column, JSON.stringify(rule.scope), rule.group_by, JSON.stringify(rule.params)],
        );
        return created as AlertRule;
      } catch (error) {
        throw duplicateName(error, rule.name);
      }
    },

    async updateRule(orgSlug, ruleId, rule, endOpen) {
      try {
        return await db.transaction(async (tx) => {
          const [updated] = await tx.query<AlertRule>(
            `UPDATE cost_alert_rules SET name = $3, kind = $4, is_enabled = $5, currency = $6, cost_column = $7, scope = $8::jsonb, group_by = $9, params = $10::jsonb, updated_at = now()
              WHERE org_slug = $1 AND rule_id = $2::uuid RETURNING ${RULE_COLUMNS}`,
            [orgSlug, ruleId, rule.name, rule.kind, rule.is_enabled, rule.currency, rule.cost_column, JSON.stringify(rule.scope), rule.group_by, JSON.stringify(rule.params)],
          );
          if (!updated) throw new NotFoundError('Cost rule not found');
          if (endOpen) {
            await tx.query(
              `UPDATE cost_alerts SET status = 'resolved', resolution = $3, resolved_at = now(), updated_at = now() WHERE org_slug = $1 AND rule_id = $2::uuid AND status = 'open'`,
              [orgSlug, ruleId, endOpen],
            );
          }
          return updated;
        });
      } catch (error) {
        throw duplicateName(error, rule.name);
      }
    },

    async deleteRule(orgSlug, ruleId) {
      const deleted = await db.query('DELETE FROM cost_alert_rules WHERE org_slug = $1 AND rule_id = $2::uuid RETURNING rule_id', [orgSlug, ruleId]);
      if (deleted.length === 0) throw new NotFoundError('Cost rule not found');
    },

    getRule: (orgSlug, ruleId) => getRule(db, orgSlug, ruleId),

    listRules: (orgSlug, options = {}) =>
      db.query<AlertRule>(`SELECT ${RULE_COLUMNS} FROM cost_alert_rules WHERE org_slug = $1 ${options.enabledOnly ? 'AND is_enabled' : ''} ORDER BY created_at, rule_id`, [orgSlug]),

    listAlerts: (orgSlug, options) =>
      db.query<AlertView>(
        `SELECT ${alertColumns('a')}, r.name AS rule_name, r.kind AS rule_kind
           FROM cost_alerts a JOIN cost_alert_rules r ON r.org_slug = a.org_slug AND r.rule_id = a.rule_id
          WHERE a.org_slug = $1 AND ($2::text IS NULL OR a.status = $2) AND ($3::uuid IS NULL OR a.rule_id = $3::uuid)
          ORDER BY a.status = 'open' DESC, a.updated_at DESC, a.alert_id LIMIT $4`,
        [orgSlug, options.status ?? null, options.ruleId ?? null, options.limit],
      ),

    alertState: (orgSlug, since) => db.query<StoredAlert>(STATE, [orgSlug, since]),

    loadsInFlight: (orgSlug) =>
      db.query<LoadInFlight>(
        // Runs hold a slot from admission to their end (pipeline_runs_slots); a backfill's days not
        // yet admitted are covered by the backfill itself.
        `SELECT pipeline_id, coalesce(parameters->>'credential_id', 'default') AS credential_id, parameters->>'start_date' AS first_day, parameters->>'end_date' AS last_day
           FROM pipeline_runs WHERE org_slug = $1 AND holds_slot AND status IN ('pending', 'validating', 'running') AND parameters ? 'start_date' AND parameters ? 'end_date'
         UNION ALL
         SELECT pipeline_id, coalesce(parameters->>'credential_id', 'default'), start_date::text, end_date::text
           FROM backfills WHERE org_slug = $1 AND status IN ('running', 'cancelling')`,
        [orgSlug],
      ),

    async applyEvaluation(orgSlug, since, expected, writes, now) {
      return db.transaction(async (tx) => {
        // One evaluation of an org at a time from here to the commit: the post-load one and the
        // daily one may meet.
        await tx.query("SELECT pg_advisory_xact_lock(hashtext('cost_alerts'), hashtext($1))", [orgSlug]);
        if (stateFingerprint(await tx.query<StoredAlert>(STATE, [orgSlug, since])) !== expected) return false;
        const rows = (isNew: boolean) => JSON.stringify(writes.filter((w) => w.isNew === isNew).map((w) => w.alert));
        // Existing alerts first: one that resolves frees its group for a new open alert below.
        await tx.query(
          `UPDATE cost_alerts c SET period_end = a.period_end, status = a.status, level = a.level, resolved_day = a.resolved_day, resolution = a.resolution, details = a.details,
                  updated_at = $2, resolved_at = CASE WHEN a.status = 'resolved' THEN coalesce(c.resolved_at, $2) END
             FROM jsonb_to_recordset($3::jsonb) AS a(alert_id uuid, period_end date, status text, level int, resolved_day date, resolution text, details jsonb)
            WHERE c.org_slug = $1 AND c.alert_id = a.alert_id`,
          [orgSlug, now, rows(false)],
        );
        await tx.query(
          `INSERT INTO cost_alerts (org_slug, alert_id, rule_id, group_key, basis, period_start, period_end, status, level, resolved_day, resolution, details, opened_at, updated_at, resolved_at)
           SELECT $1, a.alert_id, a.rule_id, a.group_key, a.basis, a.period_start, a.period_end, a.status, a.level, a.resolved_day, a.resolution, a.details, $2, $2, CASE WHEN a.status = 'resolved' THEN $2::timestamptz END
             FROM jsonb_to_recordset($3::jsonb) AS a(alert_id uuid, rule_id uuid, group_key text, basis text, period_start date, period_end date, status text, level int, resolved_day date, resolution text, details jsonb)`,
          [orgSlug, now, rows(true)],
        );
        const events = writes.flatMap((w) => (w.event ? [w.event] : []));
        if (events.length > 0) {
          await tx.query(
            `INSERT INTO notification_events (org_slug, kind, severity, provider, payload)
             SELECT $1, e.kind, e.severity, e.provider, e.payload FROM jsonb_to_recordset($2::jsonb) AS e(kind text, severity text, provider text, payload jsonb)`,
            [orgSlug, JSON.stringify(events)],
          );
        }
        return true;
      });
    },

    async evaluationDue(orgSlug, afterMs) {
      await db.query(
        `INSERT INTO cost_alert_passes AS p (org_slug, due_at) VALUES ($1, now() + $2 * interval '1 millisecond')
         ON CONFLICT (org_slug) DO UPDATE SET due_at = GREATEST(p.due_at, excluded.due_at)`,
        [orgSlug, afterMs],
      );
    },

    takeDueEvaluations: (day, leaseMs, limit) => db.query<DueEvaluation>(TAKE_DUE_EVALUATIONS, [day ?? null, limit, leaseMs]),

    async evaluationDone(taken, day) {
      await db.query(
        `UPDATE cost_alert_passes SET lease_until = NULL, passed_on = COALESCE($2::date, passed_on),
                due_at = CASE WHEN due_at IS NOT DISTINCT FROM $3::timestamptz THEN NULL ELSE due_at END
          WHERE org_slug = $1`,
        [taken.org_slug, day ?? null, taken.due_at],
      );
    },
  };
}

function duplicateName(error: unknown, name: string): unknown {
  return (error as { code?: string }).code === '23505' ? new ConflictError(`A cost rule named "${name}" already exists`, { cause: error }) : error;
}
