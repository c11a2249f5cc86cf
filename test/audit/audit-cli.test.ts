import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/main/cli.ts';
import type { AuditRow } from '../../src/store/audit.ts';
import { CONFIGS } from '../support/test-app.ts';
import { seededDataDir } from '../support/pglite-template.ts';

/**
 * The CLI's admin commands call the services directly, so they are recorded by cli-audit.ts
 * as `cli:<user>`, and `pipeline audit` lists them. In process, on the embedded control plane
 * of a fresh data folder (the store itself is tested on PostgreSQL too by test/api/audit.test.ts).
 */
const SECRET = 'sk-cli-AUDIT-MUST-NEVER-SEE-0123456789';

test('pipeline org/key/credential commands are audited as cli:<user>; pipeline audit lists and filters them', async () => {
  Object.assign(process.env, { PIPELINE_DATA_DIR: await seededDataDir('audit-cli-'), PIPELINE_CONFIGS_DIR: CONFIGS, DATABASE_URL: '', AUDIT_TEST_SECRET: SECRET });
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    try {
      return { code: await main(argv, (line) => lines.push(line)), out: lines.join('\n'), error: undefined };
    } catch (error) {
      return { code: 1, out: lines.join('\n'), error: (error as Error).message };
    }
  };
  assert.equal((await run('org', 'create', 'acme')).code, 0);
  const key = JSON.parse((await run('key', 'create', 'acme', '--json')).out) as { key_id: string; key_prefix: string; api_key: string };
  assert.equal((await run('credential', 'set', 'acme', 'openai', '--secret-env', 'AUDIT_TEST_SECRET')).code, 0);
  assert.equal((await run('credential', 'rotate', 'acme', 'openai', '--secret-env', 'AUDIT_TEST_SECRET')).code, 0);
  const missing = await run('key', 'revoke', 'acme', '00000000-0000-4000-8000-000000000009');
  assert.match(missing.error ?? '', /not found/);

  const listed = await run('audit', 'acme', '--json');
  assert.equal(listed.code, 0, listed.error);
  const rows = JSON.parse(listed.out) as AuditRow[];
  const actor = `cli:${userInfo().username}`;
  assert.deepEqual(
    rows.map((row) => [row.action, row.target_id, row.outcome, row.error_code]).reverse(),
    [['org.create', 'acme', 'success', null], ['key.create', key.key_id, 'success', null], ['credential.set', 'openai/default', 'success', null], ['credential.rotate', 'openai/default', 'success', null], ['key.revoke', '00000000-0000-4000-8000-000000000009', 'failure', 'not_found']],
  );
  assert.ok(rows.every((row) => row.actor === actor && row.via === 'cli' && row.org_slug === 'acme' && row.request_id?.startsWith('cli-')));
  assert.equal(new Set(rows.map((row) => row.request_id)).size, rows.length, 'one request id per command');
  assert.ok(!listed.out.includes(SECRET) && !listed.out.includes(key.api_key), 'no secret and no key in the audit');

  const text = await run('audit', '--action', 'credential.*');
  assert.match(text.out, new RegExp(`^\\S+Z ${actor} credential\\.rotate acme openai/default success$`, 'm'));
  assert.doesNotMatch(text.out, /key\.create/);
  assert.match((await run('audit', '--outcome', 'failure')).out, /key\.revoke acme 00000000-0000-4000-8000-000000000009 failure not_found/);
  assert.match((await run('audit', 'acme', '--actor', 'root')).out, /^no audit entries for acme match$/);
  assert.match((await run('audit', '--outcome', 'maybe')).error ?? '', /--outcome takes success, failure, pending, got 'maybe'/);
  assert.match((await run('audit', '--since', 'yesterday')).error ?? '', /--since takes a date or an ISO 8601 time/);
  assert.match((await run('audit', 'nobody')).error ?? '', /organization nobody does not exist/);
  assert.match((await run('audit', '--help')).out, /audit \[<org>\] \[--action/);
});
