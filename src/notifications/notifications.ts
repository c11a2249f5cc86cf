import type { NotificationMetrics } from '../shared/metrics.ts';
import type { Settings } from '../config/settings.ts';
import { open, seal } from '../credentials/envelope.ts';
import { keyWrapperFor, type KeyWrapper } from '../credentials/key-wrapper.ts';
import { checkCron } from '../scheduler/pipeline-schedule.ts';
import { nextOccurrence } from '../scheduler/cron-ticks.ts';
import type { Clock } from '../shared/clock.ts';
import { InputError, NotFoundError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { Secret } from '../shared/secret.ts';
import type { Db } from '../store/db.ts';
import { checkChannel, secretHint, urlHint, type ChannelInput } from './channel-input.ts';
import { channelStore, type Channel, type OrgNotificationSettings } from './channel-store.ts';
import { deliveryStore, type HistoryEntry, type HistoryQuery } from './delivery-store.ts';
import { emailTransport } from './email-transport.ts';
import { createNotifier, defaultNotifierOptions, type AttemptResult, type NotifierOptions } from './notifier.ts';
import { slackTransport } from './slack-transport.ts';
import type { Transports } from './transports.ts';
import { webhookTransport } from './webhook-transport.ts';

export interface NotificationServiceOptions {
  db: Db;
  settings: Settings;
  clock: Clock;
  logger: Logger;
  /** The master key sealing URLs and secrets; the credentials' one (KMS or the local key file) by default. */
  wrapper?: KeyWrapper;
  transports?: Partial<Transports>;
  notifier?: Partial<NotifierOptions>;
  metrics?: NotificationMetrics;
}

export type SettingsChanges = Partial<Omit<OrgNotificationSettings, 'org_slug'>>;

/**
 * An org's notification settings, channels, test-sends and history (API and CLI), and the
 * notifier that delivers (serve.ts runs its loop).
 */
export function notificationService(options: NotificationServiceOptions) {
  const { db, settings, clock } = options;
  const wrapper = options.wrapper ?? keyWrapperFor(settings);
  const wrapperFor = (keyRef: string) => {
    if (keyRef !== wrapper.keyRef) throw new Error(`channel secret sealed with ${keyRef}, but this service holds ${wrapper.keyRef}`);
    return wrapper;
  };
  const channels = channelStore(db);
  const deliveries = deliveryStore(db);
  const now = () => clock.now();
  const transports: Transports = {
    email: emailTransport({ url: settings.smtpUrl, from: settings.smtpFrom }),
    slack: slackTransport({ now }),
    webhook: webhookTransport({ now }),
    ...options.transports,
  };
  const notifierOptions = defaultNotifierOptions({ timeoutMs: settings.notifyTimeoutSeconds * 1000, retentionDays: settings.logRetentionDays, ...options.notifier });
  const notifier = createNotifier({ db, channels, deliveries, open: (sealed) => open(sealed, wrapperFor), transports, clock, logger: options.logger, baseUrl: settings.publicBaseUrl, ...(options.metrics ? { metrics: options.metrics } : {}) }, notifierOptions);
  const allowPrivateTargets = settings.environment !== 'production';

  const found = async (orgSlug: string, name: string): Promise<Channel> => {
    const channel = await channels.get(orgSlug, name);
    // Another org's channel and one that never existed look the same.
    if (!channel) throw new NotFoundError(`No notification channel ${name}`);
    return channel;
  };

  const nextDigestAt = (org: OrgNotificationSettings, from: Date): Date => {
    const [hour, minute] = org.digest_time.split(':').map(Number);
    return nextOccurrence(`${minute} ${hour} * * *`, org.timezone, from);
  };

  return {
    notifier,

    settings: (orgSlug: string) => channels.settings(orgSlug),

    async updateSettings(orgSlug: string, changes: SettingsChanges): Promise<OrgNotificationSettings> {
      const next = { ...(await channels.settings(orgSlug)), ...definedOnly(changes), org_slug: orgSlug };
      if (!/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(next.digest_time)) throw new InputError('digest_time must be HH:MM, 00:00 to 23:59, in the org timezone', { field: 'digest_time' });
      const [hour, minute] = next.digest_time.split(':');
      checkCron(`${Number(minute)} ${Number(hour)} * * *`, next.timezone);
      for (const field of ['reminder_after_failures', 'reminder_after_hours'] as const) {
        if (!Number.isInteger(next[field]) || next[field] < 1 || next[field] > 10_000) throw new InputError(`${field} must be a whole number from 1 to 10000`, { field });
      }
      return db.transaction(async (tx) => {
        const saved = await channels.putSettings(tx, next);
        // The digests' times follow the org's new timezone and time at once.
        for (const channel of await channels.digestChannels(tx, orgSlug)) await channels.setNextDigest(tx, orgSlug, channel.channel_id, nextDigestAt(saved, now()));
        return saved;
      });
    },

    list: (orgSlug: string) => channels.list(orgSlug),
    get: found,

    /** Creates or replaces a channel; the URL and the secret are sealed before they reach the store. */
    async putChannel(orgSlug: string, name: string, input: ChannelInput): Promise<Channel & { created: boolean }> {
      const existing = await channels.get(orgSlug, name);
      const checked = checkChannel(input, existing, { allowPrivateTargets });
      const org = await channels.settings(orgSlug);
      const sealedUrl = checked.url === undefined ? undefined : { sealed: await seal(new Secret(checked.url), wrapper), hint: urlHint(checked.url) };
      const sealedSecret = checked.secret === undefined ? undefined : { sealed: await seal(new Secret(checked.secret), wrapper), hint: secretHint(checked.secret) };
      const digestNext = checked.delivery === 'digest' ? (existing?.delivery === 'digest' && existing.next_digest_at ? existing.next_digest_at : nextDigestAt(org, now())) : null;
      return db.transaction(async (tx) => {
        const saved = await channels.put(tx, orgSlug, name, {
          kind: checked.kind, is_enabled: checked.enabled, recipients: checked.recipients, routes: checked.routes, delivery: checked.delivery,
          next_digest_at: digestNext, url: sealedUrl, secret: sealedSecret,
        });
        await channels.settleWaiting(tx, orgSlug, saved.channel_id, { disabled: !checked.enabled, instant: checked.delivery === 'instant' }, now());
        return saved;
      });
    },

    async deleteChannel(orgSlug: string, name: string): Promise<void> {
      if (!(await channels.delete(orgSlug, name))) throw new NotFoundError(`No notification channel ${name}`);
    },

    /** Sends a test message to one channel now, through the outbox like any other, and says how it went. */
    async testSend(orgSlug: string, name: string): Promise<AttemptResult> {
      const channel = await found(orgSlug, name);
      const claimed = await deliveries.insertTest(orgSlug, channel, `${notifier.id}:test`, notifierOptions.leaseMs, now());
      return notifier.deliverNow(claimed);
    },

    history: (orgSlug: string, query: HistoryQuery): Promise<HistoryEntry[]> => deliveries.history(orgSlug, query),
  };
}

function definedOnly<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

export type NotificationService = ReturnType<typeof notificationService>;
