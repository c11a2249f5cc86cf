import { randomBytes } from 'node:crypto';
import { every } from '../shared/every.ts';
import type { NotificationMetrics } from '../shared/metrics.ts';
import { hostname } from 'node:os';
import type { Sealed } from '../credentials/envelope.ts';
import { localDate, nextOccurrence } from '../scheduler/cron-ticks.ts';
import type { Clock } from '../shared/clock.ts';
import { errorMessage } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type { Secret } from '../shared/secret.ts';
import type { Db } from '../store/db.ts';
import type { ChannelStore } from './channel-store.ts';
import { decide, DEFAULT_DELIVERY_POLICY, DEFAULT_MAX_ATTEMPTS, type DeliveryPolicy, type SendOutcome } from './delivery-policy.ts';
import type { ClaimedDelivery, DeliveryStore, DueDigest } from './delivery-store.ts';
import { KIND_SEVERITY } from './message-kinds.ts';
import { renderMessage, type MessageFacts } from './messages.ts';
import { planEvents } from './plan-events.ts';
import type { ChannelTarget, Transports } from './transports.ts';

export interface NotifierOptions {
  /** Names this notifier's leases. */
  id: string;
  /** How long a claim holds a delivery. Longer than a send's timeout, so a live notifier never loses a delivery mid-send. */
  leaseMs: number;
  /** Every SMTP or HTTP exchange ends within this or fails. */
  timeoutMs: number;
  /** Events planned, deliveries claimed and digests folded per pass. */
  batch: number;
  /** Channels sent to at once; one channel's deliveries go one after another. */
  concurrency: number;
  maxAttempts: number;
  policy: DeliveryPolicy;
  /** Events and deliveries older than this with nothing left to send are deleted (hourly). */
  retentionDays: number;
}

export interface NotifierDeps {
  db: Db;
  channels: ChannelStore;
  deliveries: DeliveryStore;
  open: (sealed: Sealed) => Promise<Secret>;
  transports: Transports;
  clock: Clock;
  logger: Logger;
  baseUrl: string;
  /** Deliveries counted by channel kind and outcome (GET /metrics). */
  metrics?: NotificationMetrics;
}

export interface PassResult {
  planned: number;
  planned_deliveries: number;
  deferred: number;
  digests: number;
  sent: number;
  retrying: number;
  failed: number;
}

export interface AttemptResult {
  delivery_id: string;
  /** sent, retrying, failed; `skipped` when the claim was lost before sending. */
  status: 'sent' | 'retrying' | 'failed' | 'skipped';
  response_code: number | null;
  error: string | null;
  attempt: number;
}

export function defaultNotifierOptions(overrides: Partial<NotifierOptions> = {}): NotifierOptions {
  return {
    id: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    leaseMs: 60_000,
    timeoutMs: 10_000,
    batch: 100,
    concurrency: 4,
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    policy: DEFAULT_DELIVERY_POLICY,
    retentionDays: 90,
    ...overrides,
  };
}

/**
 * The delivery side of notifications, apart from runs: a run's end only writes its outbox
 * event, so however slow or broken a channel is, no run waits for it. Each pass plans new
 * events into deliveries, folds due digests, then claims due deliveries and sends them.
 */
export function createNotifier(deps: NotifierDeps, options: NotifierOptions) {
  const log = deps.logger.child({ component: 'notifier', notifier_id: options.id });
  let lastPrune = 0;

  /** One claimed delivery: opened, rendered, fenced, sent, recorded. */
  async function deliver(delivery: ClaimedDelivery): Promise<AttemptResult & { pauseUntil: Date | null }> {
    const skipped = { delivery_id: delivery.delivery_id, status: 'skipped' as const, response_code: null, error: null, attempt: delivery.attempts, pauseUntil: null };
    const channel = await deps.channels.sealed(delivery.org_slug, delivery.channel_id);
    if (!channel) return skipped;
    const target: ChannelTarget = {
      kind: channel.kind,
      name: channel.name,
      recipients: channel.recipients,
      url: channel.sealed_url ? await deps.open(channel.sealed_url) : undefined,
      secret: channel.sealed_secret ? await deps.open(channel.sealed_secret) : undefined,
    };
    const message = renderMessage(await factsFor(delivery, channel.name));
    const attempt = await deps.deliveries.begin(delivery, options.timeoutMs, deps.clock.now());
    if (attempt === undefined) return skipped;
    let outcome: SendOutcome;
    try {
      outcome = await deps.transports[channel.kind](message, target, { idempotencyKey: delivery.idempotency_key, timeoutMs: options.timeoutMs });
    } catch (error) {
      outcome = { ok: false, permanent: false, error: `transport error: ${errorMessage(error).slice(0, 200)}` };
    }
    const at = deps.clock.now();
    const decision = decide(attempt, delivery.max_attempts, outcome, options.policy);
    const code = outcome.code ?? null;
    const error = outcome.ok ? null : outcome.error;
    const nextAttemptAt = decision.action === 'retry' ? new Date(at.getTime() + decision.delayMs) : null;
    const status = decision.action === 'sent' ? 'sent' : decision.action === 'retry' ? 'retrying' : 'failed';
    const recorded = await deps.deliveries.record(delivery, {
      status,
      deliveryStatus: status === 'retrying' ? 'pending' : status,
      code,
      error: decision.action === 'give_up' && decision.reason === 'attempts_exhausted' ? `${error} (gave up after ${attempt} attempts)` : error,
      at,
      nextAttemptAt,
      pauseChannelUntil: nextAttemptAt,
    });
    const fields = { org: delivery.org_slug, delivery_id: delivery.delivery_id, channel: channel.name, kind: delivery.message_kind, attempt, status, response_code: code };
    if (recorded) deps.metrics?.notificationDelivery({ org: delivery.org_slug, channelKind: channel.kind, outcome: status });
    if (!recorded) log.warn(fields, 'delivery outcome not recorded: the claim was lost during the send');
    else if (status === 'sent') log.info(fields, 'notification sent');
    else log.warn({ ...fields, error, next_attempt_at: nextAttemptAt }, 'notification not delivered');
    return { delivery_id: delivery.delivery_id, status, response_code: code, error, attempt, pauseUntil: nextAttemptAt };
  }

  async function factsFor(delivery: ClaimedDelivery, channelName: string): Promise<MessageFacts> {
    const base = { orgSlug: delivery.org_slug, details: delivery.details, idempotencyKey: delivery.idempotency_key, channelName, baseUrl: deps.baseUrl };
    if (delivery.message_kind === 'digest') {
      const items = await deps.deliveries.digestItems(delivery.org_slug, delivery.delivery_id);
      const facts = await deps.deliveries.facts(delivery.org_slug, items.map((item) => item.event_id));
      const from = typeof delivery.details.from === 'string' ? new Date(delivery.details.from) : null;
      const to = typeof delivery.details.to === 'string' ? new Date(delivery.details.to) : deps.clock.now();
      return {
        ...base, kind: 'digest', severity: 'INFO', event: null, run: null, failingStep: null, period: { from, to },
        items: items.map((item) => {
          const found = facts.get(item.event_id);
          return { ...base, kind: item.message_kind, severity: KIND_SEVERITY[item.message_kind], details: item.details, event: found?.event ?? null, run: found?.run ?? null, failingStep: found?.failingStep ?? null };
        }),
      };
    }
    const found = delivery.event_id ? (await deps.deliveries.facts(delivery.org_slug, [delivery.event_id])).get(delivery.event_id) : undefined;
    const severity = delivery.message_kind === 'cost_alert' && typeof found?.event.payload.severity === 'string' ? (found.event.payload.severity as MessageFacts['severity']) : KIND_SEVERITY[delivery.message_kind];
    return { ...base, kind: delivery.message_kind, severity, event: found?.event ?? null, run: found?.run ?? null, failingStep: found?.failingStep ?? null };
  }

  /** A channel's claimed deliveries in order; once the channel is down or asks for time, the rest go back for a later pass. */
  async function deliverChannel(deliveries: ClaimedDelivery[], counts: PassResult): Promise<void> {
    for (const [i, delivery] of deliveries.entries()) {
      let result: Awaited<ReturnType<typeof deliver>>;
      try {
        result = await deliver(delivery);
      } catch (error) {
        // A store or decryption error: the delivery's lease runs out and another pass retries it.
        log.error({ err: error, org: delivery.org_slug, delivery_id: delivery.delivery_id }, 'delivery failed before its outcome was recorded');
        continue;
      }
      if (result.status === 'sent') counts.sent += 1;
      else if (result.status === 'retrying') counts.retrying += 1;
      else if (result.status === 'failed') counts.failed += 1;
      if (result.pauseUntil) {
        await deps.deliveries.release(deliveries.slice(i + 1));
        return;
      }
    }
  }

  function nextDigest(channel: DueDigest): { nextAt: Date; localDay: string } {
    const [hour, minute] = channel.digest_time.split(':').map(Number);
    const cron = `${minute} ${hour} * * *`;
    const now = deps.clock.now();
    const after = channel.next_digest_at > now ? channel.next_digest_at : now;
    return { nextAt: nextOccurrence(cron, channel.timezone, after), localDay: localDate(channel.next_digest_at, channel.timezone) };
  }

  return {
    id: options.id,

    /** One pass: plan, fold due digests, deliver what is due at `now`. */
    async notifyPass(now: Date = deps.clock.now()): Promise<PassResult> {
      const plan = await planEvents(deps.db, deps.deliveries, { now, batch: options.batch, maxAttempts: options.maxAttempts });
      const digests = await deps.deliveries.foldDigests(now, options.batch, nextDigest, options.maxAttempts);
      const counts: PassResult = { planned: plan.planned, planned_deliveries: plan.deliveries, deferred: plan.deferred, digests, sent: 0, retrying: 0, failed: 0 };
      const claimed = await deps.deliveries.claim(now, options.batch, options.id, options.leaseMs);
      const byChannel = new Map<string, ClaimedDelivery[]>();
      for (const delivery of claimed) byChannel.set(`${delivery.org_slug}/${delivery.channel_id}`, [...(byChannel.get(`${delivery.org_slug}/${delivery.channel_id}`) ?? []), delivery]);
      const queue = [...byChannel.values()];
      await Promise.all(Array.from({ length: Math.min(options.concurrency, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await deliverChannel(next, counts);
      }));
      if (Date.now() - lastPrune > 3_600_000) {
        lastPrune = Date.now();
        const pruned = await deps.deliveries.prune(new Date(now.getTime() - options.retentionDays * 86_400_000));
        if (pruned > 0) log.info({ events: pruned }, 'notification history pruned past its retention');
      }
      return counts;
    },

    /** A delivery written already claimed (a test-send), sent now by the caller. */
    async deliverNow(delivery: ClaimedDelivery): Promise<AttemptResult> {
      const { pauseUntil: _pause, ...result } = await deliver(delivery);
      return result;
    },
  };
}

export type Notifier = ReturnType<typeof createNotifier>;

/** The notifier's loop in a long-lived process: a pass every `intervalMs`, another at once after a full one. */
export function startNotifier(notifier: Notifier, options: { logger: Logger; intervalMs: number }): { stop(): Promise<void> } {
  const log = options.logger.child({ component: 'notifier' });
  return every(options.intervalMs, async (stopped) => {
    for (let rounds = 0; rounds < 20 && !stopped(); rounds += 1) {
      const result = await notifier.notifyPass();
      if (result.planned + result.sent + result.failed + result.digests > 0) log.debug(result, 'notifier pass');
      // Only a pass that found work can have left more behind.
      if (result.planned + result.sent + result.retrying + result.failed === 0) break;
    }
  }, log, 'notifier pass');
}
