import { retryAfterMs } from './delivery-policy.ts';

export type PostResult =
  | { kind: 'response'; status: number; body: string; retryAfterMs: number | undefined }
  | { kind: 'network'; error: string };

/** How much of a receiver's answer is kept: Slack's errors are one word, a webhook's page is not worth storing. */
const BODY_CHARS = 300;

/**
 * One POST with a deadline on the whole exchange, body included. Redirects are not followed
 * (a receiver's 3xx could point the request, and its signature, at an internal address). The
 * URL is a credential (a Slack webhook's path is its token), so no error names it.
 */
export async function postJson(url: string, body: string, headers: Record<string, string>, timeoutMs: number, now: () => Date): Promise<PostResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'finops-pipeline-notifier/1', ...headers }, body, redirect: 'manual', signal });
    const text = await response.text();
    return { kind: 'response', status: response.status, body: text.slice(0, BODY_CHARS), retryAfterMs: retryAfterMs(response.headers.get('retry-after'), now()) };
  } catch (error) {
    return { kind: 'network', error: networkError(error, signal, timeoutMs) };
  }
}

function networkError(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `no answer within ${Math.round(timeoutMs / 100) / 10}s`;
  const cause = (error as { cause?: { code?: string } }).cause;
  const code = cause?.code ?? (error as { code?: string }).code;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host lookup failed (temporary)',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    UND_ERR_SOCKET: 'connection closed by the receiver',
  };
  if (code && known[code]) return known[code];
  if (code && (code.startsWith('ERR_TLS') || code.includes('CERT'))) return `TLS error (${code})`;
  return code ? `network error (${code})` : 'network error';
}
