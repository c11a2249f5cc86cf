import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli } from '../support/server-process.ts';
import { seededDataDir } from '../support/pglite-template.ts';

test('pipeline alerts: rules added, listed, disabled; an evaluation and the alerts from the command line', async () => {
  const env = { PIPELINE_DATA_DIR: await seededDataDir('cli-alerts-') };
  assert.equal((await cli(['org', 'create', 'acme'], env)).code, 0);
  const added = await cli(['alerts', 'rules', 'add', 'acme', '--rule', '{"name": "daily", "kind": "daily_threshold", "thresholds": [1000]}', '--json'], env);
  assert.equal(added.code, 0, added.stderr);
  const rule = JSON.parse(added.stdout) as { rule_id: string; currency: string; thresholds: number[] };
  assert.deepEqual([rule.currency, rule.thresholds], ['USD', [1000]]);
  const bad = await cli(['alerts', 'rules', 'add', 'acme', '--rule', '{"name": "spikes", "kind": "anomaly"}'], env);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /anomaly rule needs group_by service or sub_account/);

  const listed = await cli(['alerts', 'rules', 'list', 'acme'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`^${rule.rule_id} daily daily_threshold enabled EffectiveCost USD thresholds=1000$`, 'm'));
  const evaluated = await cli(['alerts', 'evaluate', 'acme'], env);
  assert.equal(evaluated.code, 0, evaluated.stderr);
  assert.match(evaluated.stdout, /^1 rules: 0 fired, 0 escalated, 0 resolved, 0 updated/);
  const shown = await cli(['alerts', 'acme'], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /acme has no cost alerts/);
  const disabled = await cli(['alerts', 'rules', 'disable', 'acme', 'daily'], env);
  assert.match(disabled.stdout, /^Updated \S+ daily daily_threshold disabled/);
  const unknown = await cli(['alerts', 'nobody'], env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /organization nobody not found/);
});
