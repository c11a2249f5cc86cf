import { NotFoundError } from '../shared/errors.ts';
import type { Db } from './db.ts';

export interface SealedRow {
  key_ref: string;
  wrapped_key: string;
  iv: string;
  ciphertext: string;
  auth_tag: string;
}

export interface CredentialInfo {
  provider: string;
  credential_id: string;
  version: number;
  metadata: Record<string, unknown>;
  created_at: Date;
  rotated_at: Date | null;
}

/** Sealed provider credentials. This store never sees a plaintext secret. */
export function credentialStore(db: Db) {
  return {
    /** Inserts, or replaces and bumps the version (a rotation). Says which it was. */
    async put(orgSlug: string, provider: string, credentialId: string, sealed: SealedRow, metadata: Record<string, unknown>): Promise<CredentialInfo & { rotated: boolean }> {
      const [row] = await db.query<CredentialInfo & { rotated: boolean }>(
        `INSERT INTO org_credentials (org_slug, provider, credential_id, key_ref, wrapped_key, iv, ciphertext, auth_tag, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (org_slug, provider, credential_id) DO UPDATE SET key_ref = excluded.key_ref, wrapped_key = excluded.wrapped_key, iv = excluded.iv,
           ciphertext = excluded.ciphertext, auth_tag = excluded.auth_tag, metadata = excluded.metadata, version = org_credentials.version + 1, rotated_at = now()
         RETURNING provider, credential_id, version, metadata, created_at, rotated_at, version > 1 AS rotated`,
        [orgSlug, provider, credentialId, sealed.key_ref, sealed.wrapped_key, sealed.iv, sealed.ciphertext, sealed.auth_tag, JSON.stringify(metadata)],
      );
      return row as CredentialInfo & { rotated: boolean };
    },

    async sealed(orgSlug: string, provider: string, credentialId: string): Promise<(SealedRow & { metadata: Record<string, unknown> }) | undefined> {
      const [row] = await db.query<SealedRow & { metadata: Record<string, unknown> }>(
        'SELECT key_ref, wrapped_key, iv, ciphertext, auth_tag, metadata FROM org_credentials WHERE org_slug = $1 AND provider = $2 AND credential_id = $3',
        [orgSlug, provider, credentialId],
      );
      return row;
    },

    async list(orgSlug: string): Promise<CredentialInfo[]> {
      return db.query<CredentialInfo>('SELECT provider, credential_id, version, metadata, created_at, rotated_at FROM org_credentials WHERE org_slug = $1 ORDER BY provider, credential_id', [orgSlug]);
    },

    async delete(orgSlug: string, provider: string, credentialId: string): Promise<void> {
      const rows = await db.query('DELETE FROM org_credentials WHERE org_slug = $1 AND provider = $2 AND credential_id = $3 RETURNING provider', [orgSlug, provider, credentialId]);
      if (rows.length === 0) throw new NotFoundError(`No ${provider} credential ${credentialId} for ${orgSlug}`);
    },
  };
}

export type CredentialStore = ReturnType<typeof credentialStore>;
