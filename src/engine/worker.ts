import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../shared/logger.ts';
import { LeaseLostError, type ClaimedRun, type NextRun } from '../store/executions.ts';
import { executeRun, MAX_CLAIMS, type EngineDeps } from './execute-run.ts';

export interface WorkerOptions {
  concurrency: number;
  leaseMs: number;
  /** How often a running run's lease is extended and its cancel flag read. */
  heartbeatMs?: number;
  /** How often an idle worker looks for queued runs it was not woken for (other processes' runs, expired leases). */
  pollMs?: number;
  workerId?: string;
}

export interface Worker {
  readonly id: string;
  start(): void;
  /** Look for work now: called after an admission in the same process. */
  wake(): void;
  /** Stops claiming and waits for the runs in flight (their leases expire if they outlive `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  activeRuns(): number;
}

/**
 * Claims queued runs and executes them, up to `concurrency` at once. A run whose worker died
 * is claimed again once its lease expires (the claim query treats it as free).
 */
export function createWorker(deps: EngineDeps, options: WorkerOptions): Worker {
  const id = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const heartbeatMs = options.heartbeatMs ?? Math.max(200, Math.floor(options.leaseMs / 10));
  const pollMs = options.pollMs ?? 1000;
  const log: Logger = deps.logger.child({ worker_id: id });
  const active = new Set<Promise<void>>();
  const claiming = new Set<Promise<void>>();
  let stopped = true;
  // Slots asked for by the claims in flight. Each slot that frees claims at once, beside the
  // claims already in flight (SKIP LOCKED keeps them apart), as graphile-worker's do.
  let claimingSlots = 0;
  // Whether the queue may hold runs this worker has not seen: set by every wake, cleared by a
  // claim that found fewer runs than it asked for and began after the last wake. A run that
  // ends claims again only while it is set, so an idle queue costs no statement per run.
  let mayHaveMore = true;
  let wakes = 0;
  let pollTimer: NodeJS.Timeout | undefined;
  let fillSoon: NodeJS.Immediate | undefined;
  // After the current turn: the runs whose ends one statement wrote free their slots together,
  // and one claim takes their successors.
  const fillAfterTurn = () => void (fillSoon ??= setImmediate(() => ((fillSoon = undefined), fill())));
  let unlisten: Promise<(() => Promise<void>) | undefined> | undefined;

  function fill(): void {
    while (!stopped && mayHaveMore && active.size + claimingSlots < options.concurrency) {
      const wanted = options.concurrency - active.size - claimingSlots;
      claimingSlots += wanted;
      const claimed = claimSome(wanted).finally(() => {
        claiming.delete(claimed);
        claimingSlots -= wanted;
        fill();
      });
      claiming.add(claimed);
    }
  }

  // A claimed run counts in `active` at once and executes from the next turn: the end statement
  // that claimed it first hands its org's waiting ends to the next statement, which the pool
  // sends only once this turn's promise work (the run's first steps, if it began now) is done.
  function start(claim: ClaimedRun): void {
    const task = new Promise(setImmediate).then(() => execute(claim)).finally(() => {
      active.delete(task);
      fillAfterTurn();
    });
    active.add(task);
  }

  async function claimSome(wanted: number): Promise<void> {
    const wakesBefore = wakes;
    try {
      const claims = await deps.executions.claim(id, options.leaseMs, { at: deps.clock.now(), maxClaims: MAX_CLAIMS, limit: wanted });
      if (claims.length < wanted && wakes === wakesBefore) mayHaveMore = false;
      claims.forEach(start);
    } catch (error) {
      // Until the next wake or poll: a control plane that is down is not asked in a loop.
      mayHaveMore = false;
      log.error({ err: error }, 'claiming runs failed');
    }
  }

  const wake = () => {
    wakes++;
    mayHaveMore = true;
    fill();
  };

  // A run's end claims its successor in the same statement while the queue may hold more; the
  // successor starts as the slot frees. Claimed after a stop, it still runs: it is this worker's.
  const nextRun = (): NextRun | undefined => {
    if (stopped || !mayHaveMore) return undefined;
    const wakesBefore = wakes;
    return {
      workerId: id,
      leaseMs: options.leaseMs,
      maxClaims: MAX_CLAIMS,
      at: deps.clock.now(),
      claimed(claims) {
        if (!claims) return;
        if (claims.length === 0 && wakes === wakesBefore) mayHaveMore = false;
        claims.forEach(start);
      },
    };
  };
  const engine: EngineDeps = { ...deps, nextRun };

  async function execute(claim: ClaimedRun): Promise<void> {
    const controller = new AbortController();
    // The lease is extended from the database's clock; this worker only knows when it last
    // succeeded. Past a lease without a successful heartbeat, another worker may hold the run,
    // so this one stops its steps (their writes are fenced anyway).
    let lastHeld = performance.now();
    const heartbeat = setInterval(async () => {
      try {
        const beat = await deps.executions.heartbeat(claim, options.leaseMs);
        if (!beat.held) controller.abort(new LeaseLostError('the run was taken over by another worker'));
        else if (beat.cancelRequested) controller.abort(new Error('cancel requested'));
        if (beat.held) lastHeld = performance.now();
      } catch (error) {
        log.warn({ err: error, run_id: claim.run_id }, 'heartbeat failed');
        if (performance.now() - lastHeld > options.leaseMs) controller.abort(new LeaseLostError('no heartbeat succeeded within the lease'));
      }
    }, heartbeatMs);
    try {
      await executeRun(engine, claim, controller.signal);
    } catch (error) {
      log.error({ err: error, run_id: claim.run_id }, 'run crashed the executor');
    } finally {
      clearInterval(heartbeat);
    }
  }

  return {
    id,
    start() {
      if (!stopped) return;
      stopped = false;
      pollTimer = setInterval(wake, pollMs);
      // Woken at once by every admission, in any process (as graphile-worker does); the poll
      // above stays for what a lost connection missed and for expired leases.
      unlisten = deps.executions.listenForRuns(wake).catch((error: unknown) => {
        log.warn({ err: error }, 'cannot listen for new runs; polling only');
        return undefined;
      });
      wake();
    },
    wake,
    async stop(graceMs = 30_000) {
      stopped = true;
      clearInterval(pollTimer);
      clearImmediate(fillSoon);
      await (await unlisten)?.();
      unlisten = undefined;
      let timer: NodeJS.Timeout | undefined;
      // Until nothing runs: an ending run may hand over a successor its end claimed.
      const ended = (async () => {
        while (claiming.size > 0 || active.size > 0) await Promise.allSettled([...claiming, ...active]);
      })();
      await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    },
    activeRuns: () => active.size,
  };
}
