import { createHmac } from 'node:crypto';
import type { SendOutcome } from './delivery-policy.ts';
import { postJson } from './http-post.ts';
import type { Send } from './transports.ts';

export const SIGNATURE_HEADER = 'x-pipeline-signature';
export const TIMESTAMP_HEADER = 'x-pipeline-timestamp';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/**
 * `v1=` HMAC-SHA256 (hex) of `{timestamp}.{body}` with the channel's secret, as Stripe and
 * Slack sign their requests: the receiver recomputes it, and refuses a timestamp too old to be
 * a fresh request, so a captured request cannot be replayed later.
 */
export function signature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * The generic webhook: the message as JSON, its idempotency key in `Idempotency-Key` (the same
 * on every attempt of one delivery, so a receiver can drop a repeat), signed. 2xx is delivered;
 * 408, 425, 429 and 5xx are retried; any other 4xx or a redirect is the receiver's refusal.
 */
export function webhookTransport(options: { now: () => Date }): Send {
  return async (message, target, context) => {
    if (!target.url || !target.secret) return { ok: false, permanent: true, error: 'the channel has no URL or no signing secret' };
    const body = JSON.stringify(message.json);
    const timestamp = String(Math.floor(options.now().getTime() / 1000));
    const headers = { [IDEMPOTENCY_HEADER]: context.idempotencyKey, [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signature(target.secret.reveal(), timestamp, body) };
    return classifyWebhook(await postJson(target.url.reveal(), body, headers, context.timeoutMs, options.now));
  };
}

function classifyWebhook(result: Awaited<ReturnType<typeof postJson>>): SendOutcome {
  if (result.kind === 'network') return { ok: false, permanent: false, error: result.error };
  const { status } = result;
  const said = `HTTP ${status}${result.body.trim() ? `: ${result.body.trim().slice(0, 200)}` : ''}`;
  if (status >= 200 && status < 300) return { ok: true, code: status };
  if (status === 408 || status === 425 || status === 429 || status >= 500) return { ok: false, permanent: false, code: status, error: said, retryAfterMs: result.retryAfterMs };
  if (status >= 300 && status < 400) return { ok: false, permanent: true, code: status, error: `redirected (HTTP ${status}); redirects are not followed` };
  return { ok: false, permanent: true, code: status, error: said };
}
