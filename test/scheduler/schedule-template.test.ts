import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkScheduleTemplate, evaluateScheduleTemplate, type ScheduleTemplate } from '../../src/scheduler/schedule-template.ts';
import { addDays, daysBetween } from '../../src/shared/clock.ts';
import { InputError } from '../../src/shared/errors.ts';

/** The one expression a template of `{ d: "{{ expression }}" }` gives on `localDate`. */
function at(expression: string, localDate: string): unknown {
  return evaluateScheduleTemplate({ d: `{{ ${expression} }}` }, { localDate }).d;
}

/** Asserts the template is refused, by the check and by an evaluation alike, naming the field and matching `message`. */
function refused(template: Record<string, unknown>, field: string, message: RegExp): void {
  for (const run of [() => checkScheduleTemplate(template as ScheduleTemplate), () => evaluateScheduleTemplate(template as ScheduleTemplate, { localDate: '2026-03-04' })]) {
    assert.throws(run, (error: unknown) => {
      assert.ok(error instanceof InputError, `not an InputError: ${String(error)}`);
      assert.equal(error.field, field);
      assert.match(error.message, message);
      assert.ok(error.message.startsWith(field), `the message names ${field}: ${error.message}`);
      return true;
    });
  }
}

const CLOUD_START = 'if_day_of_month_at_most(3, previous_month_start(today), today - 3 days)';

describe('schedule templates: dates', () => {
  test('today and yesterday are the tick date and the day before, across month, year and leap-day boundaries', () => {
    assert.equal(at('today', '2026-03-04'), '2026-03-04');
    assert.equal(at('yesterday', '2026-03-01'), '2026-02-28');
    assert.equal(at('yesterday', '2028-03-01'), '2028-02-29');
    assert.equal(at('yesterday', '2026-01-01'), '2025-12-31');
    assert.equal(at('yesterday', '2026-05-01'), '2026-04-30');
  });

  test('offsets add or subtract whole days, chained, with day or days', () => {
    assert.equal(at('today - 3 days', '2026-01-02'), '2025-12-30');
    assert.equal(at('today + 1 day', '2028-02-28'), '2028-02-29');
    assert.equal(at('today + 1 day', '2026-02-28'), '2026-03-01');
    assert.equal(at('today + 1 days', '2026-12-31'), '2027-01-01');
    assert.equal(at('yesterday - 2 days', '2026-03-02'), '2026-02-27');
    assert.equal(at('today - 10 days + 3 days', '2026-03-04'), '2026-02-25');
    assert.equal(at('today - 0 days', '2026-03-04'), '2026-03-04');
    assert.equal(at('today - 3660 days', '2026-03-04'), addDays('2026-03-04', -3660));
    assert.equal(at('today-3 days', '2026-03-04'), '2026-03-01', 'whitespace between tokens is free');
  });

  test('month_start and previous_month_start of any date expression', () => {
    assert.equal(at('month_start(today)', '2028-02-29'), '2028-02-01');
    assert.equal(at('month_start(today - 3 days)', '2026-03-02'), '2026-02-01');
    assert.equal(at('month_start(today - 3 days)', '2026-03-04'), '2026-03-01');
    assert.equal(at('previous_month_start(today)', '2026-01-15'), '2025-12-01');
    assert.equal(at('previous_month_start(today)', '2028-03-31'), '2028-02-01');
    assert.equal(at('previous_month_start(today)', '2026-03-01'), '2026-02-01');
    assert.equal(at('month_start(today) - 1 day', '2028-03-10'), '2028-02-29', 'the last day of the previous month');
    assert.equal(at('previous_month_start(month_start(yesterday))', '2026-01-01'), '2025-11-01');
  });

  test('earliest and latest take two or more dates', () => {
    assert.equal(at('earliest(today - 3 days, month_start(today))', '2026-03-02'), '2026-02-27');
    assert.equal(at('earliest(today - 3 days, month_start(today))', '2026-03-20'), '2026-03-01');
    assert.equal(at('latest(today - 3 days, month_start(today))', '2026-03-02'), '2026-03-01');
    assert.equal(at('earliest(today, yesterday, today - 40 days)', '2026-03-02'), '2026-01-21');
    assert.equal(at('latest(today - 40 days, yesterday, today - 2 days)', '2026-03-02'), '2026-03-01');
  });

  test('if_day_of_month_at_most picks by the day of month of today', () => {
    assert.equal(at('if_day_of_month_at_most(3, month_start(today), today)', '2026-03-03'), '2026-03-01');
    assert.equal(at('if_day_of_month_at_most(3, month_start(today), today)', '2026-03-04'), '2026-03-04');
    assert.equal(at('if_day_of_month_at_most(31, yesterday, today)', '2026-03-31'), '2026-03-30');
    assert.equal(at('if_day_of_month_at_most(1, yesterday, today)', '2026-03-02'), '2026-03-02');
  });

  test('the cloud re-pull window: the previous month from its 1st on the 1st-3rd, else the last 3 days', () => {
    const window = (localDate: string) => {
      const body = evaluateScheduleTemplate({ start_date: `{{ ${CLOUD_START} }}`, end_date: '{{ yesterday }}' }, { localDate });
      return [body.start_date, body.end_date];
    };
    assert.deepEqual(window('2026-03-01'), ['2026-02-01', '2026-02-28']);
    assert.deepEqual(window('2026-03-03'), ['2026-02-01', '2026-03-02']);
    assert.deepEqual(window('2026-03-04'), ['2026-03-01', '2026-03-03']);
    assert.deepEqual(window('2026-01-02'), ['2025-12-01', '2026-01-01']);
    assert.deepEqual(window('2028-03-02'), ['2028-02-01', '2028-03-01']);
    // Every day of three years, one leap: the rule, and a window of 3 to 33 days.
    for (const day of daysBetween('2027-01-01', '2029-12-31')) {
      const [start, end] = window(day) as [string, string];
      const expected = Number(day.slice(8)) <= 3 ? `${addDays(`${day.slice(0, 7)}-01`, -1).slice(0, 7)}-01` : addDays(day, -3);
      assert.equal(start, expected, day);
      assert.equal(end, addDays(day, -1), day);
      const length = daysBetween(start, end).length;
      assert.ok(length >= 3 && length <= 33, `${day}: ${length} days`);
    }
  });
});

describe('schedule templates: values', () => {
  test('placeholders may be the whole value or inside text; other values pass unchanged', () => {
    const body = evaluateScheduleTemplate(
      { prefix: 'exports/{{ yesterday }}/', span: '{{today - 2 days}}..{{ today }}', plain: 'no placeholder', braces: 'a {single} brace', teams: 3, ratio: 0.5, full: false },
      { localDate: '2026-03-01' },
    );
    assert.deepEqual(body, { prefix: 'exports/2026-02-28/', span: '2026-02-27..2026-03-01', plain: 'no placeholder', braces: 'a {single} brace', teams: 3, ratio: 0.5, full: false });
  });

  test('an empty template is an empty body, and the template is not changed by an evaluation', () => {
    assert.deepEqual(evaluateScheduleTemplate({}, { localDate: '2026-03-01' }), {});
    const template = { start_date: '{{ yesterday }}' };
    evaluateScheduleTemplate(template, { localDate: '2026-03-01' });
    assert.deepEqual(template, { start_date: '{{ yesterday }}' });
  });

  test('a tick date that is not a calendar day is refused', () => {
    assert.throws(() => evaluateScheduleTemplate({}, { localDate: '2026-02-30' }), InputError);
    assert.throws(() => evaluateScheduleTemplate({}, { localDate: '2026-3-1' }), InputError);
  });

  test('a date leaving years 0000-9999 is refused when evaluated, naming the field', () => {
    checkScheduleTemplate({ end: '{{ today + 3660 days + 3660 days }}' });
    for (const [expression, localDate] of [['today + 1 day', '9999-12-31'], ['today - 1 day', '0000-01-01'], ['today + 3660 days + 1 day', '9999-12-31'], ['month_start(today + 3660 days) - 1 day', '9999-12-31']]) {
      assert.throws(() => evaluateScheduleTemplate({ end: `{{ ${expression} }}` }, { localDate: localDate as string }), (error: unknown) => error instanceof InputError && error.field === 'parameters.end' && /outside 0000-9999/.test(error.message), expression);
    }
  });
});

describe('schedule templates: errors name the parameter and the text', () => {
  test('an unknown name', () => {
    refused({ start_date: '{{ tomorrow }}' }, 'parameters.start_date', /unknown name "tomorrow" in "\{\{ tomorrow \}\}"; expected today, yesterday, month_start/);
    refused({ start_date: 'x/{{ Today }}' }, 'parameters.start_date', /unknown name "Today" in "x\/\{\{ Today \}\}"/);
    refused({ d: '{{ month_end(today) }}' }, 'parameters.d', /unknown name "month_end"/);
  });

  test('malformed expressions', () => {
    refused({ d: '{{ today - 3 }}' }, 'parameters.d', /expected "days" after - 3, got the end of the expression in "\{\{ today - 3 \}\}"/);
    refused({ d: '{{ today - 3 weeks }}' }, 'parameters.d', /expected "days" after - 3, got "weeks"/);
    refused({ d: '{{ today - days }}' }, 'parameters.d', /expected a number of days \(0\.\.3660\), got "days"/);
    refused({ d: '{{ today - 3661 days }}' }, 'parameters.d', /a number of days must be 0\.\.3660, got 3661/);
    refused({ d: '{{ today - 99999999999999999999999 days }}' }, 'parameters.d', /must be 0\.\.3660/);
    refused({ d: '{{ month_start(today }}' }, 'parameters.d', /expected "\)" to close month_start\(/);
    refused({ d: '{{ month_start today }}' }, 'parameters.d', /expected "\(" after month_start, got "today"/);
    refused({ d: '{{ earliest(today) }}' }, 'parameters.d', /expected "," between the dates of earliest/);
    refused({ d: '{{ if_day_of_month_at_most(0, today, today) }}' }, 'parameters.d', /a day of the month must be 1\.\.31, got 0/);
    refused({ d: '{{ if_day_of_month_at_most(3, today) }}' }, 'parameters.d', /expected "," between the two dates/);
    refused({ d: '{{ today today }}' }, 'parameters.d', /unexpected "today" after a complete date/);
    refused({ d: '{{ }}' }, 'parameters.d', /an empty placeholder/);
    refused({ d: '{{ today * 2 }}' }, 'parameters.d', /unexpected "\*"/);
    refused({ d: '{{ {{ today }} }}' }, 'parameters.d', /unexpected "\{"/);
    refused({ d: 'exports/{{ today' }, 'parameters.d', /"\{\{" without a closing "\}\}" in "exports\/\{\{ today"/);
    refused({ d: '{{ today }}/{{ yesterday' }, 'parameters.d', /without a closing/);
  });

  test('values and names that cannot be a run body', () => {
    refused({ d: null }, 'parameters.d', /must be a string, a finite number or a boolean, got null/);
    refused({ d: { nested: 1 } }, 'parameters.d', /got object/);
    refused({ d: [1] }, 'parameters.d', /got an array/);
    refused({ d: Number.NaN }, 'parameters.d', /finite number/);
    refused({ d: 'x'.repeat(1001) }, 'parameters.d', /longer than 1000 characters/);
    refused({ 'Start-Date': '{{ today }}' }, 'parameters.Start-Date', /lowercase letters, digits and underscores/);
    assert.throws(() => checkScheduleTemplate(['{{ today }}'] as unknown as ScheduleTemplate), (error: unknown) => error instanceof InputError && error.field === 'parameters');
  });
});
