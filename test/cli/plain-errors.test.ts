import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { cli } from '../support/server-process.ts';
import { seededDataDir } from '../support/pglite-template.ts';

/** What a person sees for a wrong argument (issue 11, item 7): what is missing and what to do, no engine text. */
describe('CLI errors in plain words', () => {
  let env: Record<string, string>;
  before(async () => {
    env = { PIPELINE_DATA_DIR: await seededDataDir('cli-errors-') };
  });
  const engineWords = /IO Error|SQL|SELECT|read_csv|LINE \d|invalid input syntax|uuid:/;

  test('validate-focus of a file that is not there: no such file, and how to get one', async () => {
    const missing = join(env.PIPELINE_DATA_DIR!, 'missing.csv');
    const result = await cli(['validate-focus', missing], env);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trim(), `pipeline: no such file: ${missing}; give a FOCUS CSV or Parquet file, such as one written by pipeline export <org> --format csv --out focus.csv`);
    assert.doesNotMatch(result.stderr, engineWords);
  });

  test('logs of a run id that is not a UUID, then of a UUID no run has', async () => {
    const malformed = await cli(['logs', 'demo', 'not-a-uuid'], env);
    assert.equal(malformed.code, 1);
    assert.equal(malformed.stderr.trim(), 'pipeline: run id must be a UUID, as pipeline run prints it; pipeline runs <org> lists the runs of an org');
    const runId = randomUUID();
    const unknown = await cli(['logs', 'demo', runId], env);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr.trim(), `pipeline: run ${runId} not found for demo; pipeline runs demo lists its runs`);
    assert.doesNotMatch(malformed.stderr + unknown.stderr, engineWords);
  });

  test("an org that does not exist is said so, for run and runs; a new org's empty history says it is empty; cancel of an ended run is refused", async () => {
    const run = await cli(['run', 'wrongorg/demo/usage/daily_cost'], env);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim(), 'pipeline: organization wrongorg does not exist; pipeline org list shows the orgs, pipeline org create wrongorg creates it');
    const runs = await cli(['runs', 'wrongorg'], env);
    assert.equal(runs.code, 1);
    assert.match(runs.stderr, /organization wrongorg does not exist/);
    assert.equal((await cli(['org', 'create', 'acme'], env)).code, 0);
    assert.equal((await cli(['runs', 'acme'], env)).stdout.trim(), 'acme has no runs yet');
    const done = await cli(['run', 'acme/demo/usage/daily_cost', '--date', '2026-01-15', '--json'], env);
    const runId = (JSON.parse(done.stdout) as { run_id: string }).run_id;
    const cancel = await cli(['cancel', 'acme', runId], env);
    assert.equal(cancel.code, 1);
    assert.equal(cancel.stderr.trim(), `pipeline: Run ${runId} already completed: there is nothing to cancel`);
  });
});
