import { BlockList, isIP } from 'node:net';
import { InputError } from '../shared/errors.ts';
import { PIPELINE_PATTERN, ROUTABLE_KINDS, DEFAULT_ROUTES, type Route } from './message-kinds.ts';
import type { Channel } from './channel-store.ts';
import type { ChannelKind } from './transports.ts';

/** A channel's settings as an org gives them (API body, CLI flags). */
export interface ChannelInput {
  kind: ChannelKind;
  enabled?: boolean | undefined;
  recipients?: string[] | undefined;
  url?: string | undefined;
  secret?: string | undefined;
  events?: Route[] | undefined;
  delivery?: 'instant' | 'digest' | undefined;
}

export interface CheckedChannel {
  kind: ChannelKind;
  enabled: boolean;
  recipients: string[];
  url: string | undefined;
  secret: string | undefined;
  routes: Route[];
  delivery: 'instant' | 'digest';
}

export const CHANNEL_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** An address as RFC 5321 mailboxes are in practice: one @, no spaces, quotes or list separators, a dotted domain. */
const EMAIL = /^[^\s@<>,;"'()]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$/;
const MAX_RECIPIENTS = 50;

/**
 * Checks a channel's settings against what it had: every problem is a 400 naming its field.
 * Secrets (the URL, the HMAC secret) are required when a channel is created and kept when an
 * update leaves them out.
 */
export function checkChannel(input: ChannelInput, existing: Channel | undefined, options: { allowPrivateTargets: boolean }): CheckedChannel {
  if (existing && existing.kind !== input.kind) throw new InputError(`channel ${existing.name} is a ${existing.kind} channel; delete it to make it a ${input.kind} one`, { field: 'kind' });
  const recipients = input.recipients ?? (existing?.recipients.length ? existing.recipients : undefined);
  if (input.kind === 'email') {
    if (!recipients || recipients.length === 0) throw new InputError('an email channel needs recipients: a list of addresses', { field: 'recipients' });
    if (recipients.length > MAX_RECIPIENTS) throw new InputError(`at most ${MAX_RECIPIENTS} recipients per channel`, { field: 'recipients' });
    recipients.forEach((address, i) => {
      if (typeof address !== 'string' || !EMAIL.test(address)) throw new InputError(`recipients[${i}] is not an email address`, { field: `recipients.${i}` });
    });
    if (input.url !== undefined) throw new InputError('an email channel has no URL', { field: 'url' });
    if (input.secret !== undefined) throw new InputError('an email channel has no secret', { field: 'secret' });
  } else {
    if (input.recipients !== undefined) throw new InputError(`a ${input.kind} channel has no recipients: it posts to its URL`, { field: 'recipients' });
    if (input.url === undefined && !existing?.url_hint) throw new InputError(`a ${input.kind} channel needs its ${input.kind === 'slack' ? 'incoming-webhook ' : ''}URL`, { field: 'url' });
    if (input.url !== undefined) checkUrl(input.url, input.kind, options);
    if (input.kind === 'slack' && input.secret !== undefined) throw new InputError('a Slack channel has no secret: its URL is its credential', { field: 'secret' });
    if (input.kind === 'webhook') {
      if (input.secret === undefined && !existing?.secret_hint) throw new InputError('a webhook channel needs a secret to sign its requests with (HMAC-SHA256)', { field: 'secret' });
      if (input.secret !== undefined && (input.secret.length < 16 || input.secret.length > 512 || /\s/.test(input.secret))) {
        throw new InputError('secret must be 16 to 512 characters without spaces', { field: 'secret' });
      }
    }
  }
  return {
    kind: input.kind,
    enabled: input.enabled ?? existing?.is_enabled ?? true,
    recipients: input.kind === 'email' ? (recipients as string[]) : [],
    url: input.url,
    secret: input.secret,
    routes: input.events ? checkRoutes(input.events) : (existing?.routes ?? DEFAULT_ROUTES),
    delivery: input.delivery ?? existing?.delivery ?? 'instant',
  };
}

function checkRoutes(events: Route[]): Route[] {
  const seen = new Set<string>();
  return events.map((route, i) => {
    if (!(ROUTABLE_KINDS as readonly string[]).includes(route.kind)) throw new InputError(`events[${i}].kind must be one of ${ROUTABLE_KINDS.join(', ')}`, { field: `events.${i}.kind` });
    if (seen.has(route.kind)) throw new InputError(`events[${i}]: ${route.kind} is listed twice; give its pipelines in one entry`, { field: `events.${i}.kind` });
    seen.add(route.kind);
    if (route.pipelines === undefined) return { kind: route.kind };
    if (route.kind.startsWith('cost_alert')) throw new InputError(`events[${i}]: a cost alert is about the org's spend, not a pipeline; it takes no pipelines filter`, { field: `events.${i}.pipelines` });
    route.pipelines.forEach((pattern, j) => {
      if (typeof pattern !== 'string' || !PIPELINE_PATTERN.test(pattern)) {
        throw new InputError(`events[${i}].pipelines[${j}] must be provider/domain/pipeline, a segment may be *`, { field: `events.${i}.pipelines.${j}` });
      }
    });
    return { kind: route.kind, pipelines: [...route.pipelines] };
  });
}

/** Loopback, private, link-local (cloud metadata at 169.254.169.254) and unique-local addresses: what a tenant's webhook must not reach in production. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) PRIVATE.addSubnet(net, prefix, 'ipv6');

function checkUrl(text: string, kind: ChannelKind, options: { allowPrivateTargets: boolean }): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new InputError('url is not a URL', { field: 'url', cause: error });
  }
  if (url.username || url.password) throw new InputError('url must not carry a user or password', { field: 'url' });
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowPrivateTargets)) throw new InputError('url must be https', { field: 'url' });
  if (text.length > 2000) throw new InputError('url is longer than 2000 characters', { field: 'url' });
  if (!options.allowPrivateTargets) {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const family = isIP(host);
    if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal') || (family !== 0 && PRIVATE.check(host, family === 4 ? 'ipv4' : 'ipv6'))) {
      throw new InputError('url must be a public address, not a loopback, private or link-local one', { field: 'url' });
    }
  }
  if (kind === 'slack' && !options.allowPrivateTargets && url.hostname !== 'hooks.slack.com') throw new InputError('a Slack incoming-webhook URL is on https://hooks.slack.com/', { field: 'url' });
}

/** What a URL's hint shows: scheme, host and its last 4 characters (a Slack URL's path is its token). */
export function urlHint(text: string): string {
  const url = new URL(text);
  return `${url.protocol}//${url.host}/…${text.slice(-4)}`;
}

export function secretHint(secret: string): string {
  return `…${secret.slice(-4)}`;
}
