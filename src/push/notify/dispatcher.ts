import type { ApprovalStore, AttemptOutcome, Delivery } from '../store/index.js';
import { retryDelay, type RetryPolicy } from './backoff.js';
import { logDetail, type Channel, type SendResult } from './channel.js';
import { PushEvent } from './event.js';
import type { NotifyLog } from './outbox.js';

/**
 * Sends what the outbox holds. Each replica claims due deliveries under a
 * lease (so two replicas never send the same one), sends them concurrently,
 * and records every attempt: sent, failed for good, or due again after a
 * backoff. Nothing here throws into the service: failures are logged, and a
 * delivery whose outcome could not be recorded is claimed again once its
 * lease runs out.
 */
export interface DispatcherOptions {
  store: ApprovalStore;
  channels: readonly Channel[];
  retry: RetryPolicy;
  /** This replica, as the outbox names lease holders. */
  owner: string;
  /** Longer than any one send may take. */
  leaseMs: number;
  now: () => Date;
  random: () => number;
  log: NotifyLog;
  concurrency?: number;
  pollMs?: number;
}

export interface Dispatcher {
  /** Claims what is due (as many as there are free slots), and resolves once those sends are recorded. */
  tick(): Promise<void>;
  /** Claims without waiting for the sends: after a new event, and on every poll. */
  kick(): void;
  start(): void;
  /** Stops claiming, waits for the sends in flight, closes the channels. */
  stop(): Promise<void>;
}

const DEFAULT_CONCURRENCY = 8;
const DEFAULT_POLL_MS = 1000;

export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, log } = options;
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const channels = new Map(options.channels.map((channel) => [channel.name, channel]));
  const inFlight = new Set<Promise<void>>();
  const timers = new Set<NodeJS.Timeout>();
  let claiming: Promise<Promise<void>[]> | undefined;
  let again = false;
  let stopped = false;

  async function send(delivery: Delivery): Promise<SendResult> {
    const channel = channels.get(delivery.channel);
    if (!channel) return { ok: false, retryable: false, detail: `the ${delivery.channel} channel is no longer configured` };
    const event = PushEvent.safeParse(parseJson(delivery.payload));
    if (!event.success) return { ok: false, retryable: false, detail: `the queued event is not valid: ${event.error.issues[0]?.message ?? 'invalid'}` };
    try {
      return await channel.send(event.data, delivery.id);
    } catch (error) {
      return { ok: false, retryable: true, detail: logDetail(error instanceof Error ? error.message : String(error)) };
    }
  }

  async function deliver(delivery: Delivery): Promise<void> {
    const attempt = delivery.attempts.length + 1;
    const result = await send(delivery);
    const at = options.now();
    const outcome: AttemptOutcome = result.ok ? 'sent' : result.retryable && attempt < options.retry.maxAttempts ? 'retry' : 'failed';
    const delay = outcome === 'retry' ? retryDelay(attempt, options.retry, options.random, result.ok ? undefined : result.retryAfterMs) : 0;
    const what = `${delivery.channel} notification ${delivery.id} (${delivery.kind}, request ${delivery.requestId})`;
    try {
      await store.recordDeliveryAttempt(delivery.id, options.owner, {
        at: at.toISOString(),
        outcome,
        ...(result.status !== undefined ? { status: result.status } : {}),
        detail: result.detail,
        ...(outcome === 'retry' ? { nextAt: new Date(at.getTime() + delay).toISOString() } : {}),
      });
    } catch (error) {
      log.warn(`${what}: attempt ${attempt} (${outcome}) could not be recorded: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (outcome === 'sent') log.info(`${what} sent: ${result.detail}`);
    else if (outcome === 'retry') log.warn(`${what}: attempt ${attempt} failed (${result.detail}); next in ${(delay / 1000).toFixed(1)} s`);
    else log.warn(`${what} failed after ${attempt} attempt(s): ${result.detail}`);
    if (outcome === 'retry') wakeIn(delay);
  }

  async function claimOnce(): Promise<Promise<void>[]> {
    const free = concurrency - inFlight.size;
    if (free <= 0 || stopped) return [];
    let claimed: Delivery[];
    try {
      claimed = await store.claimDeliveries({ owner: options.owner, now: options.now(), leaseMs: options.leaseMs, limit: free });
    } catch (error) {
      log.warn(`notifications: cannot claim deliveries: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
    return claimed.map((delivery) => {
      const sending: Promise<void> = deliver(delivery).finally(() => inFlight.delete(sending));
      inFlight.add(sending);
      return sending;
    });
  }

  /** One claim at a time; a request for another while one runs claims again right after it. */
  function claimDue(): Promise<Promise<void>[]> {
    if (stopped) return Promise.resolve([]);
    again = true;
    claiming ??= (async () => {
      const started: Promise<void>[] = [];
      while (again && !stopped) {
        again = false;
        started.push(...(await claimOnce()));
      }
      claiming = undefined;
      return started;
    })();
    return claiming;
  }

  function wakeIn(ms: number): void {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      void claimDue();
    }, ms);
    timer.unref();
    timers.add(timer);
  }

  let poll: NodeJS.Timeout | undefined;
  return {
    async tick() {
      await Promise.all(await claimDue());
    },
    kick() {
      void claimDue();
    },
    start() {
      poll = setInterval(() => void claimDue(), options.pollMs ?? DEFAULT_POLL_MS);
      poll.unref();
      void claimDue();
    },
    async stop() {
      stopped = true;
      clearInterval(poll);
      for (const timer of timers) clearTimeout(timer);
      await claiming;
      await Promise.all(inFlight);
      for (const channel of options.channels) channel.close?.();
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
