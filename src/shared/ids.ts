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

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
