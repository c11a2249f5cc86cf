import type { RoutableKind } from './message-kinds.ts';

/** A pipeline's failure streak, as notification_pipeline_state keeps it. */
export interface PipelineStreak {
  consecutive_failures: number;
  failing_since: Date | null;
  /** When the streak's failure notice was planned. */
  notified_at: Date | null;
  reminded_at: Date | null;
}

export interface ReminderPolicy {
  /** The reminder goes after this many failures beyond the first... */
  afterFailures: number;
  /** ...or at the first failure this many hours after the notice, whichever comes first. */
  afterHours: number;
}

export const HEALTHY: PipelineStreak = { consecutive_failures: 0, failing_since: null, notified_at: null, reminded_at: null };

/**
 * What one run's end says, for channels to choose from: the first kind of `kinds` a channel is
 * routed is the one message it gets (a recovery replaces the success for a channel that takes
 * both). No kinds: nothing to say (a repeated failure between the notice and the reminder, a
 * cancelled run).
 */
export interface RunVerdict {
  kinds: RoutableKind[];
  details: Record<string, unknown>;
  next: PipelineStreak;
}

/**
 * The pure rule of item 5: a pipeline's consecutive failures give one failure notice, then one
 * reminder (after `afterFailures` more failures or `afterHours` hours), not a message per
 * failure; its next success after a streak is a recovery. A cancelled run neither breaks nor
 * extends a streak: someone stopped it, nothing failed.
 */
export function judgeRunEnd(streak: PipelineStreak, status: string, at: Date, policy: ReminderPolicy): RunVerdict {
  if (status === 'completed') {
    if (streak.consecutive_failures === 0) return { kinds: ['pipeline_success'], details: {}, next: HEALTHY };
    return {
      kinds: ['pipeline_recovered', 'pipeline_success'],
      details: { failures: streak.consecutive_failures, failing_since: streak.failing_since?.toISOString() ?? null },
      next: HEALTHY,
    };
  }
  if (status !== 'failed') return { kinds: [], details: {}, next: streak };

  const failures = streak.consecutive_failures + 1;
  if (streak.consecutive_failures === 0 || streak.notified_at === null) {
    const failingSince = streak.failing_since ?? at;
    return {
      kinds: ['pipeline_failure'],
      details: { consecutive_failures: failures, failing_since: failingSince.toISOString(), reminder: false },
      next: { consecutive_failures: failures, failing_since: failingSince, notified_at: at, reminded_at: null },
    };
  }
  const extended = { ...streak, consecutive_failures: failures };
  const dueByCount = failures - 1 >= policy.afterFailures;
  const dueByTime = at.getTime() - streak.notified_at.getTime() >= policy.afterHours * 3_600_000;
  if (streak.reminded_at === null && (dueByCount || dueByTime)) {
    return {
      kinds: ['pipeline_failure'],
      details: { consecutive_failures: failures, failing_since: streak.failing_since?.toISOString() ?? null, reminder: true },
      next: { ...extended, reminded_at: at },
    };
  }
  return { kinds: [], details: {}, next: extended };
}
