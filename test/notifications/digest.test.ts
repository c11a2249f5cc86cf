import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';
import { slackReceiver, smtpReceiver, type HttpReceiver } from './receivers.ts';

for (const factory of controlPlaneFactories()) describe(`daily digests on ${factory.name}`, () => {
  let cp: ControlPlane;
  let app: App;
  let smtp: Awaited<ReturnType<typeof smtpReceiver>>;
  let slack: HttpReceiver;
  let instant: HttpReceiver;
  const org = 'digest_org';

  before(async () => {
    cp = await factory.open();
    smtp = await smtpReceiver();
    slack = await slackReceiver();
    instant = await slackReceiver();
    app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0', SMTP_URL: smtp.url } });
    await app.orgs.create(org, org, { plan: 'TEST', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 10 });
  });
  after(async () => {
    await slack.close();
    await instant.close();
    await smtp.close();
    await app.close();
    await cp.close();
  });

  let order = 0;
  const event = async (kind: 'run_ended' | 'cost_alert', status: string | null, pipeline: string | null) => {
    // Apart by a millisecond each: the embedded database's clock may give two statements the same now().
    await cp.db.query(
      `INSERT INTO notification_events (org_slug, kind, severity, provider, domain, pipeline, run_id, payload, created_at) VALUES ($1, $2, $3, 'genai', 'payg', $4, $5, $6, now() + make_interval(secs => $7::float8 / 1000))`,
      [org, kind, kind === 'cost_alert' ? 'WARNING' : status === 'failed' ? 'ERROR' : 'INFO', pipeline, pipeline ? randomUUID() : null,
        JSON.stringify(kind === 'cost_alert' ? { rule_name: 'Budget 80%', amount: 8000, currency: 'EUR' } : { status, ended_at: new Date().toISOString(), error: status === 'failed' ? 'boom' : null }), ++order],
    );
  };

  test("digest channels get one message at the org's local time summarising what happened; instant channels get each at once", async () => {
    await app.notifications.updateSettings(org, { timezone: 'Asia/Tokyo', digest_time: '09:00' });
    const all = [{ kind: 'pipeline_success' as const }, { kind: 'pipeline_failure' as const }, { kind: 'cost_alert' as const }];
    const daily = await app.notifications.putChannel(org, 'daily', { kind: 'slack', url: slack.url, delivery: 'digest', events: all });
    await app.notifications.putChannel(org, 'mail', { kind: 'email', recipients: ['team@example.com'], delivery: 'digest', events: all });
    await app.notifications.putChannel(org, 'now', { kind: 'slack', url: instant.url, events: all });
    const due = daily.next_digest_at as Date;
    assert.equal(due.toISOString().slice(11), '00:00:00.000Z', '09:00 in Tokyo');
    assert.ok(due.getTime() > Date.now() && due.getTime() <= Date.now() + 86_400_000);

    await event('run_ended', 'completed', 'openai');
    await event('run_ended', 'failed', 'anthropic');
    await event('cost_alert', null, null);
    const planned = await app.notifications.notifier.notifyPass();
    assert.deepEqual([planned.planned, planned.planned_deliveries, planned.sent, planned.digests], [3, 9, 3, 0]);
    assert.equal(instant.received.length, 3, 'the instant channel gets each message');
    assert.equal(slack.received.length, 0, 'the digest channel waits for its time');
    assert.equal(smtp.messages.length, 0);
    // A minute before the digest time: still nothing.
    assert.equal((await app.notifications.notifier.notifyPass(new Date(due.getTime() - 60_000))).digests, 0);

    const at = new Date(due.getTime() + 60_000);
    const pass = await app.notifications.notifier.notifyPass(at);
    assert.deepEqual([pass.digests, pass.sent], [2, 2]);
    assert.equal(slack.received.length, 1);
    const text = JSON.stringify(slack.received[0]?.json);
    assert.match(String(slack.received[0]?.json.text), new RegExp(`${org}: daily digest to ${due.toISOString().slice(0, 16).replace('T', ' ')} UTC: 1 pipeline success, 1 pipeline failure, 1 cost alert`));
    for (const line of ['genai/payg/openai completed', 'genai/payg/anthropic failed (boom)', 'cost alert: Budget 80% (8,000 EUR)']) assert.ok(text.includes(line), `${line} in ${text}`);
    assert.equal(smtp.messages.length, 1);
    assert.deepEqual(smtp.messages[0]?.to, ['team@example.com']);
    assert.match(smtp.messages[0]?.text ?? '', /Messages: 3/);
    assert.match(smtp.messages[0]?.html ?? '', /genai\/payg\/anthropic failed \(boom\)/);
    const [key] = await cp.db.query<{ idempotency_key: string }>("SELECT idempotency_key FROM notification_deliveries WHERE org_slug = $1 AND message_kind = 'digest' AND channel_id = $2", [org, daily.channel_id]);
    assert.equal(key?.idempotency_key, `digest:${daily.channel_id}:${new Date(due.getTime() + 9 * 3_600_000).toISOString().slice(0, 10)}`);

    // The next digest is tomorrow at 09:00 Tokyo; a later pass the same day sends nothing more.
    assert.equal((await app.notifications.get(org, 'daily')).next_digest_at?.getTime(), due.getTime() + 86_400_000);
    assert.deepEqual((await app.notifications.notifier.notifyPass(new Date(at.getTime() + 3_600_000))).digests, 0);
    // A day without events makes no digest.
    assert.equal((await app.notifications.notifier.notifyPass(new Date(due.getTime() + 86_400_000 + 60_000))).digests, 0);
    assert.equal(slack.received.length, 1);
    assert.equal(smtp.messages.length, 1);
  });

  test('turning a digest channel instant sends what it held at once', async () => {
    await event('run_ended', 'failed', 'gemini');
    await app.notifications.notifier.notifyPass();
    const held = await cp.db.query("SELECT 1 FROM notification_deliveries d JOIN notification_channels c USING (org_slug, channel_id) WHERE d.org_slug = $1 AND c.name = 'daily' AND d.status = 'held'", [org]);
    assert.equal(held.length, 1);
    const before = slack.received.length;
    await app.notifications.putChannel(org, 'daily', { kind: 'slack', delivery: 'instant' });
    await app.notifications.notifier.notifyPass();
    assert.equal(slack.received.length, before + 1);
    assert.match(String(slack.received.at(-1)?.json.text), /genai\/payg\/gemini failed/);
  });
});
