import { jsonb, type Db } from './db.ts';

export type AuditOutcome = 'pending' | 'success' | 'failure';
export type AuditVia = 'api' | 'cli' | 'engine';

/** One admin or credential action (migration 011). Nothing in it is a secret or a request body. */
export interface AuditEntry {
  /** The org acted on; null for the service as a whole. */
  org_slug: string | null;
  /** 'root', 'key:<key prefix>', 'cli:<os user>', 'engine', 'anonymous'. */
  actor: string;
  /** The org whose API key acted. */
  actor_org?: string | null;
  via: AuditVia;
  /** A stable name, `<resource>.<verb>`: `credential.rotate`, `key.revoke`. */
  action: string;
  target_id?: string | null;
  request_id?: string | null;
  outcome: AuditOutcome;
  /** The HTTP status the caller got (API only). */
  status?: number | null;
  error_code?: string | null;
  run_id?: string | null;
  step_id?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: number;
  created_at: Date;
  org_slug: string | null;
  actor: string;
  actor_org: string | null;
  via: AuditVia;
  action: string;
  target_id: string | null;
  request_id: string | null;
  outcome: AuditOutcome;
  status: number | null;
  error_code: string | null;
  run_id: string | null;
  step_id: string | null;
  details: Record<string, unknown>;
}

/** How an action that was recorded as pending ended, and what only its end knew (a created id, a rotation). */
export interface AuditEnd {
  outcome: Exclude<AuditOutcome, 'pending'>;
  status?: number | null;
  error_code?: string | null;
  action?: string;
  org_slug?: string | null;
  target_id?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditFilter {
  /** An action, or a prefix ending in `.*` (`credential.*`). */
  action?: string | undefined;
  actor?: string | undefined;
  /** The actor filter matches no key of another org (an org's own view, where those are masked). */
  ownActorsOnly?: boolean;
  outcome?: AuditOutcome | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** The last row of the previous page: entries are listed newest first. */
  before?: AuditCursor | undefined;
  limit: number;
}

export interface AuditCursor {
  created_at: Date;
  id: number;
}

/** What an org or a target may be: a caller's text that is not a plain identifier is not kept. */
const SLUG = /^[a-z][a-z0-9_]{1,48}[a-z0-9]$/;
const IDENTIFIER = /^[A-Za-z0-9_.:/@-]{1,200}$/;
const slugOrNull = (value: string | null | undefined) => (value && SLUG.test(value) ? value : null);
const identifierOrNull = (value: string | null | undefined) => (value && IDENTIFIER.test(value) ? value : null);

const COLUMNS = 'id, created_at, org_slug, actor, actor_org, via, action, target_id, request_id, outcome, status, error_code, run_id, step_id, details';

/**
 * The audit log: each write is one statement, so recording never holds a transaction of its own.
 * An org or target that is not a plain identifier (a caller's malformed path) is stored as null.
 */
export function auditStore(db: Db) {
  return {
    /** Inserts the entry; its id, for `settle` when the entry is pending. */
    async record(entry: AuditEntry): Promise<number> {
      const [row] = await db.query<{ id: number }>(
        `INSERT INTO audit_log (org_slug, actor, actor_org, via, action, target_id, request_id, outcome, status, error_code, run_id, step_id, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
        [slugOrNull(entry.org_slug), entry.actor.slice(0, 100), slugOrNull(entry.actor_org), entry.via, entry.action, identifierOrNull(entry.target_id), entry.request_id ?? null, entry.outcome, entry.status ?? null, entry.error_code ?? null, entry.run_id ?? null, entry.step_id ?? null, jsonb(entry.details ?? {})],
      );
      return Number(row?.id);
    },

    /** Records the end of a pending entry; what the end knew is kept beside what the start did. */
    async settle(id: number, end: AuditEnd): Promise<void> {
      await db.query(
        `UPDATE audit_log SET outcome = $2, status = $3, error_code = $4, action = COALESCE($5, action), org_slug = COALESCE(org_slug, $6),
                target_id = COALESCE(target_id, $7), details = details || $8::jsonb
          WHERE id = $1 AND outcome = 'pending'`,
        [id, end.outcome, end.status ?? null, end.error_code ?? null, end.action ?? null, slugOrNull(end.org_slug), identifierOrNull(end.target_id), jsonb(end.details ?? {})],
      );
    },

    /** Entries newest first: one org's, or every org's (and the service's own) when `orgSlug` is undefined. */
    async list(orgSlug: string | undefined, filter: AuditFilter): Promise<AuditRow[]> {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: (n: string) => string, value: unknown) => {
        params.push(value);
        where.push(sql(`$${params.length}`));
      };
      if (orgSlug !== undefined) add((n) => `org_slug = ${n}`, orgSlug);
      if (filter.action?.endsWith('.*')) add((n) => `starts_with(action, ${n})`, filter.action.slice(0, -1));
      else if (filter.action !== undefined) add((n) => `action = ${n}`, filter.action);
      if (filter.actor !== undefined) add((n) => `actor = ${n}${filter.ownActorsOnly ? ' AND (actor_org IS NULL OR actor_org = org_slug)' : ''}`, filter.actor);
      if (filter.outcome !== undefined) add((n) => `outcome = ${n}`, filter.outcome);
      if (filter.since !== undefined) add((n) => `created_at >= ${n}`, filter.since);
      if (filter.until !== undefined) add((n) => `created_at < ${n}`, filter.until);
      if (filter.before !== undefined) {
        params.push(filter.before.created_at, filter.before.id);
        where.push(`(created_at, id) < ($${params.length - 1}, $${params.length})`);
      }
      params.push(filter.limit);
      return db.query<AuditRow>(
        `SELECT ${COLUMNS} FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
        params,
      );
    },
  };
}

export type AuditStore = ReturnType<typeof auditStore>;
