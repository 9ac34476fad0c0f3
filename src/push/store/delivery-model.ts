import { z } from 'zod';
import { Identity, RequestId, RequestState, Timestamp } from './model.js';

/**
 * The notification outbox as the store keeps it: one delivery per (event,
 * channel), each with the log of its attempts. What a delivery carries is
 * opaque JSON here (push/notify/ owns its shape).
 */

export const CHANNEL_NAMES = ['slack', 'webhook', 'email'] as const;
export const ChannelName = z.enum(CHANNEL_NAMES);
export type ChannelName = z.infer<typeof ChannelName>;

export const DeliveryState = z.enum(['pending', 'sent', 'failed']);
export type DeliveryState = z.infer<typeof DeliveryState>;

export const DeliveryId = z.uuid();

/** sent and failed are final; retry leaves the delivery pending until nextAt. */
export const AttemptOutcome = z.enum(['sent', 'retry', 'failed']);
export type AttemptOutcome = z.infer<typeof AttemptOutcome>;

export const MAX_DETAIL = 1000;

const attemptFields = {
  at: Timestamp,
  outcome: AttemptOutcome,
  /** The HTTP status or the SMTP reply code, when the other side answered. */
  status: z.number().int().min(100).max(999).optional(),
  /** What happened, for people: the reply or the error. Never a secret URL. */
  detail: z.string().max(MAX_DETAIL),
};

export const DeliveryAttempt = z.object({ attempt: z.number().int().min(1), ...attemptFields });
export type DeliveryAttempt = z.infer<typeof DeliveryAttempt>;

/** What a sender reports of one attempt; a retry says when to try again. */
export const AttemptResult = z.object({ ...attemptFields, nextAt: Timestamp.optional() }).refine((result) => (result.outcome === 'retry') === (result.nextAt !== undefined), {
  path: ['nextAt'],
  message: 'is required for a retry, and only for a retry',
});
export type AttemptResult = z.input<typeof AttemptResult>;

export const NewDelivery = z.object({
  id: DeliveryId,
  requestId: RequestId,
  kind: RequestState,
  channel: ChannelName,
  payload: z.string().max(256 * 1024),
  createdAt: Timestamp,
});
export type NewDelivery = z.infer<typeof NewDelivery>;

export const Delivery = NewDelivery.extend({
  state: DeliveryState,
  nextAt: Timestamp,
  claimedBy: Identity.optional(),
  claimedUntil: Timestamp.optional(),
  attempts: z.array(DeliveryAttempt),
});
export type Delivery = z.infer<typeof Delivery>;

export const DeliveryClaim = z.object({
  /** Which replica claims: its lease holds until now + leaseMs. */
  owner: Identity,
  now: z.date().refine((date) => !Number.isNaN(date.getTime()), 'must be a valid Date'),
  leaseMs: z.number().int().min(1),
  limit: z.number().int().min(1).max(100),
});
export type DeliveryClaim = z.infer<typeof DeliveryClaim>;

export const DeliveryFilter = z.object({ requestId: RequestId.optional() });
export type DeliveryFilter = z.infer<typeof DeliveryFilter>;
