import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/api/server.ts';
import type { App } from '../../src/main/app.ts';
import type { ControlPlane } from '../../src/store/open-control-plane.ts';
import { controlPlaneFactories } from '../support/control-planes.ts';
import { CONFIGS, ROOT_KEY, testApp, waitForRunEnd } from '../support/test-app.ts';
import { testProcessors } from '../support/test-processors.ts';
import { assertError, assertOk, call, createOrg, type CreatedOrg } from './api-helpers.ts';

/** The audit log (issue 14, item 3): every admin and credential action, its actor, target and outcome. */
const SECRET = 'sk-admin-AUDIT-MUST-NEVER-SEE-0123456789';
const WEBHOOK_SECRET = 'whsec-AUDIT-MUST-NEVER-SEE-9876543210';
const root = { 'x-ca-root-key': ROOT_KEY };

interface Entry {
  id: number;
  at: string;
  org_slug: string | null;
  actor: string;
  actor_org: string | null;
  via: string;
  action: string;
  target_id: string | null;
  request_id: string | null;
  outcome: string;
  status: number | null;
  error_code: string | null;
  run_id: string | null;
  step_id: string | null;
  details: Record<string, unknown>;
}

/** The repo's configs plus a pipeline whose step reads the org's openai credential. */
function configsWithCredentialPipeline(): string {
  const dir = mkdtempSync(join(tmpdir(), 'audit-configs-'));
  cpSync(CONFIGS, dir, { recursive: true });
  mkdirSync(join(dir, 'test', 'creds'), { recursive: true });
  writeFileSync(join(dir, 'test', 'creds', 'use.yml'), 'pipeline_id: use_secret\nname: n\ndescription: d\nprovider: test\ndomain: creds\nversion: "1"\nsteps:\n  - { step_id: use, ps_type: test.uses_secret, config: { provider: openai } }\n');
  return dir;
}

for (const factory of controlPlaneFactories()) {
  describe(`audit log on ${factory.name}`, () => {
    let cp: ControlPlane;
    let app: App;
    let server: FastifyInstance;
    let acme: CreatedOrg;
    let globex: CreatedOrg;

    before(async () => {
      cp = await factory.open();
      app = await testApp(cp, { processors: testProcessors(), settings: { PIPELINE_CONFIGS_DIR: configsWithCredentialPipeline(), WORKER_CONCURRENCY: '2' } });
      app.worker?.start();
      server = await buildServer(app);
      acme = await createOrg(server, 'acme');
      globex = await createOrg(server, 'globex');
    });
    after(async () => {
      await server?.close();
      await app?.close();
      await cp?.close();
    });

    const adminAudit = async (query: string): Promise<{ entries: Entry[]; next_cursor: string | null }> => {
      const response = await call(server, { url: `/api/v1/admin/audit?${query}`, headers: root });
      assertOk(response, 200);
      return response.json() as { entries: Entry[]; next_cursor: string | null };
    };
    /** The one entry of a request, by the request id it was sent with. */
    const entryOf = async (requestId: string): Promise<Entry> => {
      const rows = (await adminAudit('limit=500')).entries.filter((entry) => entry.request_id === requestId);
      assert.equal(rows.length, 1, `one entry for ${requestId}: ${JSON.stringify(rows)}`);
      return rows[0] as Entry;
    };
    let sequence = 0;
    const send = async (options: { method: 'POST' | 'PUT' | 'PATCH' | 'DELETE'; url: string; headers?: Record<string, string>; payload?: unknown }) => {
      const requestId = `audit-test-${++sequence}`;
      const response = await call(server, { ...options, payload: options.payload as Record<string, unknown> | undefined, headers: { ...options.headers, 'x-request-id': requestId } });
      return { response, entry: () => entryOf(requestId) };
    };
    const expect = (entry: Entry, fields: Partial<Entry>) => {
      for (const [key, value] of Object.entries(fields)) assert.deepEqual(entry[key as keyof Entry], value, `${key} of ${JSON.stringify(entry)}`);
    };

    test('org creation, subscription and key changes: root, the org and the key, success', async () => {
      const created = await entryOf((await adminAudit('action=org.create&org=acme')).entries[0]?.request_id ?? '');
      expect(created, { org_slug: 'acme', actor: 'root', via: 'api', action: 'org.create', target_id: 'acme', outcome: 'success', status: 201, error_code: null });
      assert.equal(created.details.key_prefix, acme.key_prefix);
      assert.ok(!Number.isNaN(Date.parse(created.at)));

      const patched = await send({ method: 'PATCH', url: '/api/v1/admin/orgs/acme/subscription', headers: root, payload: { daily_limit: 77 } });
      assertOk(patched.response, 200);
      expect(await patched.entry(), { action: 'subscription.update', org_slug: 'acme', outcome: 'success', status: 200, details: { changes: { daily_limit: 77 } } });

      const key = await send({ method: 'POST', url: '/api/v1/admin/orgs/acme/keys', headers: root });
      const { key_id: keyId, key_prefix: prefix, api_key: apiKey } = key.response.json() as CreatedOrg;
      const keyEntry = await key.entry();
      expect(keyEntry, { action: 'key.create', org_slug: 'acme', target_id: keyId, outcome: 'success', details: { key_prefix: prefix } });
      const revoked = await send({ method: 'DELETE', url: `/api/v1/admin/orgs/acme/keys/${keyId}`, headers: root });
      assertOk(revoked.response, 204);
      expect(await revoked.entry(), { action: 'key.revoke', target_id: keyId, outcome: 'success', status: 204 });
      const rows = JSON.stringify(await cp.db.query('SELECT * FROM audit_log'));
      assert.ok(!rows.includes(apiKey) && !rows.includes(acme.api_key), 'no API key is ever recorded');
    });

    test('refused actions are recorded with the status and code the caller got', async () => {
      const again = await send({ method: 'POST', url: '/api/v1/admin/orgs', headers: root, payload: { org_slug: 'acme' } });
      assertError(again.response, 409);
      expect(await again.entry(), { action: 'org.create', org_slug: 'acme', outcome: 'failure', status: 409, error_code: 'conflict' });

      const noKey = await send({ method: 'PATCH', url: '/api/v1/admin/orgs/acme/subscription', payload: { daily_limit: 1 } });
      assertError(noKey.response, 401);
      expect(await noKey.entry(), { action: 'subscription.update', actor: 'anonymous', org_slug: 'acme', outcome: 'failure', status: 401, error_code: 'unauthenticated', details: {} });

      const wrongRoot = await send({ method: 'POST', url: '/api/v1/admin/orgs/acme/keys', headers: { 'x-ca-root-key': 'not-the-root-key' } });
      assertError(wrongRoot.response, 401);
      expect(await wrongRoot.entry(), { action: 'key.create', actor: 'root', outcome: 'failure', status: 401, target_id: null });

      const otherOrg = await send({ method: 'PUT', url: '/api/v1/notifications/acme/settings', headers: { 'x-api-key': globex.api_key }, payload: { timezone: 'Europe/Paris' } });
      assertError(otherOrg.response, 403);
      expect(await otherOrg.entry(), { action: 'notification.settings.update', org_slug: 'acme', actor: `key:${globex.key_prefix}`, actor_org: 'globex', outcome: 'failure', status: 403, error_code: 'forbidden' });

      const missing = await send({ method: 'DELETE', url: '/api/v1/admin/orgs/acme/keys/00000000-0000-4000-8000-000000000009', headers: root });
      assertError(missing.response, 404);
      expect(await missing.entry(), { action: 'key.revoke', outcome: 'failure', status: 404, error_code: 'not_found', target_id: '00000000-0000-4000-8000-000000000009' });

      const invalid = await send({ method: 'PATCH', url: '/api/v1/admin/orgs/acme/subscription', headers: root, payload: { daily_limit: -1 } });
      assertError(invalid.response, 400);
      expect(await invalid.entry(), { outcome: 'failure', status: 400, error_code: 'invalid_input', details: {} });
    });

    test('credentials: set, rotate, delete; a step reading one is recorded with its run and step; no secret anywhere', async () => {
      const url = '/api/v1/admin/orgs/acme/credentials/openai';
      const set = await send({ method: 'PUT', url, headers: root, payload: { secret: SECRET, metadata: { base_url: 'http://127.0.0.1:9' } } });
      assertOk(set.response, 200);
      expect(await set.entry(), { action: 'credential.set', org_slug: 'acme', target_id: 'openai/default', outcome: 'success', details: { version: 1 } });
      const rotated = await send({ method: 'PUT', url, headers: root, payload: { secret: `${SECRET}-2` } });
      expect(await rotated.entry(), { action: 'credential.rotate', target_id: 'openai/default', details: { version: 2 } });
      const badSecret = await send({ method: 'PUT', url, headers: root, payload: { secret: SECRET, metadata: { password: SECRET } } });
      assertError(badSecret.response, 400);
      expect(await badSecret.entry(), { action: 'credential.set', outcome: 'failure', status: 400, details: {} });

      const run = await call(server, { method: 'POST', url: '/api/v1/pipelines/run/acme/test/creds/use', headers: { 'x-api-key': acme.api_key }, payload: { date: '2026-01-01' } });
      assertOk(run, 202);
      const runId = (run.json() as { run_id: string }).run_id;
      assert.equal((await waitForRunEnd(app, 'acme', runId)).status, 'completed');
      const reads = (await adminAudit('action=credential.read')).entries;
      assert.equal(reads.length, 1, JSON.stringify(reads));
      expect(reads[0] as Entry, { org_slug: 'acme', actor: 'engine', via: 'engine', target_id: 'openai/default', run_id: runId, step_id: 'use', outcome: 'success', request_id: null });

      const deleted = await send({ method: 'DELETE', url: `${url}?credential_id=default`, headers: root });
      assertOk(deleted.response, 204);
      expect(await deleted.entry(), { action: 'credential.delete', target_id: 'openai/default', outcome: 'success' });
      const gone = await send({ method: 'DELETE', url, headers: root });
      expect(await gone.entry(), { action: 'credential.delete', outcome: 'failure', status: 404 });

      const channel = await send({ method: 'PUT', url: '/api/v1/notifications/acme/channels/hook', headers: { 'x-api-key': acme.api_key }, payload: { kind: 'webhook', url: `https://hooks.example.com/${WEBHOOK_SECRET}`, secret: WEBHOOK_SECRET } });
      assertOk(channel.response, 201);
      expect(await channel.entry(), { action: 'notification.channel.set', actor: `key:${acme.key_prefix}`, actor_org: 'acme', target_id: 'hook', details: { kind: 'webhook', created: true } });

      const everything = JSON.stringify(await cp.db.query('SELECT * FROM audit_log'));
      for (const secret of [SECRET, WEBHOOK_SECRET, 'hooks.example.com']) assert.ok(!everything.includes(secret), `${secret} is in an audit row`);
    });

    test('schedules, backfills, alert rules, channels and run cancels, by the org key', async () => {
      const headers = { 'x-api-key': acme.api_key };
      const schedules = (await call(server, { url: '/api/v1/pipelines/schedules/acme', headers })).json() as { schedules: { schedule_id: string }[] };
      const scheduleId = schedules.schedules[0]?.schedule_id as string;
      assert.ok(scheduleId, 'the demo pipeline is scheduled');
      const changed = await send({ method: 'PUT', url: '/api/v1/pipelines/schedules/acme', headers, payload: { schedule_id: scheduleId, cron_expression: '15 7 * * *' } });
      assertOk(changed.response, 200);
      expect(await changed.entry(), { action: 'schedule.update', org_slug: 'acme', target_id: scheduleId, actor: `key:${acme.key_prefix}`, details: { fields: ['cron_expression'] } });
      const byRoot = await send({ method: 'PUT', url: `/api/v1/scheduler/schedule/${scheduleId}`, headers: root, payload: { is_enabled: false } });
      assertOk(byRoot.response, 200);
      expect(await byRoot.entry(), { action: 'schedule.update', org_slug: 'acme', actor: 'root', target_id: scheduleId, outcome: 'success' });

      const backfill = await send({ method: 'POST', url: '/api/v1/pipelines/backfill/acme/demo/usage/daily_cost', headers, payload: { start_date: '2026-01-01', end_date: '2026-01-02' } });
      assertOk(backfill.response, 202);
      const backfillId = (backfill.response.json() as { backfill_id: string }).backfill_id;
      expect(await backfill.entry(), { action: 'backfill.create', target_id: backfillId, details: { route: 'demo/usage/daily_cost', start_date: '2026-01-01', end_date: '2026-01-02', mode: 'missing' } });
      const cancelled = await send({ method: 'POST', url: `/api/v1/pipelines/backfill/acme/${backfillId}/cancel`, headers });
      assertOk(cancelled.response, 200);
      expect(await cancelled.entry(), { action: 'backfill.cancel', target_id: backfillId, outcome: 'success' });

      const rule = await send({ method: 'POST', url: '/api/v1/alerts/acme/rules', headers, payload: { name: 'daily', kind: 'daily_threshold', thresholds: [100] } });
      assertOk(rule.response, 201);
      const ruleId = (rule.response.json() as { rule_id: string }).rule_id;
      expect(await rule.entry(), { action: 'alert_rule.create', target_id: ruleId, details: { name: 'daily', kind: 'daily_threshold' } });
      const patched = await send({ method: 'PATCH', url: `/api/v1/alerts/acme/rules/${ruleId}`, headers, payload: { enabled: false } });
      expect(await patched.entry(), { action: 'alert_rule.update', target_id: ruleId, outcome: patched.response.statusCode === 200 ? 'success' : 'failure' });
      const ruleGone = await send({ method: 'DELETE', url: `/api/v1/alerts/acme/rules/${ruleId}`, headers });
      assertOk(ruleGone.response, 204);
      expect(await ruleGone.entry(), { action: 'alert_rule.delete', target_id: ruleId });

      const channelGone = await send({ method: 'DELETE', url: '/api/v1/notifications/acme/channels/nothere', headers });
      expect(await channelGone.entry(), { action: 'notification.channel.delete', target_id: 'nothere', outcome: 'failure', status: 404 });
      const runCancel = await send({ method: 'POST', url: '/api/v1/pipelines/cancel/acme/00000000-0000-4000-8000-000000000001', headers });
      expect(await runCancel.entry(), { action: 'run.cancel', outcome: 'failure', status: 404 });
    });

    test("an org's key sees its org's entries only, and not whose key another org's attempt used", async () => {
      const own = await call(server, { url: '/api/v1/audit/acme?limit=500', headers: { 'x-api-key': acme.api_key } });
      assertOk(own, 200);
      const entries = (own.json() as { entries: Entry[] }).entries;
      assert.ok(entries.length >= 10);
      assert.ok(entries.every((entry) => entry.org_slug === 'acme'), 'only acme');
      const attempt = entries.find((entry) => entry.action === 'notification.settings.update' && entry.status === 403);
      expect(attempt as Entry, { actor: 'key:another-org', actor_org: null });
      assert.ok(!own.body.includes('globex'), 'nothing of globex');
      const byTheirKey = await call(server, { url: `/api/v1/audit/acme?actor=${encodeURIComponent(`key:${globex.key_prefix}`)}`, headers: { 'x-api-key': acme.api_key } });
      assert.deepEqual((byTheirKey.json() as { entries: Entry[] }).entries, [], "another org's key prefix finds nothing in acme's view");
      assert.equal((await adminAudit(`org=acme&actor=${encodeURIComponent(`key:${globex.key_prefix}`)}`)).entries.length, 1, 'the operator finds it');
      assertError(await call(server, { url: '/api/v1/audit/globex', headers: { 'x-api-key': acme.api_key } }), 403);
      assertError(await call(server, { url: '/api/v1/audit/acme' }), 401);
      assertError(await call(server, { url: '/api/v1/admin/audit', headers: { 'x-api-key': acme.api_key } }), 401);
    });

    test('filters and the cursor: every entry once, newest first, bounded pages', async () => {
      const all = (await adminAudit('limit=500')).entries;
      const paged: Entry[] = [];
      let cursor: string | null = '';
      while (cursor !== null) {
        const page = await adminAudit(`limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        assert.ok(page.entries.length <= 3);
        paged.push(...page.entries);
        cursor = page.next_cursor;
      }
      assert.deepEqual(paged.map((entry) => entry.id), all.map((entry) => entry.id));
      for (let i = 1; i < all.length; i++) assert.ok((all[i - 1] as Entry).at >= (all[i] as Entry).at, 'newest first');

      const credentialActions = (await adminAudit('action=credential.*')).entries;
      assert.deepEqual([...new Set(credentialActions.map((entry) => entry.action))].sort(), ['credential.delete', 'credential.read', 'credential.rotate', 'credential.set']);
      const failures = (await adminAudit('outcome=failure&actor=root')).entries;
      assert.ok(failures.length >= 3 && failures.every((entry) => entry.outcome === 'failure' && entry.actor === 'root'));
      assert.ok((await adminAudit('org=globex')).entries.every((entry) => entry.org_slug === 'globex'));
      const middle = all[Math.floor(all.length / 2)] as Entry;
      const since = (await adminAudit(`since=${encodeURIComponent(middle.at)}`)).entries;
      assert.ok(since.length > 0 && since.every((entry) => entry.at >= middle.at));
      assert.ok((await adminAudit(`until=${encodeURIComponent(middle.at)}`)).entries.every((entry) => entry.at < middle.at));

      assertError(await call(server, { url: '/api/v1/admin/audit?limit=501', headers: root }), 400, { field: 'limit' });
      assertError(await call(server, { url: '/api/v1/admin/audit?cursor=bm9wZQ', headers: root }), 400, { field: 'cursor' });
      assertError(await call(server, { url: '/api/v1/admin/audit?outcome=maybe', headers: root }), 400, { field: 'outcome' });
      assertError(await call(server, { url: '/api/v1/admin/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', headers: root }), 400, { field: 'since' });
    });

    test('fail closed: when the audit row cannot be written, the action is refused and does not happen', async () => {
      await cp.db.query('ALTER TABLE audit_log RENAME TO audit_log_away');
      try {
        const refused = await server.inject({ method: 'PATCH', url: '/api/v1/admin/orgs/globex/subscription', headers: root, payload: { daily_limit: 5 } });
        assertError(refused, 503, { code: 'unavailable' });
      } finally {
        await cp.db.query('ALTER TABLE audit_log_away RENAME TO audit_log');
      }
      assert.notEqual((await app.orgs.subscription('globex')).daily_limit, 5, 'the change was not made');
    });
  });
}
