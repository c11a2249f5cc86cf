import type { Secret } from '../shared/secret.ts';
import type { SendOutcome } from './delivery-policy.ts';
import type { Rendered } from './messages.ts';

export type ChannelKind = 'email' | 'slack' | 'webhook';

/** A channel opened for one send: its secrets decrypted, for this call only. */
export interface ChannelTarget {
  kind: ChannelKind;
  name: string;
  recipients: string[];
  url: Secret | undefined;
  secret: Secret | undefined;
}

export interface SendContext {
  idempotencyKey: string;
  /** The whole exchange (connection, TLS, answer) ends by then or counts as failed. */
  timeoutMs: number;
}

export type Send = (message: Rendered, target: ChannelTarget, context: SendContext) => Promise<SendOutcome>;
export type Transports = Record<ChannelKind, Send>;
