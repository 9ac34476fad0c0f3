import { randomUUID } from 'node:crypto';
import type { ApprovalStore } from '../store/index.js';
import type { Channel } from './channel.js';
import type { PushEvent } from './event.js';

/** Where the service reports what deliveries do. */
export interface NotifyLog {
  info(message: string): void;
  warn(message: string): void;
}

export type Notify = (event: PushEvent) => Promise<void>;

/**
 * The request path's side of notifications: one outbox row per (event,
 * channel) that has someone to tell, then a nudge to the dispatcher. It
 * never throws and never waits for a delivery: a store that fails is
 * logged, and the request goes on.
 */
export function outboxWriter(store: ApprovalStore, channels: readonly Channel[], log: NotifyLog, kick: () => void): Notify {
  return async (event) => {
    try {
      const payload = JSON.stringify(event);
      const rows = channels
        .filter((channel) => channel.accepts(event))
        .map((channel) => ({ id: randomUUID(), requestId: event.request.id, kind: event.kind, channel: channel.name, payload, createdAt: event.at }));
      if (rows.length === 0) return;
      await store.enqueueDeliveries(rows);
      kick();
    } catch (error) {
      log.warn(`notifications of ${event.kind} for request ${event.request.id} were not queued: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
}
