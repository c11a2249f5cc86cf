import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyManagementServiceClient } from '@google-cloud/kms';

/** Wraps and unwraps data keys with a master key that never leaves its home. */
export interface KeyWrapper {
  /** Names the master key; stored with each credential so a rotation of masters stays readable. */
  readonly keyRef: string;
  wrap(dataKey: Buffer): Promise<Buffer>;
  unwrap(wrapped: Buffer): Promise<Buffer>;
}

/**
 * Embedded mode: a 32-byte master key in a file created on first use with mode 0600. Data
 * keys are wrapped with AES-256-GCM (iv | tag | ciphertext).
 */
export function localKeyFileWrapper(path: string): KeyWrapper {
  let master: Buffer | undefined;
  // Read (or created) on first use, so processes that never touch a credential never touch the file.
  const masterKey = (): Buffer => {
    if (master) return master;
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    }
    if ((statSync(path).mode & 0o077) !== 0) throw new Error(`The master key file ${path} is readable by other users; chmod 600 it`);
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`The master key file ${path} does not hold a 32-byte key`);
    return (master = key);
  };
  return {
    keyRef: `file:${path}`,
    async wrap(dataKey) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', masterKey(), iv);
      const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    async unwrap(wrapped) {
      const decipher = createDecipheriv('aes-256-gcm', masterKey(), wrapped.subarray(0, 12));
      decipher.setAuthTag(wrapped.subarray(12, 28));
      return Buffer.concat([decipher.update(wrapped.subarray(28)), decipher.final()]);
    },
  };
}

/** Production: Cloud KMS (`projects/…/locations/…/keyRings/…/cryptoKeys/…`) wraps the data keys. */
export function cloudKmsWrapper(keyName: string, given?: Pick<KeyManagementServiceClient, 'encrypt' | 'decrypt'>): KeyWrapper {
  // The client loads on first use: a process that never opens a credential does not pay its import.
  let client: Promise<Pick<KeyManagementServiceClient, 'encrypt' | 'decrypt'>> | undefined = given && Promise.resolve(given);
  const kms = () => (client ??= import('@google-cloud/kms').then(({ KeyManagementServiceClient }) => new KeyManagementServiceClient()));
  return {
    keyRef: `kms:${keyName}`,
    async wrap(dataKey) {
      const [response] = await (await kms()).encrypt({ name: keyName, plaintext: dataKey });
      return Buffer.from(response.ciphertext as Uint8Array);
    },
    async unwrap(wrapped) {
      const [response] = await (await kms()).decrypt({ name: keyName, ciphertext: wrapped });
      return Buffer.from(response.plaintext as Uint8Array);
    },
  };
}

/** The settings' key wrapper: Cloud KMS with KMS_KEY_NAME, else the data folder's key file. */
export function keyWrapperFor(settings: { kmsKeyName?: string | undefined; dataDir: string }): KeyWrapper {
  return settings.kmsKeyName ? cloudKmsWrapper(settings.kmsKeyName) : localKeyFileWrapper(join(settings.dataDir, 'master.key'));
}
