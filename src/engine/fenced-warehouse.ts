import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/logger.ts';
import type { RunMetrics } from '../shared/metrics.ts';
import { LeaseLostError, type Claim, type ExecutionStore, type PartitionKey } from '../store/executions.ts';
import type { PartitionWrite, Warehouse } from '../warehouse/warehouse.ts';

/** How often a write waiting for another run's partition looks again. */
const LOCK_POLL_MS = 200;

/**
 * The warehouse as a run's processors see it: every partition replace holds its partition in
 * the control plane for the length of the write, so two runs whose partitions overlap (same
 * org, table, pipeline, credential, any common day) never write at once, and the commit is
 * fenced by the run's claim: a worker that lost its lease rolls its write back.
 */
export function fencedWarehouse(deps: { warehouse: Warehouse; executions: ExecutionStore; claim: Claim; clock: Clock; logger: Logger; metrics?: Pick<RunMetrics, 'rowsWritten'> }): Warehouse {
  const { warehouse, executions, claim } = deps;

  async function holding<T extends { rows: number }>(write: Omit<PartitionWrite, 'select'>, signal: AbortSignal | undefined, fn: (verify: PartitionWrite['verify']) => Promise<T>): Promise<T> {
    const key: PartitionKey = {
      target: `${write.dataset}.${write.table}`,
      pipelineId: write.lineage.pipelineId,
      credentialId: write.lineage.credentialId,
      firstDay: write.runDates.start,
      lastDay: write.runDates.end,
    };
    let waitingFor: string | undefined;
    for (;;) {
      signal?.throwIfAborted();
      const lock = await executions.lockPartition(claim, key);
      if (lock.acquired) break;
      if (lock.heldBy !== waitingFor) deps.logger.info({ table: key.target, held_by: lock.heldBy }, 'waiting for a run writing the same partition');
      waitingFor = lock.heldBy;
      await deps.clock.sleep(LOCK_POLL_MS, signal);
    }
    try {
      const written = await fn(async (check) => {
        await write.verify?.(check);
        // The last thing before the warehouse commits: still ours, with time left on the lease.
        if (!(await executions.holdsPartition(claim, key))) throw new LeaseLostError(`run ${claim.run_id} lost its claim before writing ${key.target}`);
      });
      deps.metrics?.rowsWritten({ org: claim.org_slug, table: write.table }, written.rows);
      return written;
    } finally {
      await executions.unlockPartition(claim, key).catch((error: unknown) => deps.logger.warn({ err: error, table: key.target }, 'partition lock not released; it ends with the run'));
    }
  }

  return {
    ...warehouse,
    replacePartition: (write, signal) => holding(write, signal, (verify) => warehouse.replacePartition({ ...write, verify }, signal)),
    replacePartitionFromBatches: (write, signal) => holding(write, signal, (verify) => warehouse.replacePartitionFromBatches({ ...write, verify }, signal)),
  };
}
