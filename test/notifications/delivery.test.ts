import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/main/app.ts';
import { deliveryStore } from '../../src/notifications/delivery-store.ts';
import { notificationService, type NotificationService } from '../../src/notifications/notifications.ts';
import { planEvents } from '../../src/notifications/plan-events.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { testApp } from '../support/test-app.ts';
import { closedPort, slackReceiver, smtpReceiver, webhookReceiver, type HttpReceiver } from './receivers.ts';

const SECRET = 'whsec_0123456789abcdef0123456789';
const later = (seconds: number) => new Date(Date.now() + seconds * 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const factory of controlPlaneFactories()) describe(`notification delivery on ${factory.name}`, () => {
  let cp: ControlPlane;
  let app: App;
  let smtp: Awaited<ReturnType<typeof smtpReceiver>>;
  const receivers: HttpReceiver[] = [];
  let orgCount = 0;

  before(async () => {
    cp = await factory.open();
    smtp = await smtpReceiver();
    app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0', SMTP_URL: smtp.url, SMTP_FROM: 'FinOps <finops@example.com>', PUBLIC_BASE_URL: 'https://finops.example.com' } });
  });
  after(async () => {
    for (const receiver of receivers) await receiver.close();
    await smtp.close();
    await app.close();
    await cp.close();
  });

  /** A notifier of its own, as another process would run (short lease and timeout, so tests see them run out). */
  const notifierProcess = (id: string, overrides: { leaseMs?: number; timeoutMs?: number; batch?: number } = {}): NotificationService =>
    notificationService({ db: cp.db, settings: app.settings, clock: app.clock, logger: silentLogger(), notifier: { id, leaseMs: 3000, timeoutMs: 1000, ...overrides } });

  const newOrg = async () => {
    const org = `notify_org_${++orgCount}`;
    await app.orgs.create(org, org, { plan: 'TEST', status: 'ACTIVE', daily_limit: 100, monthly_limit: 100, concurrent_limit: 10 });
    return org;
  };
  const receiver = async <T extends HttpReceiver>(made: Promise<T>): Promise<T> => {
    const r = await made;
    receivers.push(r);
    return r;
  };
  /** An outbox row as END_RUNS writes it. */
  const runEnded = async (org: string, status: 'completed' | 'failed', pipeline = 'payg/openai') => {
    const [domain, name] = pipeline.split('/');
    const [row] = await cp.db.query<{ event_id: string }>(
      `INSERT INTO notification_events (org_slug, kind, severity, provider, domain, pipeline, run_id, payload)
       VALUES ($1, 'run_ended', $2, 'genai', $3, $4, $5, jsonb_build_object('status', $6::text, 'ended_at', now(), 'error', $7::text, 'records', 0)) RETURNING event_id::text AS event_id`,
      [org, status === 'failed' ? 'ERROR' : 'INFO', domain, name, randomUUID(), status, status === 'failed' ? 'boom' : null],
    );
    return (row as { event_id: string }).event_id;
  };
  const costAlert = async (org: string) => {
    await cp.db.query(
      `INSERT INTO notification_events (org_slug, kind, severity, payload) VALUES ($1, 'cost_alert', 'WARNING', $2)`,
      [org, JSON.stringify({ rule_name: 'Daily spend over 500', day: '2026-05-03', amount: 812.5, threshold: 500, currency: 'USD', top_contributors: [{ service: 'Amazon EC2', amount: 600 }, { service: 'OpenAI', amount: 212.5 }] })],
    );
  };
  const history = (org: string) => app.notifications.history(org, { limit: 100 });
  const channelState = async (org: string, name: string) => app.notifications.get(org, name);

  test('email through a real SMTP server: STARTTLS and login, subject, recipients, text and HTML parts, the link to the run', async () => {
    const org = await newOrg();
    await app.notifications.putChannel(org, 'finance', { kind: 'email', recipients: ['finance@example.com', 'cto@example.com'], events: [{ kind: 'cost_alert' }, { kind: 'pipeline_failure' }] });
    await costAlert(org);
    await runEnded(org, 'failed');
    const before = smtp.messages.length;
    const pass = await app.notifications.notifier.notifyPass();
    assert.deepEqual([pass.planned, pass.planned_deliveries, pass.sent], [2, 2, 2]);
    const mails = smtp.messages.slice(before);
    assert.equal(mails.length, 2);
    const cost = mails.find((m) => m.subject.includes('cost alert'));
    const failure = mails.find((m) => m.subject.includes('failed'));
    assert.ok(cost && failure, mails.map((m) => m.subject).join(' | '));
    assert.equal(cost.subject, `[WARNING] ${org}: cost alert: Daily spend over 500`);
    assert.deepEqual(cost.to, ['finance@example.com', 'cto@example.com']);
    assert.equal(cost.from, 'finops@example.com');
    assert.equal(cost.secure, true, 'sent after STARTTLS');
    assert.equal(cost.user, 'notifier', 'authenticated with the SMTP_URL login');
    assert.match(cost.text, /Amount: 812\.5 USD/);
    assert.match(cost.text, /1\. service Amazon EC2, amount 600 USD/);
    assert.match(cost.html, /<li>service OpenAI, amount 212\.5 USD<\/li>/);
    assert.equal(failure.subject, `[ERROR] ${org}: genai/payg/openai failed`);
    assert.match(failure.text, new RegExp(`Run: https://finops\\.example\\.com/api/v1/pipelines/status/${org}/[0-9a-f-]{36}`));
    assert.match(failure.html, new RegExp(`<a href="https://finops\\.example\\.com/api/v1/pipelines/status/${org}/[0-9a-f-]{36}">Open the run</a>`));
    const attempts = await history(org);
    assert.deepEqual(attempts.map((a) => [a.status, a.response_code, a.attempt]), [['sent', 250, 1], ['sent', 250, 1]]);
    // Sent is sent: later passes send nothing more.
    assert.equal((await app.notifications.notifier.notifyPass(later(7200))).sent, 0);
    assert.equal(smtp.messages.length, before + 2);
  });

  test('Slack answers 200 ok: one message per event and channel, whatever the passes and planners', async () => {
    const org = await newOrg();
    const slack = await receiver(slackReceiver());
    await app.notifications.putChannel(org, 'ops', { kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure' }] });
    const eventId = await runEnded(org, 'failed');
    await app.notifications.notifier.notifyPass();
    assert.equal(slack.received.length, 1);
    assert.match(String(slack.received[0]?.json.text), new RegExp(`:red_circle: ${org}: genai/payg/openai failed`));
    // The event planned again (as a planner that crashed before its commit would leave it) plans nothing new: the key is unique.
    await cp.db.query('UPDATE notification_events SET planned_at = NULL WHERE org_slug = $1 AND event_id = $2', [org, eventId]);
    const replanned = await app.notifications.notifier.notifyPass(later(3600));
    assert.deepEqual([replanned.planned, replanned.planned_deliveries, replanned.sent], [1, 0, 0]);
    assert.equal(slack.received.length, 1);
  });

  test("Slack's permanent errors are recorded and not retried; the channel stays, with its last error", async () => {
    const org = await newOrg();
    const slack = await receiver(slackReceiver());
    await app.notifications.putChannel(org, 'ops', { kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure' }, { kind: 'pipeline_success' }] });
    const answers = [{ status: 403, body: 'invalid_token' }, { status: 404, body: 'no_service' }, { status: 410, body: 'channel_is_archived' }, { status: 400, body: 'invalid_payload' }];
    slack.answers.push(...answers);
    for (const _ of answers) await runEnded(org, 'completed', `payg/p${slack.received.length}_${Math.random().toString(36).slice(2, 6)}`);
    await app.notifications.notifier.notifyPass();
    await app.notifications.notifier.notifyPass(later(7200));
    assert.equal(slack.received.length, 4, 'each tried once');
    const attempts = await history(org);
    assert.deepEqual(attempts.map((a) => [a.status, a.response_code, a.error, a.delivery_status]).sort(), [
      ['failed', 400, 'invalid_payload', 'failed'], ['failed', 403, 'invalid_token', 'failed'], ['failed', 404, 'no_service', 'failed'], ['failed', 410, 'channel_is_archived', 'failed'],
    ]);
    const channel = await channelState(org, 'ops');
    assert.equal(channel.is_enabled, true);
    assert.equal(channel.last_error, 'invalid_payload');
    assert.equal(channel.last_status_code, 400);
    assert.ok(channel.last_error_at instanceof Date);
  });

  test('429 with Retry-After: retried after that delay, not before, and the channel waits as a whole', async () => {
    const org = await newOrg();
    const slack = await receiver(slackReceiver());
    await app.notifications.putChannel(org, 'ops', { kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure' }] });
    slack.answers.push({ status: 429, body: 'rate_limited', headers: { 'retry-after': '30' } });
    await runEnded(org, 'failed', 'payg/a');
    await runEnded(org, 'failed', 'payg/b');
    const first = await app.notifications.notifier.notifyPass();
    assert.deepEqual([first.sent, first.retrying], [0, 1]);
    assert.equal(slack.received.length, 1, 'the second delivery waits for the channel instead of meeting the same 429');
    const [limited] = await history(org);
    assert.equal(limited?.status, 'retrying');
    assert.equal(limited?.response_code, 429);
    const waited = (limited?.next_attempt_at as Date).getTime() - (limited?.ended_at as Date).getTime();
    assert.equal(waited, 30_000);
    assert.equal((await app.notifications.notifier.notifyPass(later(20))).sent, 0, 'not before Retry-After');
    assert.equal(slack.received.length, 1);
    const after = await app.notifications.notifier.notifyPass(later(31));
    assert.equal(after.sent, 2);
    assert.equal(slack.received.length, 3);
    assert.deepEqual((await history(org)).map((a) => [a.attempt, a.status]).sort(), [[1, 'retrying'], [1, 'sent'], [2, 'sent']]);
  });

  test('500s and a refused connection are retried with backoff until the channel is back', async () => {
    const org = await newOrg();
    const webhook = await receiver(webhookReceiver(SECRET));
    const down = await closedPort();
    await app.notifications.putChannel(org, 'hook', { kind: 'webhook', url: webhook.url, secret: SECRET, events: [{ kind: 'pipeline_failure' }] });
    await app.notifications.putChannel(org, 'ops', { kind: 'slack', url: down.url, events: [{ kind: 'pipeline_failure' }] });
    webhook.answers.push({ status: 500, body: 'oops' }, { status: 503, body: 'busy' });
    await runEnded(org, 'failed');
    await app.notifications.notifier.notifyPass();
    await app.notifications.notifier.notifyPass(later(31));
    let attempts = await history(org);
    assert.deepEqual(attempts.filter((a) => a.channel === 'hook').map((a) => [a.attempt, a.status, a.response_code]), [[2, 'retrying', 503], [1, 'retrying', 500]]);
    assert.deepEqual(attempts.filter((a) => a.channel === 'ops').map((a) => [a.attempt, a.status, a.error]), [[2, 'retrying', 'connection refused'], [1, 'retrying', 'connection refused']]);
    const [second, firstTry] = attempts.filter((a) => a.channel === 'hook');
    assert.equal((firstTry?.next_attempt_at as Date).getTime() - (firstTry?.ended_at as Date).getTime(), 30_000);
    assert.equal((second?.next_attempt_at as Date).getTime() - (second?.ended_at as Date).getTime(), 60_000, 'exponential');
    // The Slack endpoint comes up on its port.
    const slack = await receiver(slackReceiver(down.port));
    await app.notifications.notifier.notifyPass(later(100));
    attempts = await history(org);
    assert.equal(attempts.filter((a) => a.status === 'sent').length, 2);
    assert.equal(webhook.received.length, 3);
    assert.equal(slack.received.length, 1);
    assert.equal((await channelState(org, 'hook')).paused_until, null);
  });

  test('the generic webhook sends its idempotency key in a header, the same on every attempt, and signs body and timestamp', async () => {
    const org = await newOrg();
    const webhook = await receiver(webhookReceiver(SECRET));
    await app.notifications.putChannel(org, 'hook', { kind: 'webhook', url: webhook.url, secret: SECRET, events: [{ kind: 'pipeline_failure' }] });
    webhook.answers.push({ status: 502 });
    const eventId = await runEnded(org, 'failed');
    await app.notifications.notifier.notifyPass();
    await app.notifications.notifier.notifyPass(later(31));
    assert.equal(webhook.received.length, 2);
    const keys = webhook.received.map((r) => r.headers['idempotency-key']);
    const [delivery] = await cp.db.query<{ idempotency_key: string }>('SELECT idempotency_key FROM notification_deliveries WHERE org_slug = $1', [org]);
    assert.deepEqual(keys, [delivery?.idempotency_key, delivery?.idempotency_key]);
    assert.ok(delivery?.idempotency_key.startsWith(`${eventId}:`));
    assert.deepEqual(webhook.verified, [true, true], 'HMAC-SHA256 of timestamp.body with the secret');
    const timestamp = Number(webhook.received[1]?.headers['x-pipeline-timestamp']);
    assert.ok(Math.abs(timestamp - Date.now() / 1000) < 60);
    const body = webhook.received[1]?.json as { id: string; kind: string; org_slug: string; pipeline: { route: string }; run: { run_id: string } };
    assert.deepEqual([body.id, body.kind, body.org_slug, body.pipeline.route], [delivery?.idempotency_key, 'pipeline_failure', org, 'genai/payg/openai']);
  });

  test('a hung receiver is cut at the timeout and never holds up another channel', async () => {
    const org = await newOrg();
    const hung = await receiver(webhookReceiver(SECRET));
    hung.fallback = { status: 200, hang: true };
    const slack = await receiver(slackReceiver());
    const notifier = notifierProcess('timeouts', { timeoutMs: 1500 });
    await app.notifications.putChannel(org, 'hung', { kind: 'webhook', url: hung.url, secret: SECRET, events: [{ kind: 'pipeline_failure' }] });
    await app.notifications.putChannel(org, 'ops', { kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure' }] });
    await runEnded(org, 'failed');
    const started = Date.now();
    const pass = await notifier.notifier.notifyPass();
    assert.ok(Date.now() - started < 3000, `the pass ended at the timeout (${Date.now() - started} ms)`);
    assert.deepEqual([pass.sent, pass.retrying], [1, 1]);
    assert.ok((slack.received[0]?.at ?? Infinity) - started < 1000, 'Slack got its message while the webhook hung');
    const attempts = await history(org);
    assert.equal(attempts.find((a) => a.channel === 'hung')?.error, 'no answer within 1.5s');
    // Disabling a channel cancels what waits for it: re-enabled, it is not flooded with stale news.
    await app.notifications.putChannel(org, 'hung', { kind: 'webhook', enabled: false });
    const [waiting] = await cp.db.query<{ status: string }>("SELECT d.status FROM notification_deliveries d JOIN notification_channels c USING (org_slug, channel_id) WHERE d.org_slug = $1 AND c.name = 'hung'", [org]);
    assert.equal(waiting?.status, 'cancelled');
  });

  test('a notifier that claimed a delivery and died: another delivers it after the lease, exactly once; the dead one cannot write or send', async () => {
    const org = await newOrg();
    const slack = await receiver(slackReceiver());
    await app.notifications.putChannel(org, 'ops', { kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure' }] });
    await runEnded(org, 'failed');
    const [a, b] = [notifierProcess('A'), notifierProcess('B')];
    // A plans and claims, then stops without sending or marking anything.
    const store = deliveryStore(cp.db);
    await planEvents(cp.db, store, { now: new Date(), batch: 100, maxAttempts: 10 });
    const claimedByA = await store.claim(new Date(), 10, 'A', 3000);
    assert.equal(claimedByA.length, 1);
    assert.equal((await b.notifier.notifyPass()).sent, 0, 'the lease holds it');
    assert.equal(slack.received.length, 0);
    await sleep(3100);
    assert.equal((await b.notifier.notifyPass()).sent, 1);
    assert.equal(slack.received.length, 1);
    // A comes back: its claim is fenced, so it neither starts a send nor records one.
    const claim = claimedByA[0]!;
    assert.equal(await store.begin(claim, 1000, new Date()), undefined);
    assert.equal(await store.record(claim, { status: 'sent', deliveryStatus: 'sent', code: 200, error: null, at: new Date(), nextAttemptAt: null, pauseChannelUntil: null }), false);
    await a.notifier.notifyPass(later(7200));
    await b.notifier.notifyPass(later(7200));
    assert.equal(slack.received.length, 1, 'delivered exactly once');
    assert.deepEqual((await history(org)).map((h) => [h.attempt, h.status]), [[1, 'sent']]);
  });

  test('a notifier that died while sending: the attempt is recorded as interrupted and the delivery completed by another', async () => {
    const org = await newOrg();
    const slack = await receiver(slackReceiver());
    await app.notifications.putChannel(org, 'ops', { kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure' }] });
    await runEnded(org, 'failed');
    const b = notifierProcess('B2');
    const store = deliveryStore(cp.db);
    await planEvents(cp.db, store, { now: new Date(), batch: 100, maxAttempts: 10 });
    const [claim] = await store.claim(new Date(), 10, 'A2', 3000);
    assert.equal(await store.begin(claim!, 1000, new Date()), 1, 'A counts its attempt before sending, then dies before the request leaves');
    await sleep(3100);
    await b.notifier.notifyPass();
    assert.equal(slack.received.length, 1);
    assert.deepEqual((await history(org)).map((h) => [h.attempt, h.status]), [[2, 'sent'], [1, 'interrupted']]);
  });

  test('two notifiers passing at once deliver each of 30 events once', async () => {
    const org = await newOrg();
    const webhook = await receiver(webhookReceiver(SECRET));
    await app.notifications.putChannel(org, 'hook', { kind: 'webhook', url: webhook.url, secret: SECRET, events: [{ kind: 'pipeline_failure' }, { kind: 'pipeline_success' }] });
    for (let i = 0; i < 30; i += 1) await runEnded(org, i % 3 === 0 ? 'failed' : 'completed', `payg/p${i}`);
    // Small batches, so the two plan and claim beside each other (SKIP LOCKED) rather than one taking everything.
    const notifiers = [notifierProcess('P1', { batch: 4 }), notifierProcess('P2', { batch: 4 })];
    for (let round = 0; round < 30 && webhook.received.length < 30; round += 1) await Promise.all(notifiers.map((n) => n.notifier.notifyPass()));
    const keys = webhook.received.map((r) => String(r.headers['idempotency-key']));
    assert.equal(keys.length, 30);
    assert.equal(new Set(keys).size, 30);
    assert.equal((await cp.db.query('SELECT 1 FROM notification_events WHERE org_slug = $1 AND planned_at IS NULL', [org])).length, 0);
  });
});
