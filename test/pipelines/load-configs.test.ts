import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtinProcessors } from '../../src/processors/builtin.ts';
import { loadPipelineConfigs } from '../../src/pipelines/load-configs.ts';
import { CONFIGS } from '../support/test-app.ts';

const HEADER = 'name: N\ndescription: D\nprovider: p\ndomain: d\nversion: "1"\n';

async function configs(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'configs-'));
  for (const [file, text] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  return dir;
}

test('the shipped configs load without a problem', async () => {
  const { pipelines, problems } = await loadPipelineConfigs(CONFIGS, builtinProcessors());
  assert.deepEqual(problems, []);
  assert.ok(pipelines.some((p) => p.route === 'demo/usage/daily_cost'));
});

test('every problem is reported at once, each naming file, path, line and what was expected', async () => {
  const dir = await configs({
    'a/b/unknown_field.yml': `pipeline_id: x1\n${HEADER}colour: blue\nsteps:\n  - { step_id: s, ps_type: generic.procedure_executor, config: { procedure: a/b } }\n`,
    'a/b/bad_processor.yml': `pipeline_id: x2\n${HEADER}steps:\n  - { step_id: s, ps_type: nope.nothing }\n`,
    'a/b/bad_step_config.yml': `pipeline_id: x3\n${HEADER}steps:\n  - step_id: s\n    ps_type: generic.local_bq_transformer\n    config:\n      target_table: Bad-Name\n      schema: demo/x\n`,
    'a/b/cycle.yml': `pipeline_id: x4\n${HEADER}steps:\n  - { step_id: s1, ps_type: generic.procedure_executor, depends_on: [s2], config: { procedure: a/b } }\n  - { step_id: s2, ps_type: generic.procedure_executor, depends_on: [s1], config: { procedure: a/b } }\n`,
    'a/b/missing_dep.yml': `pipeline_id: x5\n${HEADER}steps:\n  - { step_id: s1, ps_type: generic.procedure_executor, depends_on: [ghost], config: { procedure: a/b } }\n`,
    'a/b/bad_cron.yml': `pipeline_id: x6\n${HEADER}schedule: "every day"\nsteps:\n  - { step_id: s, ps_type: generic.procedure_executor, config: { procedure: a/b } }\n`,
    'x/a/b/bad_cron.yml': `pipeline_id: x7\n${HEADER}steps:\n  - { step_id: s, ps_type: generic.procedure_executor, config: { procedure: a/b } }\n`,
    'a/b/broken.yml': `pipeline_id: [unclosed\n`,
    'system/providers.yml': 'not: a pipeline\n',
  });
  const { pipelines, problems } = await loadPipelineConfigs(dir, builtinProcessors());
  const find = (file: string) => problems.filter((p) => p.file === file);
  assert.deepEqual(find('a/b/unknown_field.yml').map((p) => [p.path, p.message, p.line]), [['colour', 'unknown field', 7]]);
  assert.match(find('a/b/bad_processor.yml')[0]?.message ?? '', /unknown processor "nope.nothing"; expected one of (\S+, )*generic\.local_bq_transformer, generic\.procedure_executor/);
  const stepProblems = find('a/b/bad_step_config.yml').map((p) => p.path);
  assert.ok(stepProblems.includes('steps[0].config.target_table'), stepProblems.join());
  assert.ok(stepProblems.includes('steps[0].config.query'), 'missing query reported');
  assert.match(find('a/b/cycle.yml')[0]?.message ?? '', /dependency cycle: s1 -> s2 -> s1/);
  assert.match(find('a/b/missing_dep.yml')[0]?.message ?? '', /unknown step "ghost"/);
  assert.equal(find('a/b/missing_dep.yml')[0]?.path, 'steps[0].depends_on[0]');
  assert.match(find('a/b/bad_cron.yml')[0]?.message ?? '', /not a valid cron expression/);
  assert.match(find('x/a/b/bad_cron.yml')[0]?.message ?? '', /route a\/b\/bad_cron is already answered by a\/b\/bad_cron.yml/);
  assert.equal(find('a/b/broken.yml')[0]?.path, '(yaml)');
  assert.equal(find('system/providers.yml').length, 0, 'system/ holds data, not pipelines');
  assert.deepEqual(pipelines, []);
});
