import { createHash, randomBytes, randomUUID } from 'node:crypto';

export interface IdGenerator {
  runId(): string;
}

export const randomIds: IdGenerator = { runId: () => randomUUID() };

/** Org API keys: `pk_<slug>_<43 random chars>`; only the SHA-256 is stored, the first 12 chars are kept for display. */
export function newApiKey(orgSlug: string): { key: string; hash: string; prefix: string } {
  const key = `pk_${orgSlug}_${randomBytes(32).toString('base64url')}`;
  return { key, hash: sha256(key), prefix: key.slice(0, orgSlug.length + 8) };
}

/**
 * The display prefix of a key shaped as newApiKey makes them, and its org, read from the key alone
 * (the random part is a fixed 43 characters, so the slug is what lies between). Undefined otherwise.
 */
export function apiKeyPrefix(key: string): { prefix: string; orgSlug: string } | undefined {
  const match = /^pk_([a-z][a-z0-9_]{1,48}[a-z0-9])_[A-Za-z0-9_-]{43}$/.exec(key);
  return match?.[1] ? { prefix: key.slice(0, match[1].length + 8), orgSlug: match[1] } : undefined;
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
