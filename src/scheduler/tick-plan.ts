import { CronExpressionParser } from 'cron-parser';
import { nextOccurrence, occurrences } from './cron-ticks.ts';
import type { MissedTickPolicy } from './pipeline-schedule.ts';

export interface ScheduleTiming {
  cron_expression: string;
  timezone: string;
  missed_policy: MissedTickPolicy;
  max_catchup: number;
  /** The tick the scheduler expects next: due once `now` reaches it. */
  next_run_at: Date;
}

export interface PlannedTick {
  scheduledFor: Date;
  status: 'due' | 'skipped';
  reason?: string;
  /** Policy `once`: the earliest missed tick whose window the catch-up run also covers. */
  coversFrom?: Date;
}

/** Missed ticks listed one by one after a long downtime; the rest are named by one reason. */
const LISTED = 1000;

/**
 * What a due schedule's ticks are at `now`: normally one, on time. After a downtime every tick
 * missed since `next_run_at` is listed, and the policy says which run:
 *  - `skip` (default): only the latest; the others are recorded as skipped;
 *  - `once`: one run at the latest tick whose date window reaches back to the earliest missed;
 *  - `all`: the latest `max_catchup` ticks, oldest first; older ones recorded as capped.
 * Then the next tick after `now`. Nothing before `next_run_at` is ever planned, so an edit
 * (which sets next_run_at from the edit time) never brings back ticks from before it.
 */
export function planTicks(schedule: ScheduleTiming, now: Date): { ticks: PlannedTick[]; nextRunAt: Date } {
  const { cron_expression: cron, timezone } = schedule;
  const nextRunAt = nextOccurrence(cron, timezone, now);
  if (schedule.next_run_at.getTime() > now.getTime()) return { ticks: [], nextRunAt: schedule.next_run_at };
  const listed = occurrences(cron, timezone, new Date(schedule.next_run_at.getTime() - 1), now, LISTED);
  const due = listed.ticks.length > 0 ? listed.ticks : [schedule.next_run_at];
  const latest = listed.more ? latestOccurrence(cron, timezone, now) : (due.at(-1) as Date);
  const missed = listed.more ? due : due.slice(0, -1);
  const tail = listed.more ? ` (and more up to ${latest.toISOString()}, not listed)` : '';
  const at = latest.toISOString();

  if (schedule.missed_policy === 'all') {
    const all = listed.more ? [...due, latest] : due;
    const ran = all.slice(-schedule.max_catchup);
    const capped = all.slice(0, -schedule.max_catchup);
    return {
      ticks: [
        ...capped.map((scheduledFor) => ({ scheduledFor, status: 'skipped' as const, reason: `capped: ${all.length}${tail ? '+' : ''} ticks missed, policy all runs the latest ${schedule.max_catchup}${tail}` })),
        ...ran.map((scheduledFor) => ({ scheduledFor, status: 'due' as const })),
      ],
      nextRunAt,
    };
  }
  const reason =
    schedule.missed_policy === 'once'
      ? `missed while no scheduler ran; covered by the one catch-up run at ${at} (policy once)${tail}`
      : `missed while no scheduler ran; policy skip runs only the latest missed tick, ${at}${tail}`;
  return {
    ticks: [
      ...missed.map((scheduledFor) => ({ scheduledFor, status: 'skipped' as const, reason })),
      { scheduledFor: latest, status: 'due', ...(schedule.missed_policy === 'once' && missed.length > 0 ? { coversFrom: missed[0] } : {}) },
    ],
    nextRunAt,
  };
}

/** The last occurrence at or before `now`. */
function latestOccurrence(cron: string, timezone: string, now: Date): Date {
  return CronExpressionParser.parse(cron, { tz: timezone, currentDate: new Date(now.getTime() + 1) }).prev().toDate();
}
