import type { SendOutcome } from './delivery-policy.ts';
import { postJson } from './http-post.ts';
import type { Send } from './transports.ts';

/**
 * Slack incoming webhooks. Slack answers 200 `ok`; its errors are a status and one word
 * (api.slack.com/messaging/webhooks, "Handling errors"): 400 invalid_payload / user_not_found,
 * 403 invalid_token / action_prohibited, 404 no_service / channel_not_found, 410
 * channel_is_archived are the message's or the webhook's fault and are not retried; 429
 * (with Retry-After) and 5xx are Slack's moment and are.
 */
export function slackTransport(options: { now: () => Date }): Send {
  return async (message, target, context) => {
    if (!target.url) return { ok: false, permanent: true, error: 'the channel has no webhook URL' };
    const result = await postJson(target.url.reveal(), JSON.stringify({ text: message.slack.text, blocks: message.slack.blocks }), {}, context.timeoutMs, options.now);
    return classifySlack(result);
  };
}

export function classifySlack(result: Awaited<ReturnType<typeof postJson>>): SendOutcome {
  if (result.kind === 'network') return { ok: false, permanent: false, error: result.error };
  const { status, body } = result;
  const said = body.trim().slice(0, 100) || `HTTP ${status}`;
  if (status >= 200 && status < 300) return { ok: true, code: status };
  if (status === 429) return { ok: false, permanent: false, code: status, error: `rate limited (${said})`, retryAfterMs: result.retryAfterMs };
  if (status >= 500) return { ok: false, permanent: false, code: status, error: said, retryAfterMs: result.retryAfterMs };
  if (status >= 300 && status < 400) return { ok: false, permanent: true, code: status, error: `redirected (HTTP ${status}); Slack webhook URLs answer directly` };
  return { ok: false, permanent: true, code: status, error: said };
}
