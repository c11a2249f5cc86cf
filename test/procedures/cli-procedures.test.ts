import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openControlPlane } from '../../src/store/open-control-plane.ts';
import { cli } from '../support/server-process.ts';
import { seededDataDir } from '../support/pglite-template.ts';

const DEMO = 'sp_demo_1_generate_usage';

test('pipeline procedures: files, sync (then nothing to sync), list, show, delete, audited as the CLI\'s; its mistakes said plainly', async () => {
  const env = { PIPELINE_DATA_DIR: await seededDataDir('cli-procedures-') };
  const run = async (...args: string[]) => cli(['procedures', ...args], env);

  const files = await run('files', '--json');
  assert.equal(files.code, 0, files.stderr);
  const listed = JSON.parse(files.stdout) as { dialect: string; files: { name: string; status: string }[] };
  assert.equal(listed.dialect, 'duckdb');
  assert.ok(listed.files.length >= 15 && listed.files.every((file) => file.status === 'not_registered'));
  const count = listed.files.length;

  const first = await run('sync');
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`^${count} created, 0 updated, 0 unchanged, 0 failed \\(duckdb\\)`));
  assert.match(first.stdout, new RegExp(`created   ${DEMO}`));
  const second = await run('sync');
  assert.match(second.stdout, new RegExp(`^0 created, 0 updated, ${count} unchanged, 0 failed`));

  const list = await run('list');
  assert.equal(list.stdout.trim().split('\n').length, count);
  assert.match(list.stdout, new RegExp(`^${DEMO}\\t[0-9a-f]{12}\\t\\d{4}-\\d\\d-\\d\\dT[^\\t]+\\tdemo/${DEMO}\\.duckdb\\.sql$`, 'm'));

  const shown = await run('show', DEMO);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /runs the registered text; registered .* from demo\/sp_demo_1_generate_usage\.duckdb\.sql; file demo\/.*in sync/);
  assert.match(shown.stdout, /generate_series\(CAST\(\$start_date AS DATE\)/);

  const deleted = await run('delete', DEMO);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, /deleted sp_demo_1_generate_usage \(duckdb\); steps run its file again/);

  assert.match((await run('delete')).stderr, /missing <name>: pipeline procedures delete <name>/);
  assert.match((await run('frob')).stderr, /procedures takes list, files, sync, show or delete, got 'frob'/);

  // Each change is in the audit log as the CLI's, under the OS user.
  const controlPlane = await openControlPlane({ dataDir: env.PIPELINE_DATA_DIR });
  try {
    const rows = await controlPlane.db.query<{ action: string; actor: string; via: string; n: number }>(
      "SELECT action, actor, via, count(*)::int AS n FROM audit_log WHERE action LIKE 'procedure.%' GROUP BY action, actor, via ORDER BY action",
    );
    // The changes, and the commands that asked for them.
    assert.deepEqual(rows.map((row) => [row.action, row.via, row.n]), [['procedure.create', 'cli', count], ['procedure.delete', 'cli', 1], ['procedure.remove', 'cli', 1], ['procedure.sync', 'cli', 2]]);
    assert.ok(rows.every((row) => /^cli:[A-Za-z0-9_.@-]+$/.test(row.actor)));
  } finally {
    await controlPlane.close();
  }
});
