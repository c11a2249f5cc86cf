import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkChannel } from '../../src/notifications/channel-input.ts';
import { decide, retryAfterMs, DEFAULT_DELIVERY_POLICY } from '../../src/notifications/delivery-policy.ts';
import { routeTakes } from '../../src/notifications/message-kinds.ts';
import { renderMessage, type MessageFacts } from '../../src/notifications/messages.ts';
import { HEALTHY, judgeRunEnd, type PipelineStreak } from '../../src/notifications/pipeline-streaks.ts';
import { classifySlack } from '../../src/notifications/slack-transport.ts';

const policy = { afterFailures: 3, afterHours: 24 };
const hour = (h: number) => new Date(Date.UTC(2026, 4, 1, h));

/** Runs a sequence of run ends through the streak rule; returns what each said. */
function replay(statuses: [string, Date][]): string[] {
  let streak: PipelineStreak = HEALTHY;
  return statuses.map(([status, at]) => {
    const verdict = judgeRunEnd(streak, status, at, policy);
    streak = verdict.next;
    if (verdict.kinds.length === 0) return '-';
    return verdict.kinds[0] === 'pipeline_failure' ? (verdict.details.reminder ? `reminder(${verdict.details.consecutive_failures})` : 'failure') : (verdict.kinds[0] as string);
  });
}

describe('consecutive failures, reminder and recovery', () => {
  test('one notice, one reminder after 3 more failures, silence, then one recovery', () => {
    const said = replay([['completed', hour(0)], ['failed', hour(1)], ['failed', hour(2)], ['failed', hour(3)], ['failed', hour(4)], ['failed', hour(5)], ['failed', hour(6)], ['completed', hour(7)], ['completed', hour(8)]]);
    assert.deepEqual(said, ['pipeline_success', 'failure', '-', '-', 'reminder(4)', '-', '-', 'pipeline_recovered', 'pipeline_success']);
  });

  test('the reminder comes at the first failure 24 h after the notice when failures are rare', () => {
    assert.deepEqual(replay([['failed', hour(0)], ['failed', hour(23)], ['failed', new Date(hour(0).getTime() + 24 * 3_600_000)], ['failed', hour(1)]]), ['failure', '-', 'reminder(3)', '-']);
  });

  test('a cancelled run neither breaks nor extends a streak', () => {
    assert.deepEqual(replay([['failed', hour(0)], ['cancelled', hour(1)], ['completed', hour(2)]]), ['failure', '-', 'pipeline_recovered']);
    let streak = judgeRunEnd(HEALTHY, 'failed', hour(0), policy).next;
    streak = judgeRunEnd(streak, 'cancelled', hour(1), policy).next;
    assert.equal(streak.consecutive_failures, 1);
  });

  test('a recovery says how many runs failed and since when; a new streak starts afresh', () => {
    let streak = judgeRunEnd(HEALTHY, 'failed', hour(1), policy).next;
    streak = judgeRunEnd(streak, 'failed', hour(2), policy).next;
    const recovered = judgeRunEnd(streak, 'completed', hour(3), policy);
    assert.deepEqual(recovered.kinds, ['pipeline_recovered', 'pipeline_success']);
    assert.deepEqual(recovered.details, { failures: 2, failing_since: hour(1).toISOString() });
    assert.deepEqual(replay([['failed', hour(1)], ['completed', hour(2)], ['failed', hour(3)]]), ['failure', 'pipeline_recovered', 'failure']);
  });
});

describe('retry decisions', () => {
  const down = { ok: false as const, permanent: false, error: 'connection refused' };
  test('exponential backoff from the base, capped, then given up after the last attempt', () => {
    assert.deepEqual([1, 2, 3].map((attempt) => decide(attempt, 10, down, DEFAULT_DELIVERY_POLICY)), [30_000, 60_000, 120_000].map((delayMs) => ({ action: 'retry', delayMs })));
    assert.deepEqual(decide(9, 10, down, DEFAULT_DELIVERY_POLICY), { action: 'retry', delayMs: 3_600_000 });
    assert.deepEqual(decide(10, 10, down, DEFAULT_DELIVERY_POLICY), { action: 'give_up', reason: 'attempts_exhausted' });
  });
  test('Retry-After wins over the backoff; a permanent refusal is never retried', () => {
    assert.deepEqual(decide(1, 10, { ...down, retryAfterMs: 7000 }, DEFAULT_DELIVERY_POLICY), { action: 'retry', delayMs: 7000 });
    assert.deepEqual(decide(1, 10, { ok: false, permanent: true, code: 410, error: 'channel_is_archived' }, DEFAULT_DELIVERY_POLICY), { action: 'give_up', reason: 'permanent' });
    assert.deepEqual(decide(3, 3, { ok: true, code: 200 }, DEFAULT_DELIVERY_POLICY), { action: 'sent' });
  });
  test('Retry-After in seconds or as an HTTP date', () => {
    const now = new Date('2026-05-01T00:00:00Z');
    assert.equal(retryAfterMs('30', now), 30_000);
    assert.equal(retryAfterMs('Fri, 01 May 2026 00:01:00 GMT', now), 60_000);
    assert.equal(retryAfterMs('soon', now), undefined);
    assert.equal(retryAfterMs(null, now), undefined);
  });
  test("Slack's answers: its refusals are permanent, its rate limit and its outages are not", () => {
    const answer = (status: number, body: string) => classifySlack({ kind: 'response', status, body, retryAfterMs: status === 429 ? 5000 : undefined });
    for (const [status, body] of [[400, 'invalid_payload'], [403, 'invalid_token'], [404, 'no_service'], [410, 'channel_is_archived']] as const) {
      assert.deepEqual(answer(status, body), { ok: false, permanent: true, code: status, error: body });
    }
    assert.deepEqual(answer(429, 'rate_limited'), { ok: false, permanent: false, code: 429, error: 'rate limited (rate_limited)', retryAfterMs: 5000 });
    assert.equal((answer(503, 'service_unavailable') as { permanent: boolean }).permanent, false);
    assert.deepEqual(answer(200, 'ok'), { ok: true, code: 200 });
  });
});

describe('routes and channel settings', () => {
  test('pipeline filters match whole segments, * one segment; cost events pass any filter', () => {
    const route = { kind: 'pipeline_failure' as const, pipelines: ['genai/payg/*', 'aws/cost/billing'] };
    assert.equal(routeTakes(route, 'pipeline_failure', 'genai/payg/openai'), true);
    assert.equal(routeTakes(route, 'pipeline_failure', 'aws/cost/billing'), true);
    assert.equal(routeTakes(route, 'pipeline_failure', 'aws/cost/billing_extra'), false);
    assert.equal(routeTakes(route, 'pipeline_failure', 'gcp/cost/billing'), false);
    assert.equal(routeTakes(route, 'pipeline_success', 'aws/cost/billing'), false);
    assert.equal(routeTakes({ kind: 'cost_alert' }, 'cost_alert', undefined), true);
  });

  test('in production a webhook must be public https, and a Slack URL on hooks.slack.com', () => {
    const production = { allowPrivateTargets: false };
    const field = (input: Parameters<typeof checkChannel>[0]) => {
      try {
        checkChannel(input, undefined, production);
        return 'ok';
      } catch (error) {
        return (error as { field?: string }).field;
      }
    };
    assert.equal(field({ kind: 'webhook', url: 'http://example.com/hook', secret: 'x'.repeat(32) }), 'url');
    for (const host of ['127.0.0.1', '169.254.169.254', '10.1.2.3', '[::1]', 'localhost', 'metadata.google.internal']) assert.equal(field({ kind: 'webhook', url: `https://${host}/hook`, secret: 'x'.repeat(32) }), 'url', host);
    assert.equal(field({ kind: 'webhook', url: 'https://example.com/hook', secret: 'x'.repeat(32) }), 'ok');
    assert.equal(field({ kind: 'slack', url: 'https://example.com/services/T/B/X' }), 'url');
    assert.equal(field({ kind: 'slack', url: 'https://hooks.slack.com/services/T/B/X' }), 'ok');
    assert.equal(field({ kind: 'webhook', url: 'https://example.com/hook', secret: 'short' }), 'secret');
  });
});

describe('messages', () => {
  const failure: MessageFacts = {
    orgSlug: 'acme', kind: 'pipeline_failure', severity: 'ERROR', details: { consecutive_failures: 1, reminder: false, failing_since: '2026-05-01T01:00:00.000Z' }, idempotencyKey: 'e1:c1', channelName: 'ops', baseUrl: 'https://pipelines.example.com/',
    event: { event_id: 'e1', kind: 'run_ended', provider: 'genai', domain: 'payg', pipeline: 'openai', run_id: '11111111-2222-3333-4444-555555555555', payload: { status: 'failed' }, created_at: new Date('2026-05-01T01:00:05Z') },
    run: { status: 'failed', trigger: 'schedule', started_at: new Date('2026-05-01T01:00:00Z'), ended_at: new Date('2026-05-01T01:01:05Z'), duration_ms: 65_000, records_processed: 0, error_message: 'genai.payg_usage: 401 from OpenAI' },
    failingStep: { step_id: 'extract_usage', ps_type: 'genai.payg_usage', attempts: 3, error_message: 'genai.payg_usage: 401 from OpenAI' },
  };

  test('a failure names org, pipeline, run, status, duration, the failing step and its error, and links to the run', () => {
    const message = renderMessage(failure);
    assert.equal(message.subject, '[ERROR] acme: genai/payg/openai failed');
    for (const expected of ['Organization: acme', 'Pipeline: genai/payg/openai', 'Run: 11111111-2222-3333-4444-555555555555', 'Status: failed', 'Duration: 1m 5s', 'Failing step: extract_usage (genai.payg_usage, 3 attempts)', 'Step error: genai.payg_usage: 401 from OpenAI', 'Run: https://pipelines.example.com/api/v1/pipelines/status/acme/11111111-2222-3333-4444-555555555555']) {
      assert.ok(message.text.includes(expected), `text has ${expected}:\n${message.text}`);
    }
    assert.match(message.html, /<a href="https:\/\/pipelines\.example\.com\/api\/v1\/pipelines\/status\/acme\/11111111-2222-3333-4444-555555555555">/);
    assert.match(JSON.stringify(message.slack.blocks), /Failing step:\* extract_usage/);
    assert.equal((message.json.run as { failing_step: { step_id: string } }).failing_step.step_id, 'extract_usage');
  });

  test('HTML and Slack text are escaped', () => {
    const message = renderMessage({ ...failure, failingStep: { ...failure.failingStep!, error_message: '<script>alert(1)</script> & more' } });
    assert.ok(!message.html.includes('<script>'));
    assert.ok(message.html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more'));
    assert.ok(JSON.stringify(message.slack).includes('&lt;script&gt;'));
  });

  test('a cost alert carries its amounts and top contributors from the event payload', () => {
    const message = renderMessage({
      ...failure, kind: 'cost_alert', severity: 'WARNING', details: {}, run: null, failingStep: null,
      event: { event_id: 'e2', kind: 'cost_alert', provider: null, domain: null, pipeline: null, run_id: null, created_at: new Date('2026-05-02T06:00:00Z'),
        payload: { rule_name: 'Monthly budget', period: '2026-05', threshold_percent: 80, amount: 8123.456, budget: 10000, forecast: 12500, currency: 'USD',
          top_contributors: [{ service: 'Amazon EC2', sub_account: '123456789012', change: 2100.5 }, { service: 'OpenAI', change: 900 }] } },
    });
    assert.equal(message.subject, '[WARNING] acme: cost alert: Monthly budget');
    for (const expected of ['Amount: 8,123.46 USD', 'Budget: 10,000 USD', 'Forecast: 12,500 USD', 'Threshold percent: 80%', 'Period: 2026-05', '1. service Amazon EC2, sub account 123456789012, change 2,100.5 USD', '2. service OpenAI, change 900 USD']) {
      assert.ok(message.text.includes(expected), `text has ${expected}:\n${message.text}`);
    }
  });
});
