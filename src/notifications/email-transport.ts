import { createTransport } from 'nodemailer';
import type { Secret } from '../shared/secret.ts';
import type { SendOutcome } from './delivery-policy.ts';
import type { Send } from './transports.ts';

export interface SmtpSettings {
  /** `smtp://user:pass@host:587` (STARTTLS when offered; `?requireTLS=true` to insist) or `smtps://…:465` (TLS from the start); `tls.*` query options reach Node's TLS. */
  url: Secret | undefined;
  from: string;
}

/** Connection failures are the moment's, retried; so is a refused login (the operator's SMTP_URL, fixable without touching the message). */
const RETRYABLE_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EAUTH', 'ECONNREFUSED', 'ECONNRESET', 'EABORT']);

/**
 * Email over SMTP with nodemailer, one connection per message. Every phase has a deadline
 * (connect, greeting, socket inactivity) and the whole send is aborted at the context's
 * timeout. The Message-ID is derived from the idempotency key, so a receiving system that
 * deduplicates by Message-ID keeps one copy even of a repeated attempt.
 */
export function emailTransport(smtp: SmtpSettings): Send {
  return async (message, target, context) => {
    if (!smtp.url) return { ok: false, permanent: true, error: 'email is not configured on this service (SMTP_URL)' };
    if (target.recipients.length === 0) return { ok: false, permanent: true, error: 'the channel has no recipients' };
    const transport = createTransport({
      url: smtp.url.reveal(),
      connectionTimeout: context.timeoutMs,
      greetingTimeout: context.timeoutMs,
      socketTimeout: context.timeoutMs,
      dnsTimeout: context.timeoutMs,
    });
    try {
      const info = await transport.sendMail({
        from: smtp.from,
        to: target.recipients,
        subject: message.subject,
        text: message.text,
        html: message.html,
        messageId: `<${context.idempotencyKey.replace(/[^A-Za-z0-9.:-]/g, '-')}@finops-pipeline>`,
        headers: { 'X-Idempotency-Key': context.idempotencyKey },
        signal: AbortSignal.timeout(context.timeoutMs),
      });
      return { ok: true, code: responseCode(info.response) };
    } catch (error) {
      return classifySmtpError(error, context.timeoutMs);
    } finally {
      transport.close();
    }
  };
}

function responseCode(response: unknown): number | undefined {
  const match = typeof response === 'string' ? /^(\d{3})/.exec(response) : null;
  return match ? Number(match[1]) : undefined;
}

export function classifySmtpError(error: unknown, timeoutMs: number): SendOutcome {
  const { code, responseCode: smtpCode, name } = error as { code?: string; responseCode?: number; name?: string };
  if (name === 'AbortError' || name === 'TimeoutError') return { ok: false, permanent: false, error: `no answer within ${timeoutMs / 1000}s` };
  const said = smtpText(error);
  if (typeof smtpCode === 'number') {
    // 5xx is the server refusing this message or these recipients for good (RFC 5321 §4.2.1), except a refused login.
    const permanent = smtpCode >= 500 && code !== 'EAUTH';
    return { ok: false, permanent, code: smtpCode, error: said };
  }
  if (code && RETRYABLE_CODES.has(code)) return { ok: false, permanent: false, error: said };
  return { ok: false, permanent: false, error: said };
}

/** The server's answer or the connection's error, without the SMTP URL (which holds the password). */
function smtpText(error: unknown): string {
  const { code, response, message } = error as { code?: string; response?: string; message?: string };
  const text = typeof response === 'string' && response ? response : (message ?? 'SMTP error');
  return `${code ? `${code}: ` : ''}${text.replace(/smtps?:\/\/\S+/g, '[smtp url]')}`.slice(0, 300);
}
