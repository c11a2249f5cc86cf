import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { evaluateAlerts, type EvaluationResult } from '../alerts/evaluate-alerts.ts';
import { ruleBody, type AlertRule } from '../alerts/rule-spec.ts';
import { periodText } from '../alerts/alert-payload.ts';
import type { AlertView } from '../store/cost-alerts.ts';
import type { Warehouse } from '../warehouse/warehouse.ts';
import type { App } from './app.ts';

export const ALERTS_USAGE = `  alerts <org> [--status open|resolved] [--limit N]
                                          an org's cost alerts, open ones first (alerts list <org> for an org named rules)
  alerts rules list <org>                 an org's cost rules
  alerts rules add <org> --rule JSON|@FILE
                                          a new cost rule (docs/alerts.md): {"name": ..., "kind": "daily_threshold", "thresholds": [1000]}
  alerts rules set <org> <rule_id|name> --rule JSON|@FILE
                                          change the fields given
  alerts rules enable|disable|delete <org> <rule_id|name>
  alerts evaluate <org>                   evaluate the org's rules now (opens the warehouse file: next to a running
                                          server, POST /api/v1/alerts/{org}/evaluate instead)`;

const OPTIONS = {
  json: { type: 'boolean' },
  status: { type: 'string' },
  limit: { type: 'string' },
  rule: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface AlertsContext {
  out: (line: string) => void;
  withApp: (fn: (app: App) => Promise<number>) => Promise<number>;
  /** The warehouse when the app has none open (a CLI beside no server). */
  openWarehouse: () => Promise<Warehouse>;
}

/** `pipeline alerts …`: the alerts endpoints' services, as the operator, for any org. */
export async function alertsCommand(argv: string[], context: AlertsContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help || positionals.length === 0) {
    context.out(`Usage: pipeline alerts <command> [options]\n\n${ALERTS_USAGE}`);
    return values.help ? 0 : 2;
  }
  const print = (text: string, json: unknown) => context.out(values.json ? JSON.stringify(json, null, 2) : text);
  const [first, ...rest] = positionals;
  const [verb, args] = first === 'rules' ? [`rules ${rest[0] ?? ''}`.trim(), rest.slice(1)] : first === 'evaluate' || first === 'list' ? [first, rest] : ['list', positionals];
  return context.withApp(async (app) => {
    const org = need(args[0], 'org');
    if (!(await app.orgs.get(org))) throw new Error(`organization ${org} not found; pipeline org list shows the orgs`);
    switch (verb) {
      case 'list': {
        const status = values.status;
        if (status !== undefined && status !== 'open' && status !== 'resolved') throw new Error(`--status takes open or resolved, got '${status}'`);
        const limit = values.limit === undefined ? 100 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Error(`--limit takes a whole number from 1 to 500, got '${values.limit}'`);
        const alerts = await app.alerts.listAlerts(org, { status, limit });
        print(alerts.length === 0 ? `${org} has no ${status ?? ''}${status ? ' ' : ''}cost alerts` : alerts.map(describeAlert).join('\n'), alerts);
        return 0;
      }
      case 'rules list': {
        const rules = await app.alerts.listRules(org);
        print(rules.length === 0 ? `${org} has no cost rules; pipeline alerts rules add ${org} --rule '{...}' adds one (docs/alerts.md)` : rules.map(describeRule).join('\n'), rules.map(ruleBody));
        return 0;
      }
      case 'rules add': {
        const rule = await app.alerts.createRule(org, await ruleOption(values.rule));
        print(`Created ${describeRule(rule)}`, ruleBody(rule));
        return 0;
      }
      case 'rules set':
      case 'rules enable':
      case 'rules disable': {
        const found = await findRule(app, org, args[1]);
        const body = verb === 'rules set' ? await ruleOption(values.rule) : { enabled: verb === 'rules enable' };
        const rule = await app.alerts.updateRule(org, found.rule_id, body, 'merge');
        print(`Updated ${describeRule(rule)}`, ruleBody(rule));
        return 0;
      }
      case 'rules delete': {
        const found = await findRule(app, org, args[1]);
        await app.alerts.deleteRule(org, found.rule_id);
        print(`Deleted rule ${found.name} and its alerts`, { deleted: found.rule_id });
        return 0;
      }
      case 'evaluate': {
        const warehouse = app.warehouse ?? (await context.openWarehouse());
        try {
          const result = await evaluateAlerts({ warehouse, db: app.controlPlane.db, orgSlug: org, env: app.settings.env, now: app.clock.now(), logger: app.logger });
          print(describeEvaluation(result), result);
        } finally {
          if (!app.warehouse) await warehouse.close();
        }
        return 0;
      }
      default:
        throw new Error(`alerts takes <org>, list, rules list|add|set|enable|disable|delete or evaluate, got '${[first, ...rest].join(' ')}'; see pipeline alerts --help`);
    }
  });
}

async function ruleOption(value: string | undefined): Promise<unknown> {
  if (!value) throw new Error('give the rule as --rule JSON or --rule @file.json');
  const text = value.startsWith('@') ? await readFile(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`--rule is not valid JSON${value.startsWith('@') ? ` (file ${value.slice(1)})` : ''}`);
  }
}

async function findRule(app: App, org: string, target: string | undefined): Promise<AlertRule> {
  if (!target) throw new Error(`name the rule: its rule_id or its name (pipeline alerts rules list ${org})`);
  const found = (await app.alerts.listRules(org)).find((rule) => rule.rule_id === target || rule.name === target);
  if (!found) throw new Error(`${org} has no cost rule ${target}; pipeline alerts rules list ${org} shows its rules`);
  return found;
}

function describeRule(rule: AlertRule): string {
  const scope = Object.entries(rule.scope).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : Object.entries(value as Record<string, string>).map(([k, v]) => `${k}:${v}`).join(',')}`);
  const params = Object.entries(rule.params).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`);
  return `${rule.rule_id} ${rule.name} ${rule.kind} ${rule.is_enabled ? 'enabled' : 'disabled'} ${rule.cost_column} ${rule.currency}${rule.group_by ? ` by ${rule.group_by}` : ''}${scope.length ? ` [${scope.join(' ')}]` : ''} ${params.join(' ')}`;
}

function describeAlert(alert: AlertView): string {
  const period = alert.rule_kind === 'monthly_budget' ? alert.period_start.slice(0, 7) : periodText(alert.period_start, alert.period_end);
  const ended = alert.status === 'resolved' ? ` (${alert.resolution ?? 'resolved'}${alert.resolved_day ? ` on ${alert.resolved_day}` : ''})` : '';
  return `${alert.status.padEnd(8)} ${period} ${alert.rule_name}${alert.group_key ? ` / ${alert.group_key}` : ''}${alert.basis === 'forecast' ? ' (forecast)' : ''} level ${alert.level}${ended}: ${String(alert.details.title ?? '')}`;
}

function describeEvaluation(result: EvaluationResult): string {
  const lines = [`${result.rules} rules: ${result.fired.length} fired, ${result.escalated.length} escalated, ${result.resolved.length} resolved, ${result.updated} updated`];
  for (const change of [...result.fired, ...result.escalated, ...result.resolved]) lines.push(`  ${change.transition} ${String(change.payload.title ?? change.rule_name)}`);
  return lines.join('\n');
}

function need(value: string | undefined, name: string): string {
  if (!value) throw new Error(`missing ${name}; see pipeline alerts --help`);
  return value;
}
