import { CronExpressionParser } from 'cron-parser';
import type { PipelineConfig } from '../pipelines/config-schema.ts';
import { errorMessage, InputError } from '../shared/errors.ts';
import type { ScheduleTemplate } from './schedule-template.ts';

/**
 * What the tick loop does with ticks that fell due while no scheduler ran (tick-plan.ts):
 * `skip` (the default) runs only the latest; `once` runs the latest with its date range
 * reaching back to the earliest missed tick's; `all` runs the latest `maxCatchup` of them.
 * Every tick not run is recorded with why.
 */
export type MissedTickPolicy = 'skip' | 'once' | 'all';

/** A pipeline's default schedule, from its YAML `schedule` (a cron string or an object), with the defaults filled in. */
export interface PipelineSchedule {
  cron: string;
  /** IANA zone the cron fields and the template's `today` are read in. */
  timezone: string;
  /** Run-parameter template (schedule-template.ts), evaluated per tick. */
  parameters: ScheduleTemplate;
  missed: MissedTickPolicy;
  maxCatchup: number;
}

const SCHEDULE_DEFAULTS = { timezone: 'UTC', missed: 'skip', maxCatchup: 10 } as const satisfies Partial<PipelineSchedule>;

/** The pipeline's default schedule, or undefined when its YAML declares none. */
export function pipelineSchedule(pipeline: PipelineConfig): PipelineSchedule | undefined {
  const { schedule } = pipeline;
  if (schedule === undefined) return undefined;
  if (typeof schedule === 'string') return { cron: schedule, timezone: SCHEDULE_DEFAULTS.timezone, parameters: {}, missed: SCHEDULE_DEFAULTS.missed, maxCatchup: SCHEDULE_DEFAULTS.maxCatchup };
  return {
    cron: schedule.cron,
    timezone: schedule.timezone ?? SCHEDULE_DEFAULTS.timezone,
    parameters: { ...schedule.parameters },
    missed: schedule.missed ?? SCHEDULE_DEFAULTS.missed,
    maxCatchup: schedule.max_catchup ?? SCHEDULE_DEFAULTS.maxCatchup,
  };
}

/**
 * Checks a cron expression and the IANA timezone it is read in, for YAML and for API input.
 * Schedules tick on whole minutes: a seconds field (cron-parser's 6-field form, `@secondly`)
 * is refused unless it is `0`. The hashed form `H` is refused too: cron-parser picks its value
 * at random unless given a seed, so two processes would compute different ticks.
 */
export function checkCron(expression: string, timezone: string): void {
  checkTimezone(timezone);
  const cronField = { field: 'cron_expression' };
  if (typeof expression !== 'string') throw new InputError('the cron expression must be a string such as "0 7 * * *"', cronField);
  if (expression.trim() === '') throw new InputError('the cron expression is empty; give one such as "0 7 * * *" (minute hour day-of-month month day-of-week)', cronField);
  // The longest sensible expression lists every minute of an hour: 60 numbers and commas.
  if (expression.length > 200) throw new InputError('the cron expression is longer than 200 characters', cronField);
  if (/h/i.test(expression.replace(/@\w+|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)\b/gi, ''))) {
    throw new InputError(`${JSON.stringify(expression)}: the hashed form H is not supported (its value would differ between processes); give the minute and hour`, cronField);
  }
  let seconds: readonly number[];
  try {
    seconds = CronExpressionParser.parse(expression, { tz: timezone }).fields.second.values;
  } catch (error) {
    throw new InputError(`${JSON.stringify(expression)} is not a valid cron expression: ${errorMessage(error)}`, { ...cronField, cause: error });
  }
  if (seconds.length > 1) throw new InputError(`${JSON.stringify(expression)} fires more often than once a minute; schedules tick at most once a minute: use 5 fields (minute hour day-of-month month day-of-week)`, cronField);
  if (seconds[0] !== 0) throw new InputError(`${JSON.stringify(expression)} has a seconds field; schedules tick on whole minutes: use 5 fields (minute hour day-of-month month day-of-week)`, cronField);
}

function checkTimezone(timezone: string): void {
  const field = { field: 'timezone' };
  // Intl also takes offsets (+01:00), which are not zones: their local time never follows DST.
  if (typeof timezone !== 'string' || timezone.length > 64 || !/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(timezone)) {
    throw new InputError(`timezone must be an IANA time zone such as UTC or Europe/Paris, got ${JSON.stringify(timezone)}`, field);
  }
  try {
    new Intl.DateTimeFormat('en', { timeZone: timezone });
  } catch (error) {
    throw new InputError(`timezone ${JSON.stringify(timezone)} is not an IANA time zone (such as UTC or Europe/Paris)`, { ...field, cause: error });
  }
}
