import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Secret } from '../shared/secret.ts';
import type { KeyWrapper } from './key-wrapper.ts';

export interface Sealed {
  key_ref: string;
  wrapped_key: string;
  iv: string;
  ciphertext: string;
  auth_tag: string;
}

/** Envelope encryption: a fresh AES-256-GCM data key per secret, itself wrapped by the master key. */
export async function seal(secret: Secret, wrapper: KeyWrapper): Promise<Sealed> {
  const dataKey = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
  const ciphertext = Buffer.concat([cipher.update(secret.reveal(), 'utf8'), cipher.final()]);
  const wrapped = await wrapper.wrap(dataKey);
  dataKey.fill(0);
  return { key_ref: wrapper.keyRef, wrapped_key: wrapped.toString('base64'), iv: iv.toString('base64'), ciphertext: ciphertext.toString('base64'), auth_tag: cipher.getAuthTag().toString('base64') };
}

export async function open(sealed: Sealed, wrappers: (keyRef: string) => KeyWrapper): Promise<Secret> {
  const dataKey = await wrappers(sealed.key_ref).unwrap(Buffer.from(sealed.wrapped_key, 'base64'));
  const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(sealed.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(sealed.auth_tag, 'base64'));
  const plaintext = Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
  dataKey.fill(0);
  return new Secret(plaintext);
}
