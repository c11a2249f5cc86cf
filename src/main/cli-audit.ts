import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { AppError } from '../shared/errors.ts';
import type { AuditEntry, AuditFilter, AuditOutcome, AuditRow } from '../store/audit.ts';
import type { App } from './app.ts';

export const AUDIT_USAGE = `  audit [<org>] [--action A|prefix.*] [--actor root|key:PREFIX|cli:USER|engine] [--outcome success|failure|pending]
                [--since T] [--until T] [--limit N]
                                          admin and credential actions, newest first (every org's without <org>)`;

/** A service call of the CLI's, as the audit sees it. */
interface Call {
  args: unknown[];
  /** What the call returned, once it did. */
  result?: unknown;
}

interface AuditedCall {
  action: string | ((call: Call) => string);
  target: (call: Call) => { org?: unknown; id?: unknown };
  details?: (call: Call) => Record<string, unknown>;
}

const field = (value: unknown, name: string) => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined);
const orgArg = ({ args }: Call) => ({ org: args[0] });
const orgAndArg = (index: number) => ({ args }: Call) => ({ org: args[0], id: args[index] });

/**
 * The CLI's admin commands call the services directly, not through HTTP, so src/api/audit.ts
 * never sees them: these are the same actions (the same names) read from the service calls.
 * Keyed by the App's service and method, so a renamed method is a type error here.
 */
const AUDITED_CALLS = {
  orgs: {
    create: { action: 'org.create', target: ({ args }) => ({ org: args[0], id: args[0] }), details: ({ args, result }) => ({ plan: field(args[2], 'plan'), key_id: field(result, 'key_id'), key_prefix: field(result, 'key_prefix') }) },
    updateSubscription: { action: 'subscription.update', target: orgArg, details: ({ args }) => ({ changes: args[1] }) },
    createKey: { action: 'key.create', target: ({ args, result }) => ({ org: args[0], id: field(result, 'key_id') }), details: ({ result }) => ({ key_prefix: field(result, 'key_prefix') }) },
    revokeKey: { action: 'key.revoke', target: orgAndArg(1) },
  },
  credentials: {
    set: {
      action: ({ result }) => (field(result, 'rotated') === true ? 'credential.rotate' : 'credential.set'),
      target: ({ args }) => ({ org: args[0], id: `${String(field(args[1], 'provider'))}/${String(field(args[1], 'credentialId') ?? 'default')}` }),
      details: ({ result }) => ({ version: field(result, 'version') }),
    },
    delete: { action: 'credential.delete', target: ({ args }) => ({ org: args[0], id: `${String(args[1])}/${String(args[2] ?? 'default')}` }) },
  },
  scheduler: {
    update: {
      action: ({ args }) => (field(args[2], 'is_deleted') === true ? 'schedule.delete' : 'schedule.update'),
      target: ({ args, result }) => ({ org: args[1] ?? field(result, 'org_slug'), id: args[0] }),
      details: ({ args }) => ({ fields: Object.keys((args[2] as object | undefined) ?? {}) }),
    },
  },
  backfills: {
    create: {
      action: 'backfill.create',
      target: ({ args, result }) => ({ org: field(args[0], 'orgSlug'), id: field(result, 'backfill_id') }),
      details: ({ args }) => ({ route: field(args[0], 'route'), start_date: field(args[0], 'startDate'), end_date: field(args[0], 'endDate'), mode: field(args[0], 'mode') }),
    },
    cancel: { action: 'backfill.cancel', target: orgAndArg(1) },
  },
  requests: { cancel: { action: 'run.cancel', target: orgAndArg(1) } },
  notifications: {
    updateSettings: { action: 'notification.settings.update', target: orgArg, details: ({ args }) => ({ fields: Object.keys((args[1] as object | undefined) ?? {}) }) },
    // Never the URL or the secret of a channel.
    putChannel: { action: 'notification.channel.set', target: orgAndArg(1), details: ({ args, result }) => ({ kind: field(args[2], 'kind'), created: field(result, 'created') }) },
    deleteChannel: { action: 'notification.channel.delete', target: orgAndArg(1) },
    testSend: { action: 'notification.channel.test', target: orgAndArg(1) },
  },
  alerts: {
    createRule: { action: 'alert_rule.create', target: ({ args, result }) => ({ org: args[0], id: field(result, 'rule_id') }), details: ({ args }) => ({ name: field(args[1], 'name'), kind: field(args[1], 'kind') }) },
    updateRule: { action: ({ args }) => (args[3] === 'replace' ? 'alert_rule.replace' : 'alert_rule.update'), target: orgAndArg(1), details: ({ args }) => ({ fields: Object.keys((args[2] as object | undefined) ?? {}) }) },
    deleteRule: { action: 'alert_rule.delete', target: orgAndArg(1) },
  },
  // The requests, as the API's; each procedure changed is an entry of its own (src/procedures/procedure-audit.ts).
  procedures: {
    sync: { action: 'procedure.sync', target: () => ({}), details: ({ args }) => ({ force: field(args[0], 'force') }) },
    put: { action: 'procedure.put', target: ({ args }) => ({ id: args[0] }), details: ({ result }) => ({ created: field(result, 'created') }) },
    remove: { action: 'procedure.remove', target: ({ args }) => ({ id: args[0] }) },
  },
} satisfies { [S in keyof App]?: { [M in keyof App[S]]?: AuditedCall } };

/**
 * The app a CLI command gets: the services of AUDITED_CALLS record each call as `cli:<user>`,
 * with one request id for the whole command. As in the API, the entry is written before the
 * call, and a call whose entry cannot be written does not happen.
 */
export function auditedApp(app: App, actor = `cli:${userInfo().username}`): App {
  const requestId = `cli-${randomUUID()}`;
  const wrapped: Record<string, unknown> = { ...app };
  for (const [serviceName, methods] of Object.entries(AUDITED_CALLS) as [keyof App, Record<string, AuditedCall>][]) {
    const service = app[serviceName] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const copy: Record<string, unknown> = { ...service };
    for (const [methodName, declaration] of Object.entries(methods)) {
      const original = service[methodName] as (...args: unknown[]) => Promise<unknown>;
      copy[methodName] = async (...args: unknown[]) => {
        const call: Call = { args };
        const id = await app.audit.record({ actor, via: 'cli', request_id: requestId, outcome: 'pending', ...described(declaration, call) });
        try {
          call.result = await original.apply(service, args);
        } catch (error) {
          await app.audit.settle(id, { outcome: 'failure', error_code: error instanceof AppError ? error.code : 'error' });
          throw error;
        }
        await app.audit.settle(id, { outcome: 'success', ...described(declaration, call) });
        return call.result;
      };
    }
    wrapped[serviceName] = copy;
  }
  return wrapped as unknown as App;
}

function described(declaration: AuditedCall, call: Call): Pick<AuditEntry, 'action' | 'org_slug' | 'target_id' | 'details'> {
  const target = declaration.target(call);
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  return { action: typeof declaration.action === 'string' ? declaration.action : declaration.action(call), org_slug: text(target.org), target_id: text(target.id), details: declaration.details?.(call) ?? {} };
}

const OPTIONS = {
  json: { type: 'boolean' },
  action: { type: 'string' },
  actor: { type: 'string' },
  outcome: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'pending'];

/** `pipeline audit [org]`: the entries GET /api/v1/admin/audit serves, for the operator. */
export async function auditCommand(argv: string[], context: { out: (line: string) => void; withApp: (fn: (app: App) => Promise<number>) => Promise<number> }): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help) {
    context.out(`Usage: pipeline\n${AUDIT_USAGE}`);
    return 0;
  }
  if (positionals.length > 1) throw new Error(`audit takes at most one org, got ${positionals.length} words; see pipeline audit --help`);
  const filter = filterOf(values);
  return context.withApp(async (app) => {
    const org = positionals[0];
    if (org !== undefined && !(await app.orgs.get(org))) throw new Error(`organization ${org} does not exist; pipeline org list shows the orgs`);
    const rows = await app.audit.list(org, filter);
    if (values.json) context.out(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) context.out(`no audit entries${org ? ` for ${org}` : ''} match`);
    else {
      context.out(rows.map(describe).join('\n'));
      if (rows.length === filter.limit) context.out(`(${filter.limit} shown; older ones: --until ${(rows.at(-1) as AuditRow).created_at.toISOString()})`);
    }
    return 0;
  });
}

function filterOf(values: { action?: string | undefined; actor?: string | undefined; outcome?: string | undefined; since?: string | undefined; until?: string | undefined; limit?: string | undefined }): AuditFilter {
  if (values.action !== undefined && !/^[a-z_]+(\.[a-z_]+)*(\.\*)?$/.test(values.action)) throw new Error(`--action takes an action such as credential.rotate or a prefix such as credential.*, got '${values.action.slice(0, 40)}'`);
  if (values.outcome !== undefined && !(OUTCOMES as readonly string[]).includes(values.outcome)) throw new Error(`--outcome takes ${OUTCOMES.join(', ')}, got '${values.outcome.slice(0, 40)}'`);
  const limit = Number(values.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new Error(`--limit takes a whole number from 1 to 500, got '${values.limit}'`);
  const instant = (name: 'since' | 'until') => {
    const value = values[name];
    if (value === undefined) return undefined;
    const at = new Date(value);
    if (Number.isNaN(at.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) throw new Error(`--${name} takes a date or an ISO 8601 time such as 2026-01-31T12:00:00Z, got '${value.slice(0, 40)}'`);
    return at;
  };
  return { action: values.action, actor: values.actor, outcome: values.outcome as AuditOutcome | undefined, since: instant('since'), until: instant('until'), limit };
}

function describe(row: AuditRow): string {
  const where = [row.org_slug ?? '-', row.target_id].filter(Boolean).join(' ');
  const result = row.outcome === 'failure' ? `failure${row.status ? ` ${row.status}` : ''}${row.error_code ? ` ${row.error_code}` : ''}` : row.outcome;
  const run = row.run_id ? ` run ${row.run_id}${row.step_id ? ` step ${row.step_id}` : ''}` : '';
  return `${row.created_at.toISOString()} ${row.actor} ${row.action} ${where} ${result}${run}`;
}
