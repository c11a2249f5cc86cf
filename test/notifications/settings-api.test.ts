import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { assertError, assertOk, call, createOrg, type CreatedOrg } from '../api/api-helpers.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { cli } from '../support/server-process.ts';
import { testApp } from '../support/test-app.ts';
import { slackReceiver, webhookReceiver, type HttpReceiver } from './receivers.ts';
import { seededDataDir } from '../support/pglite-template.ts';

const SECRET = 'whsec_topsecret_0123456789abcdef_WXYZ';

for (const factory of controlPlaneFactories()) describe(`notification settings API on ${factory.name}`, () => {
  let cp: ControlPlane;
  let app: App;
  let server: FastifyInstance;
  let acme: CreatedOrg;
  let globex: CreatedOrg;
  let slack: HttpReceiver;
  let webhook: HttpReceiver;

  before(async () => {
    cp = await factory.open();
    app = await testApp(cp, { settings: { WORKER_CONCURRENCY: '0' } });
    server = await buildServer(app);
    acme = await createOrg(server, 'acme');
    globex = await createOrg(server, 'globex');
    slack = await slackReceiver();
    webhook = await webhookReceiver(SECRET);
  });
  after(async () => {
    await slack.close();
    await webhook.close();
    await server.close();
    await app.close();
    await cp.close();
  });

  const as = (org: CreatedOrg) => ({ 'x-api-key': org.api_key });
  const put = (org: CreatedOrg, name: string, payload: Record<string, unknown>, path = org.org_slug) => call(server, { method: 'PUT', url: `/api/v1/notifications/${path}/channels/${name}`, headers: as(org), payload });

  test('channels are created with their secrets sealed; no response ever carries a URL or secret in full', async () => {
    const created = await put(acme, 'ops', { kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure', pipelines: ['genai/payg/*'] }, { kind: 'pipeline_recovered' }] });
    assertOk(created, 201);
    assertOk(await put(acme, 'hook', { kind: 'webhook', url: webhook.url, secret: SECRET }), 201);
    assertOk(await put(acme, 'finance', { kind: 'email', recipients: ['finance@example.com'], delivery: 'digest', events: [{ kind: 'cost_alert' }] }), 201);
    const listed = await call(server, { url: '/api/v1/notifications/acme', headers: as(acme) });
    assertOk(listed, 200);
    const bodies = [created.body, listed.body, (await call(server, { url: '/api/v1/notifications/acme/channels/hook', headers: as(acme) })).body];
    for (const body of bodies) {
      assert.ok(!body.includes('secretpath'), 'the URL path (a Slack webhook\'s token) is never returned');
      assert.ok(!body.includes('topsecret'), 'the HMAC secret is never returned');
    }
    const { settings, channels } = listed.json() as { settings: Record<string, unknown>; channels: { name: string; url: string | null; secret: string | null; events: unknown[]; delivery: string; next_digest_at: string | null; recipients: string[] }[] };
    assert.deepEqual(settings, { timezone: 'UTC', digest_time: '08:00', reminder_after_failures: 3, reminder_after_hours: 24 });
    const byName = Object.fromEntries(channels.map((c) => [c.name, c]));
    assert.equal(byName.ops?.url, `${new URL(slack.url).origin}/…1234`);
    assert.equal(byName.hook?.secret, '…WXYZ');
    assert.deepEqual(byName.ops?.events, [{ kind: 'pipeline_failure', pipelines: ['genai/payg/*'] }, { kind: 'pipeline_recovered' }]);
    assert.deepEqual(byName.hook?.events.map((e) => (e as { kind: string }).kind), ['pipeline_failure', 'pipeline_recovered', 'cost_alert', 'cost_alert_resolved'], 'the default routes');
    assert.equal(byName.finance?.delivery, 'digest');
    assert.match(String(byName.finance?.next_digest_at), /T08:00:00\.000Z$/);
    // The stored row holds ciphertext, not the URL.
    const [row] = await cp.db.query<{ sealed_url: unknown }>("SELECT sealed_url FROM notification_channels WHERE org_slug = 'acme' AND name = 'ops'");
    assert.ok(!JSON.stringify(row?.sealed_url).includes('secretpath'));
  });

  test('a test-send goes through the channel and reports how it went; an update without the URL keeps it', async () => {
    assertOk(await put(acme, 'ops', { kind: 'slack', events: [{ kind: 'pipeline_failure' }] }), 200);
    const before = slack.received.length;
    const sent = await call(server, { method: 'POST', url: '/api/v1/notifications/acme/test', headers: as(acme), payload: { channel: 'ops' } });
    assertOk(sent, 200);
    assert.deepEqual({ ...(sent.json() as Record<string, unknown>), delivery_id: 'x' }, { delivery_id: 'x', status: 'sent', response_code: 200, error: null, attempt: 1 });
    assert.equal(slack.received.length, before + 1);
    assert.match(String(slack.received.at(-1)?.json.text), /acme: test notification/);
    slack.answers.push({ status: 410, body: 'channel_is_archived' });
    const archived = await call(server, { method: 'POST', url: '/api/v1/notifications/acme/test', headers: as(acme), payload: { channel: 'ops' } });
    assert.equal((archived.json() as { status: string; error: string; response_code: number }).error, 'channel_is_archived');
    assert.equal((archived.json() as { status: string }).status, 'failed');
    const hooked = await call(server, { method: 'POST', url: '/api/v1/notifications/acme/test', headers: as(acme), payload: { channel: 'hook' } });
    assert.equal((hooked.json() as { status: string; response_code: number }).response_code, 204);
    const channel = (await call(server, { url: '/api/v1/notifications/acme/channels/ops', headers: as(acme) })).json() as { enabled: boolean; last_error: string; last_status_code: number };
    assert.deepEqual([channel.enabled, channel.last_error, channel.last_status_code], [true, 'channel_is_archived', 410]);
  });

  test('history: every attempt, newest first, filtered and paged', async () => {
    const page = async (query: string) => {
      const response = await call(server, { url: `/api/v1/notifications/acme/history?${query}`, headers: as(acme) });
      assertOk(response, 200);
      return response.json() as { attempts: { attempt_id: number; channel: string; status: string; message_kind: string; response_code: number | null; error: string | null }[]; next_cursor: string | null };
    };
    const all = await page('limit=50');
    assert.deepEqual(all.attempts.map((a) => [a.channel, a.status, a.response_code, a.error]), [['hook', 'sent', 204, null], ['ops', 'failed', 410, 'channel_is_archived'], ['ops', 'sent', 200, null]]);
    assert.equal(all.next_cursor, null);
    const first = await page('limit=2');
    assert.equal(first.attempts.length, 2);
    assert.ok(first.next_cursor);
    const second = await page(`limit=2&cursor=${first.next_cursor}`);
    assert.deepEqual(second.attempts.map((a) => a.attempt_id), [all.attempts[2]?.attempt_id]);
    assert.deepEqual((await page('channel=ops&status=failed')).attempts.map((a) => a.error), ['channel_is_archived']);
    assert.deepEqual((await page('kind=pipeline_failure')).attempts, []);
    assertError(await call(server, { url: '/api/v1/notifications/acme/history?cursor=bm9wZQ', headers: as(acme) }), 400, { field: 'cursor' });
    assertError(await call(server, { url: '/api/v1/notifications/acme/history?status=lost', headers: as(acme) }), 400, { field: 'status' });
  });

  test('bad settings are 400s naming the field, and change nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ kind: 'slack' }, 'url'],
      [{ kind: 'slack', url: 'ftp://example.com/x' }, 'url'],
      [{ kind: 'slack', url: 'not a url' }, 'url'],
      [{ kind: 'webhook', url: 'https://example.com/hook' }, 'secret'],
      [{ kind: 'webhook', url: 'https://example.com/hook', secret: 'short' }, 'secret'],
      [{ kind: 'email' }, 'recipients'],
      [{ kind: 'email', recipients: ['ok@example.com', 'not-an-address'] }, 'recipients.1'],
      [{ kind: 'email', recipients: ['ok@example.com'], url: 'https://example.com' }, 'url'],
      [{ kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure', pipelines: ['no-slashes'] }] }, 'events.0.pipelines.0'],
      [{ kind: 'slack', url: slack.url, events: [{ kind: 'pipeline_failure' }, { kind: 'pipeline_failure' }] }, 'events.1.kind'],
      [{ kind: 'slack', url: slack.url, events: [{ kind: 'cost_alert', pipelines: ['a/b/c'] }] }, 'events.0.pipelines'],
      [{ kind: 'slack', url: slack.url, events: [{ kind: 'everything' }] }, 'events.0.kind'],
      [{ kind: 'slack', url: slack.url, delivery: 'hourly' }, 'delivery'],
      [{ kind: 'slack', url: slack.url, colour: 'red' }, 'colour'],
      [{ kind: 'pager' }, 'kind'],
    ];
    for (const [payload, field] of cases) assertError(await put(acme, 'bad', payload), 400, { field });
    // A channel cannot change kind in place.
    assertError(await put(acme, 'ops', { kind: 'email', recipients: ['a@example.com'] }), 400, { field: 'kind' });
    assertError(await put(acme, 'Bad Name', { kind: 'email', recipients: ['a@example.com'] }), 400, { field: 'name' });
    assertError(await call(server, { url: '/api/v1/notifications/acme/channels/bad', headers: as(acme) }), 404);
    const settings = (body: Record<string, unknown>) => call(server, { method: 'PUT', url: '/api/v1/notifications/acme/settings', headers: as(acme), payload: body });
    assertError(await settings({ timezone: 'Mars/Olympus' }), 400, { field: 'timezone' });
    assertError(await settings({ digest_time: '25:00' }), 400, { field: 'digest_time' });
    assertError(await settings({ reminder_after_failures: 0 }), 400, { field: 'reminder_after_failures' });
    const changed = await settings({ timezone: 'Asia/Tokyo', digest_time: '09:30' });
    assertOk(changed, 200);
    const finance = (await call(server, { url: '/api/v1/notifications/acme/channels/finance', headers: as(acme) })).json() as { next_digest_at: string };
    assert.match(finance.next_digest_at, /T00:30:00\.000Z$/, "the digest follows the org's new time: 09:30 in Tokyo");
  });

  test("another org's key gets 403 on this org's paths, and its own paths never show this org's channels", async () => {
    assertError(await call(server, { url: '/api/v1/notifications/acme', headers: as(globex) }), 403);
    assertError(await put(globex, 'ops', { kind: 'slack', url: slack.url }, 'acme'), 403);
    assertError(await call(server, { url: '/api/v1/notifications/acme/history', headers: as(globex) }), 403);
    assertError(await call(server, { method: 'POST', url: '/api/v1/notifications/acme/test', headers: as(globex), payload: { channel: 'ops' } }), 403);
    assertError(await call(server, { url: '/api/v1/notifications/globex/channels/ops', headers: as(globex) }), 404);
    assertError(await call(server, { method: 'POST', url: '/api/v1/notifications/globex/test', headers: as(globex), payload: { channel: 'ops' } }), 404);
    assertError(await call(server, { method: 'DELETE', url: '/api/v1/notifications/globex/channels/ops', headers: as(globex) }), 404);
    const own = (await call(server, { url: '/api/v1/notifications/globex', headers: as(globex) })).json() as { channels: unknown[] };
    assert.deepEqual(own.channels, []);
    assert.deepEqual(((await call(server, { url: '/api/v1/notifications/globex/history', headers: as(globex) })).json() as { attempts: unknown[] }).attempts, []);
    assertError(await call(server, { url: '/api/v1/notifications/acme' }), 401);
    assertOk(await call(server, { method: 'DELETE', url: '/api/v1/notifications/acme/channels/ops', headers: as(acme) }), 204);
    assertError(await call(server, { url: '/api/v1/notifications/acme/channels/ops', headers: as(acme) }), 404);
  });
});

test('pipeline notify: set a channel from a variable, show it as a hint, test-send it, read the history', async () => {
  const slack = await slackReceiver();
  try {
    const env = { PIPELINE_DATA_DIR: await seededDataDir('cli-notify-'), OPS_SLACK_URL: slack.url };
    assert.equal((await cli(['org', 'create', 'acme'], env)).code, 0);
    const set = await cli(['notify', 'channel', 'set', 'acme', 'ops', '--kind', 'slack', '--url-env', 'OPS_SLACK_URL', '--events', 'pipeline_failure,pipeline_recovered,cost_alert', '--pipelines', 'demo/usage/daily_cost'], env);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^Created ops slack enabled instant -> http:\/\/127\.0\.0\.1:\d+\/…1234 events pipeline_failure\[demo\/usage\/daily_cost\],pipeline_recovered\[demo\/usage\/daily_cost\],cost_alert/);
    const shown = await cli(['notify', 'show', 'acme', '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(!shown.stdout.includes('secretpath'));
    const tested = await cli(['notify', 'test', 'acme', 'ops'], env);
    assert.equal(tested.code, 0, tested.stderr);
    assert.equal(tested.stdout.trim(), 'sent (200)');
    assert.equal(slack.received.length, 1);
    const listed = await cli(['notify', 'history', 'acme'], env);
    assert.match(listed.stdout, /^\S+ ops test #1 sent 200 test$/m);
    const bad = await cli(['notify', 'settings', 'acme', '--timezone', 'Mars/Olympus'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /timezone/);
    const noUrl = await cli(['notify', 'channel', 'set', 'acme', 'hook', '--kind', 'webhook', '--url-env', 'NOT_SET_ANYWHERE'], env);
    assert.equal(noUrl.code, 1);
    assert.match(noUrl.stderr, /NOT_SET_ANYWHERE/);
  } finally {
    await slack.close();
  }
});
