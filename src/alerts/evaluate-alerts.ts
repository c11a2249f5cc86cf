import { randomUUID } from 'node:crypto';
import { FOCUS_TABLE } from '../focus/export-focus.ts';
import { addDays, isoDate } from '../shared/clock.ts';
import { ConflictError, ProcessorError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { costAlertStore, stateFingerprint, type AlertWrite } from '../store/cost-alerts.ts';
import type { Db } from '../store/db.ts';
import { assertIdentifier, type Warehouse } from '../warehouse/warehouse.ts';
import type { Transition } from './alert-payload.ts';
import { closedDayPolicy, JUDGED_DAYS, MAX_JUDGED_AGE_DAYS, SCAN_DAYS, type ClosedDayPolicy } from './closed-days.ts';
import { contributorsSql, evaluationSql } from './evaluation-sql.ts';
import { decimal, readMeasurements } from './measurements.ts';
import { reconcile, type PlannedChange } from './reconcile.ts';
import type { AlertRule } from './rule-spec.ts';
import { sqlRules, type SqlRules } from './sql-rules.ts';

export interface EvaluateAlertsOptions {
  warehouse: Warehouse;
  db: Db;
  orgSlug: string;
  /** The dataset is `{orgSlug}_{env}`. */
  env: string;
  now: Date;
  /** Provider lags and the settle window; the defaults of closed-days.ts. */
  policy?: Partial<ClosedDayPolicy>;
  logger?: Logger;
  newId?: () => string;
  signal?: AbortSignal;
}

/** An alert that changed in an evaluation, as it now stands, with the payload of its event. */
export interface AlertChange {
  alert_id: string;
  rule_id: string;
  rule_name: string;
  kind: AlertRule['kind'];
  group_key: string;
  basis: 'actual' | 'forecast';
  period_start: string;
  period_end: string;
  status: 'open' | 'resolved';
  level: number;
  transition: Transition;
  payload: Record<string, unknown>;
}

export interface EvaluationResult {
  org_slug: string;
  evaluated_at: string;
  /** Enabled rules evaluated. */
  rules: number;
  /** Each rule's latest closed charge day (null: none among the days read). */
  closed_through: Record<string, string | null>;
  fired: AlertChange[];
  escalated: AlertChange[];
  resolved: AlertChange[];
  /** Open alerts extended to a later day, or ended without a message (a past month, a rule changed). */
  updated: number;
  /** Outbox events written (one per fired, escalated or resolved alert). */
  events: number;
}

/** Tries of an evaluation whose alert state another evaluation of the org changed meanwhile. */
const ATTEMPTS = 3;

/**
 * Evaluates every enabled cost rule of an org over its FOCUS rows (docs/alerts.md): the
 * measuring is SQL in the warehouse, the alert changes and their outbox events are written in
 * one control-plane transaction. Safe to call at any time and as often as wanted: only closed
 * charge days are judged, and an unchanged state yields no change and no event.
 */
export async function evaluateAlerts(options: EvaluateAlertsOptions): Promise<EvaluationResult> {
  const { warehouse, db, orgSlug, now } = options;
  const store = costAlertStore(db);
  const policy = closedDayPolicy(options.policy);
  const today = isoDate(now);
  const result: EvaluationResult = { org_slug: orgSlug, evaluated_at: now.toISOString(), rules: 0, closed_through: {}, fired: [], escalated: [], resolved: [], updated: 0, events: 0 };
  const rules = await store.listRules(orgSlug, { enabledOnly: true });
  result.rules = rules.length;
  if (rules.length === 0) return result;
  for (const rule of rules) result.closed_through[rule.rule_id] = null;
  const table = `${assertIdentifier('dataset', `${orgSlug}_${options.env}`)}.${FOCUS_TABLE}`;
  const compiled = sqlRules(rules);
  const judgeFrom = addDays(today, -MAX_JUDGED_AGE_DAYS);
  // Alerts that ended before the judged window cannot cover any of its days.
  const since = addDays(judgeFrom, -JUDGED_DAYS);

  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const [state, loads] = await Promise.all([store.alertState(orgSlug, since), store.loadsInFlight(orgSlug)]);
    const open = state.filter((alert) => alert.status === 'open').map((alert) => ({ rule_id: alert.rule_id, group_key: alert.group_key }));
    // An org with no FOCUS rows yet has no table. That is found by the query itself: DuckDB's
    // catalog views scan every schema (measured: 57 ms a lookup with 1,000 orgs, against 1 ms
    // for the failing bind).
    const rows = await warehouse.query(
      evaluationSql(table, compiled.tagFilters),
      {
        ...compiled.tagParams,
        rules: compiled.json,
        lags: JSON.stringify(Object.entries(policy.lagHours).map(([system, hours]) => ({ system, hours }))),
        default_lag_hours: policy.defaultLagHours,
        settle_hours: policy.settleHours,
        loads: JSON.stringify(loads),
        open: JSON.stringify(open),
        now: now.toISOString(),
        today,
        scan_from: addDays(today, -SCAN_DAYS),
        judge_from: judgeFrom,
      },
      options.signal,
    ).catch((error: unknown) => {
      if (error instanceof ProcessorError && /^table \S+ does not exist$/.test(error.message)) return undefined;
      throw error;
    });
    if (!rows) return result;
    const measurements = readMeasurements(rows);
    const changes = reconcile({ rules, state, measurements, newId: options.newId ?? randomUUID });
    await addContributors(warehouse, table, compiled, changes, options.signal);
    // Nothing changed: nothing to write, and the answer holds for the state read.
    if (changes.length === 0 || (await store.applyEvaluation(orgSlug, since, stateFingerprint(state), changes.map((change) => change.write), now))) {
      for (const rule of rules) result.closed_through[rule.rule_id] = measurements.lastClosed.get(rule.rule_id) ?? null;
      return summarise(result, changes);
    }
    options.logger?.info({ org_slug: orgSlug, attempt }, 'cost alert state changed by another evaluation; evaluating again');
  }
  throw new ConflictError(`cost alerts of ${orgSlug}: ${ATTEMPTS} evaluations in a row were overtaken by concurrent ones`);
}

/** The top 5 contributors of every event, measured in one query, added to its payload. */
async function addContributors(warehouse: Warehouse, table: string, compiled: SqlRules, changes: PlannedChange[], signal?: AbortSignal): Promise<void> {
  const asked = changes.filter((change) => change.ask && change.write.event);
  if (asked.length === 0) return;
  const asks = asked.map((change, ask) => ({ ask, ...change.ask }));
  const days = asks.flatMap((ask) => [ask.from_day ?? '', ask.base_from ?? '', ask.to_day ?? '', ask.base_to ?? '']).sort();
  const rows = await warehouse.query(
    contributorsSql(table, compiled.tagFilters),
    { ...compiled.tagParams, rules: compiled.json, asks: JSON.stringify(asks), from_day: days[0] as string, to_day: days[days.length - 1] as string },
    signal,
  );
  asked.forEach((change, ask) => {
    const top = rows
      .filter((row) => Number(row.ask) === ask)
      .map((row) => ({ service: row.service, sub_account: row.sub_account || null, resource: row.resource || null, cost: decimal(row.cost), baseline: decimal(row.baseline), change: decimal(row.change) }));
    const event = change.write.event as NonNullable<AlertWrite['event']>;
    event.payload.top_contributors = top;
    change.write.alert.details = event.payload;
  });
}

function summarise(result: EvaluationResult, changes: PlannedChange[]): EvaluationResult {
  for (const change of changes) {
    const { alert, event } = change.write;
    if (!event) {
      result.updated++;
      continue;
    }
    result.events++;
    const view: AlertChange = {
      alert_id: alert.alert_id,
      rule_id: alert.rule_id,
      rule_name: change.rule.name,
      kind: change.rule.kind,
      group_key: alert.group_key,
      basis: alert.basis,
      period_start: alert.period_start,
      period_end: alert.period_end,
      status: alert.status,
      level: alert.level,
      transition: change.transition as Transition,
      payload: event.payload,
    };
    (change.transition === 'fired' ? result.fired : change.transition === 'escalated' ? result.escalated : result.resolved).push(view);
  }
  return result;
}

