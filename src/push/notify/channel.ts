import type { ChannelName } from '../store/index.js';
import type { PushEvent } from './event.js';

/**
 * One way of telling people (Slack, a webhook, email). A channel never
 * throws for a failed send: it reports what happened, and whether trying
 * again may help.
 */
export type SendResult =
  | { ok: true; status?: number; detail: string }
  | { ok: false; retryable: boolean; status?: number; detail: string; retryAfterMs?: number };

export interface Channel {
  readonly name: ChannelName;
  /** Whether this channel has anyone to tell about the event (email: an address). */
  accepts(event: PushEvent): boolean;
  /** `deliveryId` is the same for every attempt of one delivery: receivers deduplicate by it. */
  send(event: PushEvent, deliveryId: string): Promise<SendResult>;
  close?(): void;
}

/** One line of text for the delivery log: no control characters, bounded. */
export function logDetail(text: string, max = 300): string {
  const clean = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}
