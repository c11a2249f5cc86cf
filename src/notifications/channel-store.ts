import type { Sealed } from '../credentials/envelope.ts';
import type { Db, Queryable } from '../store/db.ts';
import type { Route } from './message-kinds.ts';
import type { ChannelKind } from './transports.ts';

export interface OrgNotificationSettings {
  org_slug: string;
  timezone: string;
  digest_time: string;
  reminder_after_failures: number;
  reminder_after_hours: number;
}

export const DEFAULT_SETTINGS: Omit<OrgNotificationSettings, 'org_slug'> = { timezone: 'UTC', digest_time: '08:00', reminder_after_failures: 3, reminder_after_hours: 24 };

/** A channel as shown: its secrets only as hints. */
export interface Channel {
  org_slug: string;
  channel_id: string;
  name: string;
  kind: ChannelKind;
  is_enabled: boolean;
  recipients: string[];
  url_hint: string | null;
  secret_hint: string | null;
  routes: Route[];
  delivery: 'instant' | 'digest';
  next_digest_at: Date | null;
  last_digest_at: Date | null;
  paused_until: Date | null;
  last_error: string | null;
  last_status_code: number | null;
  last_error_at: Date | null;
  last_success_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface SealedChannel {
  kind: ChannelKind;
  name: string;
  recipients: string[];
  sealed_url: Sealed | null;
  sealed_secret: Sealed | null;
}

/** A channel's new settings; a secret left undefined keeps the sealed one. */
export interface ChannelWrite {
  kind: ChannelKind;
  is_enabled: boolean;
  recipients: string[];
  routes: Route[];
  delivery: 'instant' | 'digest';
  next_digest_at: Date | null;
  url?: { sealed: Sealed; hint: string } | undefined;
  secret?: { sealed: Sealed; hint: string } | undefined;
}

const CHANNEL_COLUMNS = `org_slug, channel_id::text AS channel_id, name, kind, is_enabled, recipients, url_hint, secret_hint, routes, delivery, next_digest_at, last_digest_at,
  paused_until, last_error, last_status_code, last_error_at, last_success_at, created_at, updated_at`;

/** Settings and channels of an org's notifications. Sealed columns are read only by `sealed()`, for a send. */
export function channelStore(db: Db) {
  return {
    async settings(orgSlug: string, tx: Queryable = db): Promise<OrgNotificationSettings> {
      const [row] = await tx.query<OrgNotificationSettings>('SELECT org_slug, timezone, digest_time, reminder_after_failures, reminder_after_hours FROM notification_settings WHERE org_slug = $1', [orgSlug]);
      return row ?? { org_slug: orgSlug, ...DEFAULT_SETTINGS };
    },

    async putSettings(tx: Queryable, settings: OrgNotificationSettings): Promise<OrgNotificationSettings> {
      const [row] = await tx.query<OrgNotificationSettings>(
        `INSERT INTO notification_settings (org_slug, timezone, digest_time, reminder_after_failures, reminder_after_hours) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (org_slug) DO UPDATE SET timezone = excluded.timezone, digest_time = excluded.digest_time, reminder_after_failures = excluded.reminder_after_failures,
           reminder_after_hours = excluded.reminder_after_hours, updated_at = now()
         RETURNING org_slug, timezone, digest_time, reminder_after_failures, reminder_after_hours`,
        [settings.org_slug, settings.timezone, settings.digest_time, settings.reminder_after_failures, settings.reminder_after_hours],
      );
      return row as OrgNotificationSettings;
    },

    list(orgSlug: string, tx: Queryable = db): Promise<Channel[]> {
      return tx.query<Channel>(`SELECT ${CHANNEL_COLUMNS} FROM notification_channels WHERE org_slug = $1 ORDER BY name`, [orgSlug]);
    },

    async get(orgSlug: string, name: string, tx: Queryable = db): Promise<Channel | undefined> {
      const [row] = await tx.query<Channel>(`SELECT ${CHANNEL_COLUMNS} FROM notification_channels WHERE org_slug = $1 AND name = $2`, [orgSlug, name]);
      return row;
    },

    /** Creates or replaces the channel `name`; `created` says which. */
    async put(tx: Queryable, orgSlug: string, name: string, write: ChannelWrite): Promise<Channel & { created: boolean }> {
      const [row] = await tx.query<Channel & { created: boolean }>(
        `INSERT INTO notification_channels (org_slug, name, kind, is_enabled, recipients, routes, delivery, next_digest_at, sealed_url, url_hint, sealed_secret, secret_hint)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (org_slug, name) DO UPDATE SET is_enabled = excluded.is_enabled, recipients = excluded.recipients, routes = excluded.routes,
           delivery = excluded.delivery, next_digest_at = excluded.next_digest_at,
           sealed_url = coalesce(excluded.sealed_url, notification_channels.sealed_url), url_hint = coalesce(excluded.url_hint, notification_channels.url_hint),
           sealed_secret = coalesce(excluded.sealed_secret, notification_channels.sealed_secret), secret_hint = coalesce(excluded.secret_hint, notification_channels.secret_hint),
           updated_at = now()
         RETURNING ${CHANNEL_COLUMNS}, (xmax = 0) AS created`,
        [orgSlug, name, write.kind, write.is_enabled, write.recipients, JSON.stringify(write.routes), write.delivery, write.next_digest_at,
          write.url ? JSON.stringify(write.url.sealed) : null, write.url?.hint ?? null, write.secret ? JSON.stringify(write.secret.sealed) : null, write.secret?.hint ?? null],
      );
      return row as Channel & { created: boolean };
    },

    async delete(orgSlug: string, name: string): Promise<boolean> {
      return (await db.query('DELETE FROM notification_channels WHERE org_slug = $1 AND name = $2 RETURNING 1', [orgSlug, name])).length > 0;
    },

    async sealed(orgSlug: string, channelId: string): Promise<SealedChannel | undefined> {
      const [row] = await db.query<SealedChannel>('SELECT kind, name, recipients, sealed_url, sealed_secret FROM notification_channels WHERE org_slug = $1 AND channel_id = $2', [orgSlug, channelId]);
      return row;
    },

    /** Digest channels of the org, for a change of its timezone or digest time. */
    digestChannels(tx: Queryable, orgSlug: string): Promise<{ channel_id: string }[]> {
      return tx.query<{ channel_id: string }>("SELECT channel_id::text AS channel_id FROM notification_channels WHERE org_slug = $1 AND delivery = 'digest' FOR UPDATE", [orgSlug]);
    },

    async setNextDigest(tx: Queryable, orgSlug: string, channelId: string, at: Date | null): Promise<void> {
      await tx.query('UPDATE notification_channels SET next_digest_at = $3 WHERE org_slug = $1 AND channel_id = $2', [orgSlug, channelId, at]);
    },

    /**
     * Deliveries a channel change leaves without a sender: a disabled channel's waiting ones are
     * cancelled (re-enabling it must not flood it with stale news); an instant channel's held
     * ones (it was a digest channel) go out now.
     */
    async settleWaiting(tx: Queryable, orgSlug: string, channelId: string, change: { disabled: boolean; instant: boolean }, now: Date): Promise<void> {
      if (change.disabled) {
        await tx.query(
          `UPDATE notification_deliveries SET status = 'cancelled', last_error = 'the channel was disabled'
            WHERE org_slug = $1 AND channel_id = $2 AND status IN ('pending', 'held') AND NOT in_flight`,
          [orgSlug, channelId],
        );
      } else if (change.instant) {
        await tx.query("UPDATE notification_deliveries SET status = 'pending', next_attempt_at = $3 WHERE org_slug = $1 AND channel_id = $2 AND status = 'held'", [orgSlug, channelId, now]);
      }
    },
  };
}

export type ChannelStore = ReturnType<typeof channelStore>;

/** A channel as the API and the CLI show it: its URL and secret as hints only. */
export function channelView(channel: Channel) {
  return {
    channel_id: channel.channel_id, name: channel.name, kind: channel.kind, enabled: channel.is_enabled, delivery: channel.delivery, events: channel.routes,
    recipients: channel.recipients, url: channel.url_hint, secret: channel.secret_hint, next_digest_at: channel.next_digest_at,
    last_error: channel.last_error, last_status_code: channel.last_status_code, last_error_at: channel.last_error_at, last_success_at: channel.last_success_at,
    paused_until: channel.paused_until, created_at: channel.created_at, updated_at: channel.updated_at,
  };
}
