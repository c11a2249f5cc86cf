import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { main } from '../../src/main/cli.ts';
import { commandHelp, nearestCommand } from '../../src/main/cli-usage.ts';

/** What the CLI says about itself, before it opens anything (issue 14, item 7). */
describe('CLI usage', () => {
  const run = async (...argv: string[]) => {
    const lines: string[] = [];
    try {
      return { code: await main(argv, (line) => lines.push(line)), out: lines.join('\n'), error: undefined };
    } catch (error) {
      return { code: 1, out: lines.join('\n'), error: (error as Error).message };
    }
  };

  test("pipeline <cmd> --help prints that command's help, not the whole usage", async () => {
    const help = await run('run', '--help');
    assert.equal(help.code, 0);
    assert.match(help.out, /^Usage: pipeline\n {2}run <org>\/<provider>\/<domain>\/<pipeline>/);
    assert.match(help.out, /exits non-zero unless completed/);
    assert.doesNotMatch(help.out, /validate-focus|credential/);
    const schedules = await run('schedules', '-h');
    assert.match(schedules.out, /schedules set <org>/);
    assert.match(schedules.out, /--missed skip\|once\|all/, 'continuation lines are part of the help');
    assert.doesNotMatch(schedules.out, /backfill/);
  });

  test('an unknown command is named, with the nearest one', async () => {
    assert.equal((await run('rn')).error, "unknown command 'rn'; did you mean 'run'? (pipeline --help lists the commands)");
    assert.equal((await run('shedules', 'list', 'acme')).error, "unknown command 'shedules'; did you mean 'schedules'? (pipeline --help lists the commands)");
    assert.equal((await run('frobnicate')).error, "unknown command 'frobnicate' (pipeline --help lists the commands)");
  });

  test("node's parseArgs text never reaches the user", async () => {
    const unknown = await run('run', 'acme/demo/usage/daily_cost', '--foo');
    assert.equal(unknown.error, 'unknown option --foo; pipeline run --help lists the options');
    const missing = await run('run', 'acme/demo/usage/daily_cost', '--date');
    assert.equal(missing.error, 'option --date needs a value (as in --date VALUE); see pipeline run --help');
    for (const message of [unknown.error, missing.error]) assert.doesNotMatch(message ?? '', /positional argument|ERR_PARSE_ARGS|place it at the end/);
  });

  test('help and suggestions from the usage text', () => {
    assert.equal(commandHelp('  a x\n        more\n  b y', 'a'), 'Usage: pipeline\n  a x\n        more');
    assert.equal(commandHelp('  a x', 'z'), undefined);
    assert.equal(nearestCommand('logz', ['logs', 'runs']), 'logs');
    assert.equal(nearestCommand('xyzzy', ['logs', 'runs']), undefined);
  });
});
