import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Type } from '@sinclair/typebox';
import { builtinProcessors } from '../../src/processors/builtin.ts';
import { loadPipelineConfigs } from '../../src/pipelines/load-configs.ts';
import { resolveSqlTemplates, resolveStepConfig, runVariables, sqlIdentifiers, sqlText } from '../../src/pipelines/templates.ts';
import { genaiApp, genaiConfigs, type GenaiApp } from '../genai/support/genai-app.ts';
import { CONFIGS } from '../support/test-app.ts';

const variables = runVariables({
  orgSlug: 'acme', env: 'prod', projectId: 'proj', runId: 'r1', pipelineId: 'p1', credentialId: 'c1',
  startDate: '2026-02-28', endDate: '2026-03-01', requestedOn: '2026-03-01', parameters: { team: "x'; DROP TABLE t; --", format: 'csv' },
});
const identifiers = sqlIdentifiers(variables);

describe('SQL text takes the service’s identifiers only', () => {
  test('identifiers are spliced; a run parameter in a SQL template is refused with the way to bind it', () => {
    assert.equal(resolveSqlTemplates('SELECT * FROM {org_dataset}."export__{credential_id}" WHERE d = $start_date', identifiers, 'q'), 'SELECT * FROM acme_prod."export__c1" WHERE d = $start_date');
    assert.throws(
      () => resolveSqlTemplates("SELECT * FROM {org_dataset}.t WHERE team = '{team}' AND n = ${{limit}}", identifiers, 'demo/proc'),
      (error: Error) => error.message === "SQL in demo/proc names {team}, {limit} as a template: only the service's identifiers (org_slug, env, org_dataset, project_id, credential_id, pipeline_id, run_id, date, start_date, end_date, year, month, day, today, yesterday) are spliced into SQL text; bind a value as a parameter instead: $team, $limit",
    );
  });

  test('the identifiers hold no run parameter, and a value that is not an identifier is never spliced', () => {
    assert.equal((identifiers as unknown as Record<string, unknown>).team, undefined);
    const hostile = sqlIdentifiers({ ...variables, credential_id: "c'; DROP TABLE t; --" });
    assert.throws(() => resolveSqlTemplates('SELECT {credential_id}', hostile, 'q'), /names \{credential_id\}, whose value is not an identifier/);
    // The type refuses the full variables, run parameters included, where SQL identifiers are expected.
    // @ts-expect-error a plain record of variables is not SqlIdentifiers
    assert.throws(() => resolveSqlTemplates('{team}', variables, 'q'), /bind a value as a parameter instead: \$team/);
  });

  test('a step config: SQL fields (sqlText) resolve with identifiers only, other fields with every variable', () => {
    const schema = Type.Object({
      format: Type.String(),
      sources: Type.Array(Type.Object({ uri: Type.String() })),
      check: Type.Optional(Type.Union([Type.Object({ source: sqlText() }), Type.Null()])),
      query: sqlText(),
    });
    const config = { format: '{format}', sources: [{ uri: 'exports/{team}.csv' }], check: { source: 'SELECT 1 FROM {org_dataset}.x' }, query: 'SELECT $team FROM ${org_dataset}.t' };
    assert.deepEqual(resolveStepConfig(config, schema, variables), {
      format: 'csv',
      sources: [{ uri: "exports/x'; DROP TABLE t; --.csv" }],
      check: { source: 'SELECT 1 FROM acme_prod.x' },
      query: 'SELECT $team FROM acme_prod.t',
    });
    assert.throws(() => resolveStepConfig({ ...config, check: { source: "SELECT '{team}'" } }, schema, variables, 'steps[0].config'), /SQL in steps\[0\]\.config\.check\.source names \{team\} as a template/);
    assert.throws(() => resolveStepConfig({ ...config, format: '{nope}' }, schema, variables), /Unknown template variable: nope \(in config\.format\)/);
  });

  test('no shipped SQL names a run parameter: every procedure file and every SQL field of every config', async () => {
    const procedures = join(CONFIGS, 'system', 'procedures');
    const files = (await readdir(procedures, { recursive: true })).filter((file) => file.endsWith('.sql'));
    assert.ok(files.length >= 15, `${files.length} procedure files`);
    for (const file of files) resolveSqlTemplates(await readFile(join(procedures, file), 'utf8'), identifiers, file);

    const processors = builtinProcessors();
    const { pipelines, problems } = await loadPipelineConfigs(CONFIGS, processors);
    assert.deepEqual(problems, []);
    let sqlFields = 0;
    for (const pipeline of pipelines) {
      // Every declared parameter has a value, so only a SQL field naming one can fail.
      const parameters = Object.fromEntries(Object.keys(pipeline.parameters ?? {}).map((name) => [name, 'value']));
      const all = runVariables({ orgSlug: 'acme', env: 'dev', projectId: 'local', runId: 'r', pipelineId: pipeline.pipeline_id, credentialId: 'default', startDate: '2026-01-01', endDate: '2026-01-02', requestedOn: '2026-01-03', parameters });
      for (const [i, step] of pipeline.steps.entries()) {
        const schema = processors.get(step.ps_type)?.configSchema;
        const resolved = resolveStepConfig(step.config ?? {}, schema, all, `${pipeline.route} steps[${i}].config`);
        sqlFields += JSON.stringify(resolved).split('$start_date').length - 1;
      }
    }
    assert.ok(sqlFields > 10, 'the SQL fields were seen');
  });
});

const NOTES_SCHEMA = JSON.stringify({
  description: 'test table: a run parameter written as a value',
  fields: [
    { name: 'usage_date', type: 'DATE', mode: 'REQUIRED' },
    { name: 'note', type: 'STRING' },
  ],
});
const pipeline = (id: string, query: string) => `pipeline_id: ${id}
name: notes
description: a run parameter in SQL
provider: sqltest
domain: params
version: "1"
parameters:
  note: { type: string, default: "none" }
steps:
  - step_id: write
    ps_type: generic.local_bq_transformer
    config:
      target_table: sql_notes
      schema: test/sql_notes
      query: |
${query.replace(/^/gm, '        ')}
`;

describe('a run parameter in a pipeline’s SQL', () => {
  let app: GenaiApp;
  before(async () => {
    const configsDir = await genaiConfigs({
      'schemas/test/sql_notes.json': NOTES_SCHEMA,
      'sqltest/params/bound.yml': pipeline('sql_bound', 'SELECT CAST($start_date AS DATE) AS usage_date, $note AS note'),
      'sqltest/params/spliced.yml': pipeline('sql_spliced', "SELECT CAST($start_date AS DATE) AS usage_date, '{note}' AS note FROM {org_dataset}.sql_notes"),
    });
    app = await genaiApp({ org: 'sql_org', configsDir });
  });
  after(() => app?.close());

  test('bound as $note, a value like an injection is stored as text and runs nothing', async () => {
    const first = await app.run('sqltest/params/bound', { date: '2026-01-01', note: 'first' });
    assert.equal(first.run.status, 'completed', first.run.error_message ?? '');
    const hostile = "x'; DROP TABLE sql_org_dev.sql_notes; --";
    const second = await app.run('sqltest/params/bound', { date: '2026-01-02', note: hostile });
    assert.equal(second.run.status, 'completed', second.run.error_message ?? '');
    const rows = await app.query(`SELECT CAST(usage_date AS VARCHAR) AS day, note FROM sql_org_dev.sql_notes ORDER BY 1`);
    assert.deepEqual(rows, [{ day: '2026-01-01', note: 'first' }, { day: '2026-01-02', note: hostile }], 'the table is still there, with the text as it was sent');
  });

  test('named in a template, the run is refused at admission, telling the author to bind it, and nothing is queued or written', async () => {
    const before = await app.query(`SELECT count(*)::INT AS n FROM sql_org_dev.sql_notes`);
    const runsBefore = (await app.app.runs.list(app.org, { limit: 1000 })).length;
    await assert.rejects(
      app.app.requests.request({ orgSlug: app.org, route: 'sqltest/params/spliced', body: { date: '2026-01-03', note: "x' UNION SELECT 1 --" }, trigger: 'api', createdBy: 'test' }),
      /SQL in steps\[0\]\.config\.query names \{note\} as a template: only the service's identifiers \(org_slug, .*\) are spliced into SQL text; bind a value as a parameter instead: \$note$/,
    );
    assert.equal((await app.app.runs.list(app.org, { limit: 1000 })).length, runsBefore, 'no run was queued');
    assert.deepEqual(await app.query(`SELECT count(*)::INT AS n FROM sql_org_dev.sql_notes`), before);
  });
});
