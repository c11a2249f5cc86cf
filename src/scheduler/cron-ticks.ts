import { CronExpressionParser } from 'cron-parser';

/**
 * Occurrences of a cron expression read in an IANA timezone, as instants. cron-parser does the
 * calendar and timezone arithmetic; this module adds the one rule it leaves open: in a DST
 * overlap local times happen twice, and a schedule fires at each once (the first time): an
 * occurrence whose local time is not after the previous one's is passed over. In a DST gap
 * cron-parser fires a fixed-time schedule (02:30 daily) once at the first valid time after it,
 * and a wildcard-hour one (every hour at :30) at the hours that exist, as cronie does.
 */

const wallClocks = new Map<string, Intl.DateTimeFormat>();
function wallClock(timezone: string): Intl.DateTimeFormat {
  let format = wallClocks.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    wallClocks.set(timezone, format);
  }
  return format;
}

/** `YYYY-MM-DD HH:mm` of an instant in the timezone. */
export function localTime(instant: Date, timezone: string): string {
  const parts = Object.fromEntries(wallClock(timezone).formatToParts(instant).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** The calendar date of an instant in the timezone, `YYYY-MM-DD`. */
export const localDate = (instant: Date, timezone: string): string => localTime(instant, timezone).slice(0, 10);

/**
 * The occurrences after `after` (exclusive) up to `until` (inclusive), oldest first, at most
 * `limit`; `more` says whether the limit cut the list.
 */
export function occurrences(cron: string, timezone: string, after: Date, until: Date, limit: number): { ticks: Date[]; more: boolean } {
  const iterator = CronExpressionParser.parse(cron, { tz: timezone, currentDate: after });
  const ticks: Date[] = [];
  let previous = localTime(after, timezone);
  for (;;) {
    const next = iterator.next().toDate();
    if (next.getTime() > until.getTime()) return { ticks, more: false };
    const local = localTime(next, timezone);
    if (local <= previous) continue;
    previous = local;
    if (ticks.length === limit) return { ticks, more: true };
    ticks.push(next);
  }
}

/** The first occurrence after `after` (exclusive), DST repeats passed over. */
export function nextOccurrence(cron: string, timezone: string, after: Date): Date {
  const iterator = CronExpressionParser.parse(cron, { tz: timezone, currentDate: after });
  const previous = localTime(after, timezone);
  for (;;) {
    const next = iterator.next().toDate();
    if (localTime(next, timezone) > previous) return next;
  }
}
