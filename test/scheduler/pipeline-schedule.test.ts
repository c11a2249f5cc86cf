import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { resolveRunParameters } from '../../src/engine/run-parameters.ts';
import type { PipelineConfig } from '../../src/pipelines/config-schema.ts';
import { loadPipelineConfigs, type ConfigProblem } from '../../src/pipelines/load-configs.ts';
import { builtinProcessors } from '../../src/processors/builtin.ts';
import { checkCron, pipelineSchedule } from '../../src/scheduler/pipeline-schedule.ts';
import { evaluateScheduleTemplate } from '../../src/scheduler/schedule-template.ts';
import { addDays, daysBetween } from '../../src/shared/clock.ts';
import { InputError } from '../../src/shared/errors.ts';
import { CONFIGS } from '../support/test-app.ts';

const MAX_RANGE_DAYS = 366;
const CLOUD = ['aws/cost/billing', 'azure/cost/billing', 'gcp/cost/billing', 'oci/cost/billing'];
const GENAI_USAGE = ['genai/payg/anthropic', 'genai/payg/gemini', 'genai/payg/openai'];

function pipeline(schedule: PipelineConfig['schedule']): PipelineConfig {
  return { pipeline_id: 'p', name: 'N', description: 'D', provider: 'p', domain: 'd', version: '1', steps: [], route: 'p/d/p', file: 'p/d/p.yml', ...(schedule === undefined ? {} : { schedule }) };
}

function refused(run: () => void, field: string, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `not an InputError: ${String(error)}`);
    assert.equal(error.field, field);
    assert.match(error.message, message);
    return true;
  });
}

async function shipped(): Promise<Map<string, PipelineConfig>> {
  const { pipelines, problems } = await loadPipelineConfigs(CONFIGS, builtinProcessors());
  assert.deepEqual(problems, []);
  return new Map(pipelines.map((p) => [p.route, p]));
}

/** The run a schedule of a shipped pipeline admits on `localDate`. */
function scheduledRun(config: PipelineConfig, localDate: string) {
  const schedule = pipelineSchedule(config);
  assert.ok(schedule, `${config.route} has no schedule`);
  return resolveRunParameters(config, evaluateScheduleTemplate(schedule.parameters, { localDate }), localDate, MAX_RANGE_DAYS);
}

describe('pipelineSchedule', () => {
  test('the cron string form gets every default', () => {
    assert.deepEqual(pipelineSchedule(pipeline('0 6 * * *')), { cron: '0 6 * * *', timezone: 'UTC', parameters: {}, missed: 'skip', maxCatchup: 10 });
  });

  test('the object form keeps what it gives and defaults the rest', () => {
    assert.deepEqual(pipelineSchedule(pipeline({ cron: '0 7 * * *' })), { cron: '0 7 * * *', timezone: 'UTC', parameters: {}, missed: 'skip', maxCatchup: 10 });
    const full = pipeline({ cron: '5 1 * * 1', timezone: 'Europe/Paris', parameters: { start_date: '{{ today - 7 days }}', teams: 2 }, missed: 'all', max_catchup: 3 });
    const schedule = pipelineSchedule(full);
    assert.deepEqual(schedule, { cron: '5 1 * * 1', timezone: 'Europe/Paris', parameters: { start_date: '{{ today - 7 days }}', teams: 2 }, missed: 'all', maxCatchup: 3 });
    schedule!.parameters.teams = 9;
    assert.equal((full.schedule as { parameters: Record<string, unknown> }).parameters.teams, 2, 'the schedule is a copy, not the loaded config');
  });

  test('no schedule, no default schedule', () => {
    assert.equal(pipelineSchedule(pipeline(undefined)), undefined);
  });
});

describe('checkCron', () => {
  test('accepts 5-field expressions, aliases and a 6-field form at second 0, in IANA zones', () => {
    for (const [cron, zone] of [['0 7 * * *', 'UTC'], ['*/5 * * * *', 'Europe/London'], ['30 2 * * 0', 'America/New_York'], ['@daily', 'Asia/Kolkata'], ['0 0 7 * * *', 'Australia/Lord_Howe'], ['0 9 1 * *', 'Etc/GMT+5'], ['* * * * *', 'US/Eastern']] as const) {
      assert.doesNotThrow(() => checkCron(cron, zone), `${cron} in ${zone}`);
    }
  });

  test('refuses what is not a cron expression, naming cron_expression', () => {
    refused(() => checkCron('every day', 'UTC'), 'cron_expression', /^"every day" is not a valid cron expression: /);
    refused(() => checkCron('61 * * * *', 'UTC'), 'cron_expression', /not a valid cron expression: .*0-59/);
    refused(() => checkCron('0 7 * * * * *', 'UTC'), 'cron_expression', /too many fields/);
    refused(() => checkCron('', 'UTC'), 'cron_expression', /empty/);
    refused(() => checkCron('  ', 'UTC'), 'cron_expression', /empty/);
    refused(() => checkCron(`0 ${'1,'.repeat(150)}1 * * *`, 'UTC'), 'cron_expression', /longer than 200 characters/);
    refused(() => checkCron(7 as unknown as string, 'UTC'), 'cron_expression', /must be a string/);
  });

  test('refuses expressions firing more often than once a minute, and seconds fields', () => {
    refused(() => checkCron('*/10 * * * * *', 'UTC'), 'cron_expression', /fires more often than once a minute/);
    refused(() => checkCron('* * * * * *', 'UTC'), 'cron_expression', /fires more often than once a minute/);
    refused(() => checkCron('@secondly', 'UTC'), 'cron_expression', /fires more often than once a minute/);
    refused(() => checkCron('30 * * * * *', 'UTC'), 'cron_expression', /has a seconds field; schedules tick on whole minutes/);
  });

  test('refuses the hashed form, whose ticks would differ between processes', () => {
    refused(() => checkCron('H 7 * * *', 'UTC'), 'cron_expression', /hashed form H/);
    assert.doesNotThrow(() => checkCron('0 7 * * thu', 'UTC'), 'a day name with an h is not a hash');
  });

  test('refuses what is not an IANA zone, naming timezone', () => {
    refused(() => checkCron('0 7 * * *', 'Mars/Olympus_Mons'), 'timezone', /"Mars\/Olympus_Mons" is not an IANA time zone/);
    refused(() => checkCron('0 7 * * *', '+01:00'), 'timezone', /must be an IANA time zone/);
    refused(() => checkCron('0 7 * * *', ''), 'timezone', /must be an IANA time zone/);
    refused(() => checkCron('0 7 * * *', 'UTC; DROP TABLE x'), 'timezone', /must be an IANA time zone/);
    refused(() => checkCron('every day', 'Nowhere/Zone'), 'timezone', /not an IANA time zone/);
  });
});

describe('the shipped schedules', () => {
  test('every pipeline reading a provider has an object schedule; cloud ones staggered after 07:00 UTC, GenAI ones at their times', async () => {
    const configs = await shipped();
    const cron = (route: string) => {
      const config = configs.get(route);
      assert.ok(config, `${route} missing`);
      assert.equal(typeof config.schedule, 'object', `${route} has the object form`);
      return pipelineSchedule(config)?.cron;
    };
    const cloudCrons = CLOUD.map(cron);
    assert.deepEqual(cloudCrons, ['0 7 * * *', '15 7 * * *', '30 7 * * *', '45 7 * * *']);
    assert.deepEqual(GENAI_USAGE.map(cron), ['20 4 * * *', '25 4 * * *', '15 4 * * *']);
    assert.equal(cron('genai/payg/deepseek'), '30 4 * * *');
    assert.equal(pipelineSchedule(configs.get('genai/unified/consolidate') ?? pipeline(undefined))?.cron, '30 5 * * *');
    assert.equal(pipelineSchedule(configs.get('subscription/costs/subscription_cost') ?? pipeline(undefined))?.cron, '30 5 * * *');
    assert.equal(configs.get('demo/usage/daily_cost')?.schedule, '0 6 * * *');
  });

  test('each cloud window: the previous month from its 1st on the 1st-3rd of a month, else the last 3 days, to yesterday', async () => {
    const configs = await shipped();
    const expected: Record<string, [string, string]> = {
      '2026-03-01': ['2026-02-01', '2026-02-28'],
      '2026-03-03': ['2026-02-01', '2026-03-02'],
      '2026-03-04': ['2026-03-01', '2026-03-03'],
      '2026-01-02': ['2025-12-01', '2026-01-01'],
      '2028-03-01': ['2028-02-01', '2028-02-29'],
      '2026-07-19': ['2026-07-16', '2026-07-18'],
    };
    for (const route of CLOUD) {
      const config = configs.get(route);
      assert.ok(config, route);
      for (const [day, [start, end]] of Object.entries(expected)) {
        const run = scheduledRun(config, day);
        assert.deepEqual([run.startDate, run.endDate], [start, end], `${route} on ${day}`);
      }
    }
  });

  test('each GenAI usage run and the summary after them re-pull the last 3 days; DeepSeek reads yesterday', async () => {
    const configs = await shipped();
    for (const route of [...GENAI_USAGE, 'genai/unified/consolidate']) {
      const run = scheduledRun(configs.get(route) ?? pipeline(undefined), '2026-03-01');
      assert.deepEqual([run.startDate, run.endDate], ['2026-02-26', '2026-02-28'], route);
    }
    const deepseek = scheduledRun(configs.get('genai/payg/deepseek') ?? pipeline(undefined), '2026-03-01');
    assert.deepEqual([deepseek.startDate, deepseek.endDate], ['2026-02-28', '2026-02-28']);
  });

  test('every declared schedule gives a run admission accepts on 40 consecutive days, over a year end and a leap day', async () => {
    const configs = await shipped();
    const scheduled = [...configs.values()].filter((config) => config.schedule !== undefined);
    assert.ok(scheduled.length >= 11, `${scheduled.length} scheduled pipelines`);
    for (const config of scheduled) {
      const schedule = pipelineSchedule(config);
      assert.ok(schedule);
      checkCron(schedule.cron, schedule.timezone);
      for (const first of ['2027-12-10', '2028-02-10']) {
        for (const day of daysBetween(first, addDays(first, 39))) {
          const run = scheduledRun(config, day);
          assert.equal(run.endDate, addDays(day, -1), `${config.route} on ${day} ends yesterday`);
          assert.ok(run.startDate <= run.endDate && daysBetween(run.startDate, run.endDate).length <= 34, `${config.route} on ${day}: ${run.startDate}..${run.endDate}`);
          assert.equal(run.credentialId, 'default');
        }
      }
    }
  });
});

describe('a bad YAML schedule is a load problem naming the file', () => {
  const HEADER = 'name: N\ndescription: D\nprovider: p\ndomain: d\nversion: "1"\n';
  const STEPS = 'steps:\n  - { step_id: s, ps_type: generic.procedure_executor, config: { procedure: a/b } }\n';
  const file = (id: string, schedule: string, extra = '') => `pipeline_id: ${id}\n${HEADER}${extra}schedule:\n${schedule}${STEPS}`;

  async function load(files: Record<string, string>, maxRangeDays?: number): Promise<{ problems: ConfigProblem[]; routes: string[] }> {
    const dir = await mkdtemp(join(tmpdir(), 'schedules-'));
    for (const [name, text] of Object.entries(files)) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), text);
    }
    const { pipelines, problems } = await loadPipelineConfigs(dir, builtinProcessors(), maxRangeDays === undefined ? {} : { maxRangeDays });
    return { problems, routes: pipelines.map((p) => p.route) };
  }
  const about = (problems: ConfigProblem[], file: string) => problems.filter((p) => p.file === file).map((p) => [p.path, p.line, p.message] as const);

  test('bad cron, bad zone, unknown template variable, undeclared parameter, a refused range: each at its line', async () => {
    const { problems, routes } = await load({
      'a/b/good.yml': file('good', '  cron: "0 7 * * *"\n  timezone: Europe/Paris\n  parameters:\n    start_date: "{{ today - 3 days }}"\n    end_date: "{{ yesterday }}"\n  missed: once\n'),
      'a/b/bad_cron.yml': file('bad_cron', '  cron: "0 25 * * *"\n'),
      'a/b/seconds.yml': file('seconds', '  cron: "*/5 * * * * *"\n'),
      'a/b/bad_zone.yml': file('bad_zone', '  cron: "0 7 * * *"\n  timezone: Europe/Atlantis\n'),
      'a/b/unknown_variable.yml': file('unknown_variable', '  cron: "0 7 * * *"\n  parameters:\n    start_date: "{{ tomorrow }}"\n    end_date: "{{ yesterday }}"\n'),
      'a/b/undeclared.yml': file('undeclared', '  cron: "0 7 * * *"\n  parameters:\n    colour: blue\n'),
      'a/b/too_long.yml': file('too_long', '  cron: "0 7 * * *"\n  parameters:\n    start_date: "{{ today - 400 days }}"\n    end_date: "{{ yesterday }}"\n'),
      'a/b/bad_type.yml': file('bad_type', '  cron: "0 7 * * *"\n  parameters:\n    teams: "{{ today }}"\n', 'parameters:\n  teams: { type: integer, default: 3 }\n'),
      'a/b/required.yml': file('required', '  cron: "0 7 * * *"\n', 'parameters:\n  region: { type: string, required: true }\n'),
    });
    assert.deepEqual(about(problems, 'a/b/good.yml'), []);
    assert.deepEqual(about(problems, 'a/b/bad_cron.yml').map(([path, line]) => [path, line]), [['schedule.cron', 8]]);
    assert.match(about(problems, 'a/b/bad_cron.yml')[0]?.[2] ?? '', /"0 25 \* \* \*" is not a valid cron expression/);
    assert.match(about(problems, 'a/b/seconds.yml')[0]?.[2] ?? '', /fires more often than once a minute/);
    assert.deepEqual(about(problems, 'a/b/bad_zone.yml').map(([path, line]) => [path, line]), [['schedule.timezone', 9]]);
    assert.match(about(problems, 'a/b/bad_zone.yml')[0]?.[2] ?? '', /"Europe\/Atlantis" is not an IANA time zone/);
    assert.deepEqual(about(problems, 'a/b/unknown_variable.yml').map(([path, line]) => [path, line]), [['schedule.parameters.start_date', 10]]);
    assert.match(about(problems, 'a/b/unknown_variable.yml')[0]?.[2] ?? '', /^unknown name "tomorrow" in "\{\{ tomorrow \}\}"/, 'the path names the parameter, the message does not again');
    assert.deepEqual(about(problems, 'a/b/undeclared.yml').map(([path, line]) => [path, line]), [['schedule.parameters.colour', 10]]);
    assert.match(about(problems, 'a/b/undeclared.yml')[0]?.[2] ?? '', /the run this schedule starts on 2028-01-01 would be refused: unknown parameter "colour"/);
    assert.deepEqual(about(problems, 'a/b/too_long.yml').map(([path]) => path), ['schedule.parameters.end_date']);
    assert.match(about(problems, 'a/b/too_long.yml')[0]?.[2] ?? '', /on 2028-01-01 would be refused: the range 2026-11-27\.\.2027-12-31 is longer than 366 days/);
    assert.match(about(problems, 'a/b/bad_type.yml')[0]?.[2] ?? '', /parameter "teams" must be an integer, got "2028-01-01"/);
    assert.deepEqual(about(problems, 'a/b/required.yml'), [['schedule', 10, 'the run this schedule starts on 2028-01-01 would be refused: parameter "region" is required']]);
    assert.deepEqual(routes, ['a/b/good']);
  });

  test('a window refused only on some days is found, naming the first such day', async () => {
    const cloudStart = '"{{ if_day_of_month_at_most(3, previous_month_start(today), today - 3 days) }}"';
    const { problems } = await load({ 'a/b/window.yml': file('window', `  cron: "0 7 * * *"\n  parameters:\n    start_date: ${cloudStart}\n    end_date: "{{ yesterday }}"\n`) }, 10);
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.match(problems[0]?.message ?? '', /on 2028-01-01 would be refused: the range 2027-12-01\.\.2027-12-31 is longer than 10 days/);
    const late = await load({ 'a/b/window.yml': file('window', `  cron: "0 7 * * *"\n  parameters:\n    date: "{{ if_day_of_month_at_most(28, today, month_start(today) + 40 days) }}"\n    start_date: "{{ today }}"\n`) });
    assert.match(late.problems[0]?.message ?? '', /on 2028-01-01 would be refused: give either date or start_date\/end_date, not both/);
  });

  test('the schedule object is checked field by field, without the other branch of the union', async () => {
    const { problems } = await load({
      'a/b/unknown_field.yml': file('unknown_field', '  cron: "0 7 * * *"\n  every: day\n'),
      'a/b/bad_policy.yml': file('bad_policy', '  cron: "0 7 * * *"\n  missed: sometimes\n  max_catchup: 500\n'),
      'a/b/no_cron.yml': file('no_cron', '  timezone: UTC\n'),
      'a/b/nested.yml': file('nested', '  cron: "0 7 * * *"\n  parameters:\n    teams: [1, 2]\n'),
      'a/b/number.yml': `pipeline_id: number\n${HEADER}schedule: 5\n${STEPS}`,
      'a/b/string_form.yml': `pipeline_id: string_form\n${HEADER}schedule: "0 7 * * * * *"\n${STEPS}`,
    });
    assert.deepEqual(about(problems, 'a/b/unknown_field.yml'), [['schedule.every', 9, 'unknown field']]);
    assert.deepEqual(about(problems, 'a/b/bad_policy.yml').map(([path, , message]) => [path, message]).sort(), [['schedule.max_catchup', 'must be <= 100'], ['schedule.missed', 'must be one of skip, once, all']]);
    assert.deepEqual(about(problems, 'a/b/no_cron.yml').map(([path, , message]) => [path, message]), [['schedule.cron', 'missing required field']]);
    assert.deepEqual(about(problems, 'a/b/nested.yml').map(([path]) => path), ['schedule.parameters.teams']);
    assert.match(about(problems, 'a/b/nested.yml')[0]?.[2] ?? '', /must be a string or a number or a boolean/);
    assert.deepEqual(about(problems, 'a/b/number.yml').map(([path, , message]) => [path, message]), [['schedule', 'must be a string (cron expression (UTC)) or an object']]);
    assert.deepEqual(about(problems, 'a/b/string_form.yml').map(([path]) => path), ['schedule']);
    assert.match(about(problems, 'a/b/string_form.yml')[0]?.[2] ?? '', /too many fields/);
  });
});
