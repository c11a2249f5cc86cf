import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { localTime, nextOccurrence, occurrences } from '../../src/scheduler/cron-ticks.ts';
import { planTicks } from '../../src/scheduler/tick-plan.ts';

const ticks = (cron: string, zone: string, after: string, until: string) => occurrences(cron, zone, new Date(after), new Date(until), 1000).ticks.map((d) => d.toISOString().slice(0, 16));
const locals = (cron: string, zone: string, after: string, until: string) => occurrences(cron, zone, new Date(after), new Date(until), 1000).ticks.map((d) => localTime(d, zone));

describe('DST: each local tick fires exactly once, in three zones', () => {
  test('America/New_York, spring forward (2026-03-08 02:00 EST -> 03:00 EDT)', () => {
    // Daily at 02:30, a time that does not exist that day: once, at the first valid time after it.
    assert.deepEqual(ticks('30 2 * * *', 'America/New_York', '2026-03-07T00:00Z', '2026-03-10T00:00Z'), ['2026-03-07T07:30', '2026-03-08T07:30', '2026-03-09T06:30']);
    // Every hour at :30: the hours that exist, each once.
    assert.deepEqual(locals('30 * * * *', 'America/New_York', '2026-03-08T05:00Z', '2026-03-08T09:00Z'), ['2026-03-08 00:30', '2026-03-08 01:30', '2026-03-08 03:30', '2026-03-08 04:30']);
  });

  test('America/New_York, fall back (2026-11-01 02:00 EDT -> 01:00 EST): the repeated hour fires once', () => {
    assert.deepEqual(ticks('30 1 * * *', 'America/New_York', '2026-10-31T12:00Z', '2026-11-02T12:00Z'), ['2026-11-01T05:30', '2026-11-02T06:30']);
    const quarter = locals('*/15 * * * *', 'America/New_York', '2026-11-01T04:50Z', '2026-11-01T07:20Z');
    assert.deepEqual(quarter, ['2026-11-01 01:00', '2026-11-01 01:15', '2026-11-01 01:30', '2026-11-01 01:45', '2026-11-01 02:00', '2026-11-01 02:15']);
    assert.equal(new Set(quarter).size, quarter.length);
  });

  test('Europe/Berlin, both changes, daily at 02:30', () => {
    assert.deepEqual(ticks('30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00Z', '2026-03-31T00:00Z'), ['2026-03-28T01:30', '2026-03-29T01:30', '2026-03-30T00:30']);
    assert.deepEqual(ticks('30 2 * * *', 'Europe/Berlin', '2026-10-24T00:00Z', '2026-10-27T00:00Z'), ['2026-10-24T00:30', '2026-10-25T00:30', '2026-10-26T01:30']);
  });

  test('Australia/Lord_Howe, a half-hour change (2026-04-05 02:00 -> 01:30): every quarter hour once', () => {
    const quarter = locals('*/15 * * * *', 'Australia/Lord_Howe', '2026-04-04T14:00Z', '2026-04-04T16:00Z');
    assert.deepEqual(quarter, ['2026-04-05 01:15', '2026-04-05 01:30', '2026-04-05 01:45', '2026-04-05 02:00', '2026-04-05 02:15', '2026-04-05 02:30']);
  });

  test('the next tick after an overlap tick skips its repeat', () => {
    const first = new Date('2026-11-01T05:00:00Z'); // 01:00 EDT
    assert.equal(nextOccurrence('0 * * * *', 'America/New_York', first).toISOString(), '2026-11-01T07:00:00.000Z'); // 02:00 EST, not 01:00 EST
  });
});

describe('tick plans', () => {
  const timing = { cron_expression: '0 * * * *', timezone: 'UTC', missed_policy: 'skip' as const, max_catchup: 10 };
  test('on time: one due tick, the next one after now', () => {
    const plan = planTicks({ ...timing, next_run_at: new Date('2026-05-01T10:00:00Z') }, new Date('2026-05-01T10:00:03Z'));
    assert.deepEqual(plan.ticks.map((t) => [t.scheduledFor.toISOString(), t.status]), [['2026-05-01T10:00:00.000Z', 'due']]);
    assert.equal(plan.nextRunAt.toISOString(), '2026-05-01T11:00:00.000Z');
  });
  test('not yet due: nothing', () => {
    assert.deepEqual(planTicks({ ...timing, next_run_at: new Date('2026-05-01T11:00:00Z') }, new Date('2026-05-01T10:59:59Z')).ticks, []);
  });
  test('a very long downtime lists the first 1000 missed ticks and still runs only the latest', () => {
    const plan = planTicks({ ...timing, cron_expression: '* * * * *', next_run_at: new Date('2026-05-01T00:00:00Z') }, new Date('2026-05-03T00:00:30Z'));
    const due = plan.ticks.filter((t) => t.status === 'due');
    assert.deepEqual(due.map((t) => t.scheduledFor.toISOString()), ['2026-05-03T00:00:00.000Z']);
    assert.equal(plan.ticks.length, 1001);
    assert.match(plan.ticks[0]?.reason ?? '', /and more up to 2026-05-03T00:00:00.000Z, not listed/);
  });
});
