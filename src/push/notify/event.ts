import { z } from 'zod';
import { PushRequest, Timestamp } from '../store/index.js';

/**
 * What the approval service tells people: a request changed state. `pending`
 * (a new request) goes to the approvers; every other kind to the developer
 * who pushed. `approved` and `promoting` are steps on the way, not news.
 */
export const EVENT_KINDS = ['pending', 'promoted', 'needs-rebase', 'rejected', 'expired', 'cancelled', 'superseded'] as const;
export const EventKind = z.enum(EVENT_KINDS);
export type EventKind = z.infer<typeof EventKind>;

export const PushEvent = z.object({ kind: EventKind, request: PushRequest, at: Timestamp });
export type PushEvent = z.infer<typeof PushEvent>;

export function forApprovers(event: PushEvent): boolean {
  return event.kind === 'pending';
}

/** The event a request's current state announces, if it is news. */
export function eventOf(request: PushRequest, at: Date): PushEvent | undefined {
  const kind = EventKind.safeParse(request.state);
  return kind.success ? { kind: kind.data, request, at: at.toISOString() } : undefined;
}
