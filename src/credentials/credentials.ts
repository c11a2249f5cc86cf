import { InputError, NotFoundError } from '../shared/errors.ts';
import { Secret } from '../shared/secret.ts';
import type { CredentialAccess } from '../processors/types.ts';
import type { AuditStore } from '../store/audit.ts';
import type { CredentialStore } from '../store/credentials.ts';
import { open, seal } from './envelope.ts';
import type { KeyWrapper } from './key-wrapper.ts';

const PROVIDER = /^[a-z][a-z0-9_]{1,40}$/;
const CREDENTIAL_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Metadata is for non-secret settings; a key that names a secret is refused so none hides there. */
const SECRET_LIKE = /(secret|password|token|api_?key|private)/i;

/**
 * Setting, rotating, listing and deleting an org's provider credentials (admin API and CLI),
 * and the steps' access to them. Secrets are sealed before they reach the store and opened
 * only inside the step that asks; each such read is an audit entry (credential.read), written
 * before the secret is handed over, so a read that cannot be recorded does not happen.
 */
export function credentialService(options: { store: CredentialStore; audit: Pick<AuditStore, 'record'>; wrapper: KeyWrapper; wrappers?: (keyRef: string) => KeyWrapper }) {
  const wrapperFor = options.wrappers ?? ((keyRef: string) => {
    if (keyRef !== options.wrapper.keyRef) throw new Error(`credential sealed with ${keyRef}, but this service holds ${options.wrapper.keyRef}`);
    return options.wrapper;
  });

  return {
    async set(orgSlug: string, input: { provider: string; credentialId?: string | undefined; secret: string; metadata?: Record<string, unknown> | undefined }) {
      const credentialId = input.credentialId ?? 'default';
      if (!PROVIDER.test(input.provider)) throw new InputError('provider must be lowercase letters, digits or _', { field: 'provider' });
      if (!CREDENTIAL_ID.test(credentialId)) throw new InputError('credential_id must be 1-64 letters, digits, _ or -', { field: 'credential_id' });
      if (typeof input.secret !== 'string' || input.secret.trim().length === 0 || input.secret.length > 16_384) throw new InputError('secret must be a non-empty string of at most 16 KiB', { field: 'secret' });
      const metadata = input.metadata ?? {};
      // Stored as jsonb, which refuses \u0000 (a database error, and a 500, before this check).
      const json = JSON.stringify(metadata);
      if (json.length > 16_384 || json.includes('\\u0000')) throw new InputError('metadata must be at most 16 KiB of JSON, without NUL characters', { field: 'metadata' });
      const secretKey = Object.keys(metadata).find((key) => SECRET_LIKE.test(key));
      if (secretKey) throw new InputError(`metadata.${secretKey} looks like a secret: metadata is stored in clear; put the secret in "secret"`, { field: `metadata.${secretKey}` });
      const sealed = await seal(new Secret(input.secret.trim()), options.wrapper);
      return options.store.put(orgSlug, input.provider, credentialId, sealed, metadata);
    },

    list: (orgSlug: string) => options.store.list(orgSlug),
    delete: (orgSlug: string, provider: string, credentialId = 'default') => options.store.delete(orgSlug, provider, credentialId),

    /** Whether a credential exists, without opening it. */
    async has(orgSlug: string, provider: string, credentialId: string): Promise<boolean> {
      return (await options.store.sealed(orgSlug, provider, credentialId)) !== undefined;
    },

    /** What a run's steps get: decryption on demand, for this org and this run's credential only. */
    accessFor(orgSlug: string, runCredentialId: string, reader: { runId?: string; stepId?: string } = {}): CredentialAccess {
      return {
        async get(provider, credentialId = runCredentialId) {
          const read = { org_slug: orgSlug, actor: 'engine', via: 'engine', action: 'credential.read', target_id: `${provider}/${credentialId}`, run_id: reader.runId ?? null, step_id: reader.stepId ?? null } as const;
          let credential;
          try {
            const sealed = await options.store.sealed(orgSlug, provider, credentialId);
            if (!sealed) throw new NotFoundError(`No ${provider} credential "${credentialId}" for ${orgSlug}: add one with pipeline credential set ${orgSlug} ${provider}`);
            credential = { provider, credentialId, secret: await open(sealed, wrapperFor), metadata: sealed.metadata };
          } catch (error) {
            await options.audit.record({ ...read, outcome: 'failure', error_code: error instanceof NotFoundError ? error.code : 'unsealable' });
            throw error;
          }
          await options.audit.record({ ...read, outcome: 'success' });
          return credential;
        },
      };
    },
  };
}

export type CredentialService = ReturnType<typeof credentialService>;
