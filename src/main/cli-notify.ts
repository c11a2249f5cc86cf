import { parseArgs } from 'node:util';
import type { ChannelInput } from '../notifications/channel-input.ts';
import { channelView, type Channel } from '../notifications/channel-store.ts';
import type { AttemptStatus, HistoryEntry } from '../notifications/delivery-store.ts';
import { ROUTABLE_KINDS, type RoutableKind, type Route } from '../notifications/message-kinds.ts';
import { InputError } from '../shared/errors.ts';
import { isUuid } from '../shared/ids.ts';
import type { App } from './app.ts';

export const NOTIFY_USAGE = `  notify show <org>                       notification settings and channels (URLs and secrets as hints)
  notify settings <org> [--timezone TZ] [--digest-time HH:MM] [--reminder-after-failures N] [--reminder-after-hours H]
  notify channel set <org> <name> --kind email|slack|webhook [--recipients a@x,b@y] [--url-env VAR] [--secret-env VAR]
                [--events ${ROUTABLE_KINDS.join(',')}] [--pipelines provider/domain/pipeline,...] [--digest|--instant] [--enable|--disable]
                                          create or change a channel; its URL and secret come from variables, never argv
  notify channel delete <org> <name>
  notify test <org> <channel>             send a test message now and say how it went
  notify history <org> [--channel C] [--status sent|retrying|failed|interrupted] [--run RUN_ID] [--limit N] [--cursor C]`;

const OPTIONS = {
  json: { type: 'boolean' },
  timezone: { type: 'string' },
  'digest-time': { type: 'string' },
  'reminder-after-failures': { type: 'string' },
  'reminder-after-hours': { type: 'string' },
  kind: { type: 'string' },
  recipients: { type: 'string' },
  'url-env': { type: 'string' },
  'secret-env': { type: 'string' },
  events: { type: 'string' },
  pipelines: { type: 'string' },
  digest: { type: 'boolean' },
  instant: { type: 'boolean' },
  enable: { type: 'boolean' },
  disable: { type: 'boolean' },
  channel: { type: 'string' },
  status: { type: 'string' },
  run: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface NotifyContext {
  out: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  withApp: (fn: (app: App) => Promise<number>) => Promise<number>;
}

/** `pipeline notify …`: the notification endpoints' services, as the operator, for any org. */
export async function notifyCommand(argv: string[], context: NotifyContext): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [verb, ...rest] = positionals;
  if (values.help || !verb) {
    context.out(`Usage: pipeline notify <command> [options]\n\n${NOTIFY_USAGE}`);
    return values.help ? 0 : 2;
  }
  const env = context.env ?? process.env;
  const print = (text: string, json: unknown) => context.out(values.json ? JSON.stringify(json, null, 2) : text);
  return context.withApp(async (app) => {
    const org = need(verb === 'channel' ? rest[1] : rest[0], 'org');
    if (!(await app.orgs.get(org))) throw new Error(`organization ${org} not found`);
    switch (verb === 'channel' ? `channel ${rest[0] ?? ''}` : verb) {
      case 'show': {
        const [settings, channels] = [await app.notifications.settings(org), await app.notifications.list(org)];
        print([`timezone ${settings.timezone}, digests at ${settings.digest_time}, reminder after ${settings.reminder_after_failures} more failures or ${settings.reminder_after_hours} h`, ...channels.map(describe)].join('\n'), { settings, channels: channels.map(channelView) });
        return 0;
      }
      case 'settings': {
        const integer = (name: 'reminder-after-failures' | 'reminder-after-hours') => (values[name] === undefined ? undefined : wholeNumber(values[name], `--${name}`));
        const saved = await app.notifications.updateSettings(org, { timezone: values.timezone, digest_time: values['digest-time'], reminder_after_failures: integer('reminder-after-failures'), reminder_after_hours: integer('reminder-after-hours') });
        print(`timezone ${saved.timezone}, digests at ${saved.digest_time}, reminder after ${saved.reminder_after_failures} more failures or ${saved.reminder_after_hours} h`, saved);
        return 0;
      }
      case 'channel set': {
        const saved = await app.notifications.putChannel(org, need(rest[2], 'channel name'), channelInput(values, env));
        print(`${saved.created ? 'Created' : 'Updated'} ${describe(saved)}`, channelView(saved));
        return 0;
      }
      case 'channel delete':
        await app.notifications.deleteChannel(org, need(rest[2], 'channel name'));
        print('deleted', { deleted: rest[2] });
        return 0;
      case 'test': {
        const result = await app.notifications.testSend(org, need(rest[1], 'channel'));
        print(`${result.status}${result.response_code !== null ? ` (${result.response_code})` : ''}${result.error ? `: ${result.error}` : ''}`, result);
        return result.status === 'sent' ? 0 : 1;
      }
      case 'history': {
        const limit = values.limit === undefined ? 50 : wholeNumber(values.limit, '--limit');
        const status = values.status as AttemptStatus | undefined;
        if (status !== undefined && !['sent', 'retrying', 'failed', 'interrupted'].includes(status)) throw new Error(`--status takes sent, retrying, failed or interrupted, got '${status}'`);
        if (values.run !== undefined && !isUuid(values.run)) throw new Error('--run takes a run id (a UUID, as pipeline run prints it)');
        const before = values.cursor === undefined ? undefined : wholeNumber(values.cursor, '--cursor');
        const attempts = await app.notifications.history(org, { channel: values.channel, status, runId: values.run, limit, before });
        const next = attempts.length === limit ? attempts.at(-1)?.attempt_id : undefined;
        print([...attempts.map(describeAttempt), ...(next ? [`more: --cursor ${next}`] : [])].join('\n') || 'no delivery attempts yet', { attempts, next_cursor: next ?? null });
        return 0;
      }
      default:
        throw new Error(`notify takes show, settings, channel set, channel delete, test or history, got ${verb === undefined ? 'nothing' : `'${[verb, ...rest.slice(0, 1)].join(' ')}'`}; see pipeline --help`);
    }
  });
}

function channelInput(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): ChannelInput {
  const kind = values.kind;
  if (kind !== 'email' && kind !== 'slack' && kind !== 'webhook') throw new Error('--kind takes email, slack or webhook');
  if (values.digest && values.instant) throw new Error('--digest and --instant contradict each other');
  if (values.enable && values.disable) throw new Error('--enable and --disable contradict each other');
  const fromEnv = (flag: 'url-env' | 'secret-env') => {
    const name = values[flag];
    if (typeof name !== 'string') return undefined;
    const value = env[name];
    if (!value) throw new Error(`environment variable ${name} (--${flag}) is empty or not set`);
    return value;
  };
  const list = (text: unknown) => (typeof text === 'string' ? text.split(',').map((item) => item.trim()).filter(Boolean) : undefined);
  const pipelines = list(values.pipelines);
  const kinds = list(values.events);
  if (pipelines && !kinds) throw new Error('--pipelines filters the --events it goes with; name them');
  const events: Route[] | undefined = kinds?.map((k) => {
    if (!(ROUTABLE_KINDS as readonly string[]).includes(k)) throw new InputError(`--events: ${k} is not one of ${ROUTABLE_KINDS.join(', ')}`, { field: 'events' });
    return pipelines && !k.startsWith('cost_alert') ? { kind: k as RoutableKind, pipelines } : { kind: k as RoutableKind };
  });
  return {
    kind,
    recipients: list(values.recipients),
    url: fromEnv('url-env'),
    secret: fromEnv('secret-env'),
    events,
    delivery: values.digest ? 'digest' : values.instant ? 'instant' : undefined,
    enabled: values.enable ? true : values.disable ? false : undefined,
  };
}

function describe(channel: Channel): string {
  const target = channel.kind === 'email' ? channel.recipients.join(', ') : `${channel.url_hint ?? '-'}${channel.secret_hint ? ` (secret ${channel.secret_hint})` : ''}`;
  const events = channel.routes.map((route) => `${route.kind}${route.pipelines ? `[${route.pipelines.join(' ')}]` : ''}`).join(',');
  const state = channel.last_error ? `; last error ${channel.last_error_at?.toISOString() ?? ''}: ${channel.last_error}` : channel.last_success_at ? `; last sent ${channel.last_success_at.toISOString()}` : '';
  return `${channel.name} ${channel.kind} ${channel.is_enabled ? 'enabled' : 'disabled'} ${channel.delivery}${channel.delivery === 'digest' && channel.next_digest_at ? ` next ${channel.next_digest_at.toISOString()}` : ''} -> ${target} events ${events}${state}`;
}

function describeAttempt(a: HistoryEntry): string {
  const about = a.run_id ? `${a.provider}/${a.domain}/${a.pipeline} run ${a.run_id}` : a.message_kind;
  return `${a.ended_at.toISOString()} ${a.channel} ${a.message_kind} #${a.attempt} ${a.status}${a.response_code !== null ? ` ${a.response_code}` : ''} ${about}${a.error ? `: ${a.error}` : ''}${a.next_attempt_at ? ` (next ${a.next_attempt_at.toISOString()})` : ''}`;
}

function need(value: string | undefined, name: string): string {
  if (!value) throw new Error(`missing ${name}; see pipeline --help`);
  return value;
}

function wholeNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} takes a whole number, got '${text}'`);
  return n;
}
