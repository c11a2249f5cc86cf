import { healSlots } from './admission.ts';
import type { Db } from './db.ts';

/** Rows deleted per statement, so a sweep never holds a long transaction over a large history. */
const BATCH = 5000;

/**
 * The control plane's periodic repairs: slot counters that drifted from the runs really
 * holding a slot, and the retention of run logs, quality results and audit entries. Safe to run from any
 * number of processes at once (each org's heal holds its subscription row).
 */
export function maintenanceStore(db: Db) {
  return {
    /** Heals every org whose counter disagrees with its slot-holding runs; returns those orgs. */
    async healSlots(): Promise<string[]> {
      const drifted = await db.query<{ org_slug: string }>(
        `SELECT s.org_slug FROM subscriptions s
          WHERE s.running_count <> (SELECT count(*) FROM pipeline_runs r WHERE r.org_slug = s.org_slug AND r.holds_slot)
             OR EXISTS (SELECT 1 FROM pipeline_runs r WHERE r.org_slug = s.org_slug AND r.holds_slot AND r.status IN ('completed', 'failed', 'cancelled'))`,
      );
      const healed: string[] = [];
      for (const { org_slug } of drifted) {
        const changed = await db.transaction(async (tx) => {
          await tx.query('SELECT 1 FROM subscriptions WHERE org_slug = $1 FOR UPDATE', [org_slug]);
          return healSlots(tx, org_slug);
        });
        if (changed) healed.push(org_slug);
      }
      return healed;
    },

    /** Deletes run log lines, quality results and audit entries older than their retention (auditDays 0: kept forever); returns the counts. */
    async prune(retention: { logDays: number; qualityDays: number; auditDays?: number }): Promise<{ logs: number; quality: number; audit: number }> {
      const deleteOlder = async (table: string, column: string, days: number) => {
        let total = 0;
        for (;;) {
          const [row] = await db.query<{ n: number }>(
            `WITH gone AS (DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE ${column} < now() - $1::int * interval '1 day' LIMIT ${BATCH}) RETURNING 1)
             SELECT count(*)::int AS n FROM gone`,
            [days],
          );
          total += row?.n ?? 0;
          if ((row?.n ?? 0) < BATCH) return total;
        }
      };
      return {
        logs: await deleteOlder('run_logs', 'at', retention.logDays),
        quality: await deleteOlder('run_quality_results', 'recorded_at', retention.qualityDays),
        audit: retention.auditDays ? await deleteOlder('audit_log', 'created_at', retention.auditDays) : 0,
      };
    },
  };
}

export type MaintenanceStore = ReturnType<typeof maintenanceStore>;
