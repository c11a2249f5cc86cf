import { FOCUS_TABLE } from '../focus/export-focus.ts';
import type { Clock } from '../shared/clock.ts';
import { errorMessage, NotFoundError, UnavailableError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { costAlertStore, type AlertStatus, type AlertView, type Resolution } from '../store/cost-alerts.ts';
import type { Db } from '../store/db.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';
import { closedDayPolicy, type ClosedDayPolicy } from './closed-days.ts';
import { evaluateAlerts, type EvaluationResult } from './evaluate-alerts.ts';
import { checkRule, type AlertRule, type RuleDefinition } from './rule-spec.ts';

export interface CostAlertsDeps {
  db: Db;
  /** Absent in a process that does not open the warehouse: rules and alerts are read, nothing is evaluated. */
  warehouse: Warehouse | undefined;
  env: string;
  clock: Clock;
  logger: Logger;
  policy?: Partial<ClosedDayPolicy>;
}

export interface DailyPassResult {
  orgs: number;
  events: number;
  failed: { org_slug: string; error: string }[];
}

/** An org's cost rules and alerts, as the API and the CLI use them, and their evaluation. */
export interface CostAlerts {
  listRules(orgSlug: string): Promise<AlertRule[]>;
  getRule(orgSlug: string, ruleId: string): Promise<AlertRule>;
  /** A rule body as POST takes it (src/alerts/rule-spec.ts checkRule); InputError naming the field. */
  createRule(orgSlug: string, body: unknown): Promise<AlertRule>;
  /** `replace`: the body is the whole rule (PUT); else the fields given change (PATCH). */
  updateRule(orgSlug: string, ruleId: string, body: unknown, mode: 'replace' | 'merge'): Promise<AlertRule>;
  deleteRule(orgSlug: string, ruleId: string): Promise<void>;
  listAlerts(orgSlug: string, options?: { status?: AlertStatus | undefined; ruleId?: string | undefined; limit?: number | undefined }): Promise<AlertView[]>;
  /** evaluateAlerts for one org now, on demand. */
  evaluate(orgSlug: string): Promise<EvaluationResult>;
  /**
   * After a load that wrote FOCUS rows: evaluates now, and marks the org due again once the
   * load has settled (the days it wrote are closed only then; evaluateDue answers that).
   */
  afterLoad(orgSlug: string): Promise<EvaluationResult>;
  /**
   * The evaluations due, one org after the other until none is left or `stopped()`: the orgs
   * whose last load has settled, and, with `dailyPass`, every org with an enabled rule not yet
   * evaluated by today's (UTC) pass. Each is taken under a lease, so processes share them. An org
   * that fails is logged and reported, the others go on; once its lease runs out it is taken again.
   */
  evaluateDue(options?: { dailyPass?: boolean; stopped?: () => boolean }): Promise<DailyPassResult>;
}

/** Whether a run's written tables (its steps' `result.tables`, `dataset.table`) include FOCUS rows: then the org's alerts are due an evaluation. */
export function wroteFocusRows(tables: readonly string[]): boolean {
  return tables.some((table) => table === FOCUS_TABLE || table.endsWith(`.${FOCUS_TABLE}`));
}

/** An org's taken evaluation is its process's for this long (one takes well under a minute). */
const PASS_LEASE_MS = 10 * 60_000;
/** Orgs taken at a time: a process that stops leaves at most these to their leases. */
const PASS_BATCH = 10;

export function costAlerts(deps: CostAlertsDeps): CostAlerts {
  const store = costAlertStore(deps.db);
  const rule = async (orgSlug: string, ruleId: string) => {
    // Another org's rule and one that never existed look the same.
    const found = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ruleId) ? await store.getRule(orgSlug, ruleId) : undefined;
    if (!found) throw new NotFoundError('Cost rule not found');
    return found;
  };
  const evaluate = (orgSlug: string) => {
    if (!deps.warehouse) throw new UnavailableError('This process does not open the warehouse, so it cannot evaluate cost alerts; the process that executes runs does');
    return evaluateAlerts({ warehouse: deps.warehouse, db: deps.db, orgSlug, env: deps.env, now: deps.clock.now(), logger: deps.logger, ...(deps.policy ? { policy: deps.policy } : {}) });
  };

  return {
    listRules: (orgSlug) => store.listRules(orgSlug),
    getRule: rule,
    createRule: (orgSlug, body) => store.createRule(orgSlug, checkRule(body)),

    async updateRule(orgSlug, ruleId, body, mode) {
      const existing = await rule(orgSlug, ruleId);
      const next = mode === 'merge' ? checkRule(body, existing) : checkRule(body);
      return store.updateRule(orgSlug, ruleId, next, endsOpenAlerts(existing, next));
    },

    deleteRule: async (orgSlug, ruleId) => store.deleteRule(orgSlug, (await rule(orgSlug, ruleId)).rule_id),
    listAlerts: (orgSlug, options = {}) => store.listAlerts(orgSlug, { status: options.status, ruleId: options.ruleId, limit: options.limit ?? 100 }),
    evaluate,

    async afterLoad(orgSlug) {
      // A minute past the settling time: the load's own timestamps are the worker's clock.
      await store.evaluationDue(orgSlug, closedDayPolicy(deps.policy).settleHours * 3_600_000 + 60_000);
      return evaluate(orgSlug);
    },

    async evaluateDue({ dailyPass = false, stopped = () => false } = {}) {
      const result: DailyPassResult = { orgs: 0, events: 0, failed: [] };
      const day = dailyPass ? deps.clock.now().toISOString().slice(0, 10) : undefined;
      // Once per org a pass: what a load makes due meanwhile is due later, not now.
      const evaluated = new Set<string>();
      while (!stopped()) {
        const taken = (await store.takeDueEvaluations(day, PASS_LEASE_MS, PASS_BATCH)).filter((due) => !evaluated.has(due.org_slug));
        if (taken.length === 0) break;
        for (const due of taken) {
          evaluated.add(due.org_slug);
          result.orgs++;
          try {
            result.events += (await evaluate(due.org_slug)).events;
            await store.evaluationDone(due, day);
          } catch (error) {
            deps.logger.error({ err: error, org_slug: due.org_slug }, 'cost alert evaluation failed');
            result.failed.push({ org_slug: due.org_slug, error: errorMessage(error) });
          }
        }
      }
      return result;
    },
  };
}

/**
 * A rule's open alerts were found under its old definition: a change of what it measures ends
 * them (the new definition starts afresh), as does disabling it. A new name changes nothing.
 */
function endsOpenAlerts(before: AlertRule, after: RuleDefinition): Resolution | undefined {
  if (before.is_enabled && !after.is_enabled) return 'rule_disabled';
  const measured = (r: RuleDefinition) => canonical([r.kind, r.currency, r.cost_column, r.scope, r.group_by, r.params]);
  return measured(before) === measured(after) ? undefined : 'rule_changed';
}

/** JSON with object keys sorted: jsonb gives a stored object's keys back in its own order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.entries(value)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, entry]) => `${JSON.stringify(key)}:${canonical(entry)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
