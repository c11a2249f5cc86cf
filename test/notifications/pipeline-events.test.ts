import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import type { App } from '../../src/main/app.ts';
import { notificationService } from '../../src/notifications/notifications.ts';
import { startNotifier } from '../../src/notifications/notifier.ts';
import { builtinProcessors } from '../../src/processors/builtin.ts';
import { processorRegistry } from '../../src/processors/registry.ts';
import { defineProcessor, type Processor } from '../../src/processors/types.ts';
import { ProcessorError } from '../../src/shared/errors.ts';
import { silentLogger } from '../../src/shared/logger.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { testApp, waitFor, waitForRunEnd } from '../support/test-app.ts';
import { closedPort, slackReceiver, smtpReceiver, webhookReceiver, type HttpReceiver } from './receivers.ts';

/** Whether `test.toggle` fails, per pipeline: the same pipeline fails, then succeeds again. */
const failing = new Map<string, boolean>();
const toggle = defineProcessor({
  type: 'test.toggle',
  description: 'fails while its pipeline is switched to failing',
  configSchema: Type.Object({ ms: Type.Integer({ minimum: 0 }) }),
  async run(config, context) {
    await new Promise((resolve) => setTimeout(resolve, config.ms));
    if (failing.get(context.pipelineId)) throw new ProcessorError('upstream said no', { retryable: false });
    return { rowsWritten: 3, tables: [] };
  },
});

const pipeline = (id: string) => `
pipeline_id: ${id}
name: ${id}
description: extract then load
provider: test
domain: notify
version: "1"
steps:
  - { step_id: extract, ps_type: test.toggle, config: { ms: 5 } }
  - { step_id: load, ps_type: test.toggle, depends_on: [extract], config: { ms: 5 } }
`;

async function configsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'notify-configs-'));
  await mkdir(join(dir, 'test', 'notify'), { recursive: true });
  await mkdir(join(dir, 'system'), { recursive: true });
  await writeFile(join(dir, 'system', 'plans.json'), JSON.stringify({ plans: { TEST: { status: 'ACTIVE', daily_limit: 1000, monthly_limit: 1000, concurrent_limit: 100 } } }));
  for (const id of ['toggle', 'other', 'steady']) await writeFile(join(dir, 'test', 'notify', `${id}.yml`), pipeline(`test_notify_${id}`));
  return dir;
}

const SECRET = 'whsec_0123456789abcdef0123456789';

for (const factory of controlPlaneFactories()) describe(`pipeline events on ${factory.name}`, () => {
  let cp: ControlPlane;
  let app: App;
  let smtp: Awaited<ReturnType<typeof smtpReceiver>>;
  const receivers: HttpReceiver[] = [];
  let orgs = 0;

  before(async () => {
    cp = await factory.open();
    smtp = await smtpReceiver();
    const processors = processorRegistry([...builtinProcessors().types().map((type) => builtinProcessors().get(type) as Processor), toggle as Processor]);
    app = await testApp(cp, { processors, settings: { PIPELINE_CONFIGS_DIR: await configsDir(), SMTP_URL: smtp.url, PUBLIC_BASE_URL: 'https://finops.example.com' }, workerOptions: { pollMs: 50, heartbeatMs: 100 } });
    app.worker?.start();
  });
  after(async () => {
    for (const receiver of receivers) await receiver.close();
    await smtp.close();
    await app.close();
    await cp.close();
  });

  const newOrg = async () => {
    const org = `events_org_${++orgs}`;
    await app.orgs.create(org, org, { plan: 'TEST', status: 'ACTIVE', daily_limit: 1000, monthly_limit: 1000, concurrent_limit: 100 });
    return org;
  };
  const runOnce = async (org: string, id: string) => {
    const { run_id: runId } = await app.requests.request({ orgSlug: org, route: `test/notify/${id}`, body: {}, trigger: 'api', createdBy: 'test' });
    return waitForRunEnd(app, org, runId);
  };
  const keep = async <T extends HttpReceiver>(made: Promise<T>) => {
    const receiver = await made;
    receivers.push(receiver);
    return receiver;
  };

  test('a failing streak sends one failure and one reminder, then one recovery; the email names the failing step and its error', async () => {
    const org = await newOrg();
    const slack = await keep(slackReceiver());
    const email = `ops+${org}@example.com`;
    await app.notifications.updateSettings(org, { reminder_after_failures: 3 });
    await app.notifications.putChannel(org, 'mail', { kind: 'email', recipients: [email], events: [{ kind: 'pipeline_success' }, { kind: 'pipeline_failure' }, { kind: 'pipeline_recovered' }] });
    await app.notifications.putChannel(org, 'ops', { kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure', pipelines: ['test/notify/toggle'] }, { kind: 'pipeline_recovered', pipelines: ['test/*/toggle'] }] });
    const outcomes: string[] = [];
    const runIds: string[] = [];
    const sequence: [string, boolean][] = [['toggle', false], ['toggle', true], ['toggle', true], ['other', true], ['toggle', true], ['toggle', true], ['toggle', true], ['toggle', false], ['toggle', false]];
    for (const [id, fails] of sequence) {
      failing.set(`test_notify_${id}`, fails);
      const run = await runOnce(org, id);
      outcomes.push(run.status);
      runIds.push(run.run_id);
    }
    assert.deepEqual(outcomes, ['completed', 'failed', 'failed', 'failed', 'failed', 'failed', 'failed', 'completed', 'completed']);
    const pass = await app.notifications.notifier.notifyPass();
    assert.equal(pass.planned, 9);
    const mails = smtp.messages.filter((m) => m.to.includes(email));
    assert.deepEqual(mails.map((m) => m.subject), [
      `[INFO] ${org}: test/notify/toggle completed`,
      `[ERROR] ${org}: test/notify/toggle failed`,
      `[ERROR] ${org}: test/notify/other failed`,
      `[ERROR] ${org}: test/notify/toggle is still failing: 4 failures in a row`,
      `[INFO] ${org}: test/notify/toggle recovered after 5 failed runs`,
      `[INFO] ${org}: test/notify/toggle completed`,
    ], 'in the order of the runs');
    const firstFailure = mails.find((m) => m.subject.endsWith('toggle failed'));
    assert.ok(firstFailure);
    assert.match(firstFailure.text, /Failing step: extract \(test\.toggle, 1 attempts\)/);
    assert.match(firstFailure.text, /Step error: test\.toggle: upstream said no/);
    assert.match(firstFailure.text, /Status: failed/);
    assert.match(firstFailure.text, /Duration: \d+ ms|Duration: \d+s/);
    assert.ok(firstFailure.text.includes(`Run: https://finops.example.com/api/v1/pipelines/status/${org}/${runIds[1]}`), firstFailure.text);
    assert.match(firstFailure.html, /<th align="left">Failing step<\/th><td>extract \(test\.toggle, 1 attempts\)<\/td>/);
    // Slack takes only the toggle pipeline's failure notice, its reminder and its recovery.
    assert.deepEqual(slack.received.map((r) => String(r.json.text).replace(/^:\w+: /, '')), [
      `${org}: test/notify/toggle failed`,
      `${org}: test/notify/toggle is still failing: 4 failures in a row`,
      `${org}: test/notify/toggle recovered after 5 failed runs`,
    ]);
  });

  test('with its channels refusing, failing with 500 and 429 or hanging, runs end on time; every message arrives once they are back', async () => {
    const org = await newOrg();
    const down = await closedPort();
    const broken = await keep(webhookReceiver(SECRET));
    broken.fallback = { status: 500, body: 'down' };
    const limited = await keep(slackReceiver());
    limited.fallback = { status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } };
    const hung = await keep(webhookReceiver(SECRET));
    hung.fallback = { status: 200, hang: true };
    for (const [name, url, kind] of [['refused', down.url, 'slack'], ['broken', broken.url, 'webhook'], ['limited', limited.url, 'slack'], ['hung', hung.url, 'webhook']] as const) {
      await app.notifications.putChannel(org, name, { kind, url, ...(kind === 'webhook' ? { secret: SECRET } : {}), events: [{ kind: 'pipeline_success' }] });
    }
    const notifications = notificationService({ db: cp.db, settings: app.settings, clock: app.clock, logger: silentLogger(), notifier: { id: 'loop', timeoutMs: 800, leaseMs: 5000, policy: { baseMs: 200, maxMs: 1000 }, maxAttempts: 100 } });
    const loop = startNotifier(notifications.notifier, { logger: silentLogger(), intervalMs: 100 });
    try {
      failing.set('test_notify_steady', false);
      for (let i = 0; i < 4; i += 1) {
        const run = await runOnce(org, 'steady');
        assert.equal(run.status, 'completed');
        assert.ok((run.duration_ms ?? Infinity) < 1000, `run ${i} took ${run.duration_ms} ms`);
      }
      await waitFor(async () => broken.received.length >= 4 && limited.received.length >= 4, 10_000, 'failed attempts');
      assert.equal(broken.received.filter((r) => r.status === 204).length, 0);
      // Back up.
      const slack = await keep(slackReceiver(down.port));
      broken.fallback = { status: 204 };
      limited.fallback = { status: 200, body: 'ok' };
      hung.fallback = { status: 204 };
      await waitFor(async () => (await notifications.history(org, { status: 'sent', limit: 100 })).length === 16, 30_000, 'every delivery sent');
      const delivered = (receiver: HttpReceiver, ok: number) => receiver.received.filter((r) => r.status === ok).map((r) => String(r.headers['idempotency-key'] ?? r.json.text));
      assert.equal(delivered(slack, 200).length, 4);
      assert.equal(delivered(limited, 200).length, 4);
      assert.equal(new Set(delivered(broken, 204)).size, 4);
      assert.equal(delivered(broken, 204).length, 4);
      assert.equal(delivered(hung, 204).length, 4);
    } finally {
      await loop.stop();
    }
  });

  test("a run's end committed with no notifier running (killed before delivering) is delivered once by one started later", async () => {
    const org = await newOrg();
    const webhook = await keep(webhookReceiver(SECRET));
    await app.notifications.putChannel(org, 'hook', { kind: 'webhook', url: webhook.url, secret: SECRET, events: [{ kind: 'pipeline_failure' }] });
    failing.set('test_notify_steady', true);
    const run = await runOnce(org, 'steady');
    assert.equal(run.status, 'failed');
    const [event] = await cp.db.query<{ planned_at: Date | null }>('SELECT planned_at FROM notification_events WHERE org_slug = $1 AND run_id = $2', [org, run.run_id]);
    assert.equal(event?.planned_at, null, 'in the outbox, committed with the run, not yet planned');
    const restarted = notificationService({ db: cp.db, settings: app.settings, clock: app.clock, logger: silentLogger(), notifier: { id: 'restarted' } });
    await restarted.notifier.notifyPass();
    await restarted.notifier.notifyPass(new Date(Date.now() + 86_400_000));
    assert.equal(webhook.received.length, 1);
    assert.equal((webhook.received[0]?.json.run as { run_id: string }).run_id, run.run_id);
    assert.equal((webhook.received[0]?.json.run as { failing_step: { step_id: string } }).failing_step.step_id, 'extract');
    const history = await restarted.history(org, { runId: run.run_id, limit: 10 });
    assert.deepEqual(history.map((h) => [h.run_id, h.channel, h.status, h.response_code]), [[run.run_id, 'hook', 'sent', 204]]);
    assert.deepEqual(await restarted.history(org, { runId: '00000000-0000-4000-8000-000000000000', limit: 10 }), []);
  });
});
