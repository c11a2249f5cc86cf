import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../shared/errors.ts';
import { newApiKey, sha256 } from '../shared/ids.ts';
import type { Db } from './db.ts';

export type SubscriptionStatus = 'ACTIVE' | 'TRIAL' | 'PAST_DUE' | 'SUSPENDED' | 'CANCELLED';

export interface PlanLimits {
  plan: string;
  status: SubscriptionStatus;
  daily_limit: number;
  monthly_limit: number;
  concurrent_limit: number;
}

export interface Organization {
  org_slug: string;
  name: string;
  created_at: Date;
}

export interface Subscription extends PlanLimits {
  org_slug: string;
  runs_today: number;
  runs_this_month: number;
  running_count: number;
  success_count: number;
  failure_count: number;
}

export interface ApiKeyInfo {
  key_id: string;
  key_prefix: string;
  name: string;
  created_at: Date;
  revoked_at: Date | null;
}

/** Organisations, their subscription and their API keys. */
export function orgStore(db: Db) {
  async function insertKey(tx: Pick<Db, 'query'>, orgSlug: string, name: string) {
    const { key, hash, prefix } = newApiKey(orgSlug);
    const keyId = randomUUID();
    await tx.query('INSERT INTO org_api_keys (org_slug, key_id, key_hash, key_prefix, name) VALUES ($1, $2, $3, $4, $5)', [orgSlug, keyId, hash, prefix, name]);
    return { key_id: keyId, api_key: key, key_prefix: prefix };
  }

  return {
    /** Creates the org, its subscription and a first key, all or nothing. The key is returned once. */
    async create(orgSlug: string, name: string, limits: PlanLimits) {
      return db.transaction(async (tx) => {
        const inserted = await tx.query('INSERT INTO organizations (org_slug, name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING org_slug', [orgSlug, name]);
        if (inserted.length === 0) throw new ConflictError(`Organization ${orgSlug} already exists`);
        await tx.query(
          'INSERT INTO subscriptions (org_slug, plan, status, daily_limit, monthly_limit, concurrent_limit) VALUES ($1, $2, $3, $4, $5, $6)',
          [orgSlug, limits.plan, limits.status, limits.daily_limit, limits.monthly_limit, limits.concurrent_limit],
        );
        return insertKey(tx, orgSlug, 'default');
      });
    },

    async get(orgSlug: string): Promise<Organization | undefined> {
      const [org] = await db.query<Organization>('SELECT org_slug, name, created_at FROM organizations WHERE org_slug = $1', [orgSlug]);
      return org;
    },

    async list(): Promise<Organization[]> {
      return db.query<Organization>('SELECT org_slug, name, created_at FROM organizations ORDER BY org_slug');
    },

    async count(): Promise<number> {
      const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM organizations');
      return row?.n ?? 0;
    },

    /** The subscription with today's and this month's counters as of `now` (UTC). */
    async subscription(orgSlug: string, now = new Date()): Promise<Subscription> {
      const [row] = await db.query<Subscription>(
        `SELECT org_slug, plan, status, daily_limit, monthly_limit, concurrent_limit, running_count, success_count, failure_count,
                CASE WHEN quota_day = $2::date THEN runs_today ELSE 0 END AS runs_today,
                CASE WHEN quota_month = date_trunc('month', $2::date)::date THEN runs_this_month ELSE 0 END AS runs_this_month
           FROM subscriptions WHERE org_slug = $1`,
        [orgSlug, now.toISOString().slice(0, 10)],
      );
      if (!row) throw new NotFoundError(`Organization ${orgSlug} not found`);
      return row;
    },

    async updateSubscription(orgSlug: string, changes: Partial<PlanLimits>): Promise<Subscription> {
      const columns = (['plan', 'status', 'daily_limit', 'monthly_limit', 'concurrent_limit'] as const).filter((column) => changes[column] !== undefined);
      if (columns.length > 0) {
        const sets = columns.map((column, i) => `${column} = $${i + 2}`).join(', ');
        const rows = await db.query(`UPDATE subscriptions SET ${sets}, updated_at = now() WHERE org_slug = $1 RETURNING org_slug`, [orgSlug, ...columns.map((column) => changes[column])]);
        if (rows.length === 0) throw new NotFoundError(`Organization ${orgSlug} not found`);
      }
      return this.subscription(orgSlug);
    },

    async createKey(orgSlug: string, name = 'default') {
      if (!(await this.get(orgSlug))) throw new NotFoundError(`Organization ${orgSlug} not found`);
      return insertKey(db, orgSlug, name);
    },

    async revokeKey(orgSlug: string, keyId: string): Promise<void> {
      const rows = await db.query('UPDATE org_api_keys SET revoked_at = now() WHERE org_slug = $1 AND key_id = $2 AND revoked_at IS NULL RETURNING key_id', [orgSlug, keyId]);
      if (rows.length === 0) throw new NotFoundError(`Active API key ${keyId} not found for ${orgSlug}`);
    },

    async listKeys(orgSlug: string): Promise<ApiKeyInfo[]> {
      return db.query<ApiKeyInfo>('SELECT key_id, key_prefix, name, created_at, revoked_at FROM org_api_keys WHERE org_slug = $1 ORDER BY created_at', [orgSlug]);
    },

    /** The org an active key belongs to, looked up by its hash only. */
    async orgForKey(apiKey: string): Promise<string | undefined> {
      const [row] = await db.query<{ org_slug: string }>('SELECT org_slug FROM org_api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [sha256(apiKey)]);
      return row?.org_slug;
    },
  };
}

export type OrgStore = ReturnType<typeof orgStore>;
