import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from '../support/server-process.ts';
import { seededDataDir } from '../support/pglite-template.ts';

test('pipeline schedules: list, set, disable and trigger from the command line', async () => {
  const env = { PIPELINE_DATA_DIR: await seededDataDir('cli-schedules-') };
  assert.equal((await cli(['org', 'create', 'acme'], env)).code, 0);
  const listed = await cli(['schedules', 'list', 'acme'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /demo\/usage\/daily_cost "0 6 \* \* \*" UTC enabled next \S+T06:00:00\.000Z; never ticked/);
  const set = await cli(['schedules', 'set', 'acme', 'demo/usage/daily_cost', '--cron', '30 8 * * 1-5', '--timezone', 'America/Chicago', '--param', 'date={{ yesterday }}', '--json'], env);
  assert.equal(set.code, 0, set.stderr);
  const changed = JSON.parse(set.stdout) as { cron_expression: string; timezone: string; parameters: Record<string, string>; source: string };
  assert.deepEqual([changed.cron_expression, changed.timezone, changed.parameters, changed.source], ['30 8 * * 1-5', 'America/Chicago', { date: '{{ yesterday }}' }, 'operator']);
  const bad = await cli(['schedules', 'set', 'acme', 'demo/usage/daily_cost', '--timezone', 'Nowhere/Else'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /timezone/);
  const trigger = await cli(['schedules', 'trigger', 'acme', 'demo/usage/daily_cost'], env);
  assert.equal(trigger.code, 0, trigger.stderr);
  assert.match(trigger.stdout, /^1 runs enqueued/);
  const disabled = await cli(['schedules', 'disable', 'acme', 'demo/usage/daily_cost'], env);
  assert.match(disabled.stdout, /disabled next -; last \S+ enqueued \(run pending\)/);
  const unknown = await cli(['schedules', 'list', 'nobody'], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /organization nobody not found/);
});
