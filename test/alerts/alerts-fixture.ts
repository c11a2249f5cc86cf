import { evaluateAlerts, type EvaluationResult } from '../../src/alerts/evaluate-alerts.ts';
import { checkRule, type AlertRule } from '../../src/alerts/rule-spec.ts';
import { costAlertStore, type StoredAlert } from '../../src/store/cost-alerts.ts';
import type { Db } from '../../src/store/db.ts';
import type { Warehouse } from '../../src/warehouse/warehouse.ts';

let orgs = 0;

/** A fresh org in the control plane (its dataset is `{org}_dev`), with the rules given. */
export async function orgWithRules(db: Db, rules: Record<string, unknown>[]): Promise<{ orgSlug: string; rules: AlertRule[] }> {
  const orgSlug = `alerts_${process.pid}_${++orgs}`;
  await db.query('INSERT INTO organizations (org_slug, name) VALUES ($1, $1)', [orgSlug]);
  const store = costAlertStore(db);
  const created: AlertRule[] = [];
  for (const rule of rules) created.push(await store.createRule(orgSlug, checkRule(rule)));
  return { orgSlug, rules: created };
}

export function evaluate(warehouse: Warehouse, db: Db, orgSlug: string, now: string): Promise<EvaluationResult> {
  return evaluateAlerts({ warehouse, db, orgSlug, env: 'dev', now: new Date(now) });
}

export interface OutboxEvent {
  kind: string;
  severity: string;
  provider: string | null;
  payload: Record<string, unknown> & { top_contributors?: { service: string; sub_account: string | null; resource: string | null; change: string }[] };
}

export function outbox(db: Db, orgSlug: string): Promise<OutboxEvent[]> {
  return db.query<OutboxEvent>('SELECT kind, severity, provider, payload FROM notification_events WHERE org_slug = $1 ORDER BY created_at, event_id', [orgSlug]);
}

export function alerts(db: Db, orgSlug: string): Promise<StoredAlert[]> {
  return costAlertStore(db).alertState(orgSlug, '1970-01-01');
}
