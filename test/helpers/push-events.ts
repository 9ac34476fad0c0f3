import type { PushEvent } from '../../src/push/notify/event.js';
import type { PushRequest } from '../../src/push/store/model.js';
import { pushRequest } from './push-store-suite.js';

/** A push request in a given state, and the event announcing it, for the notification tests. */
export function storedRequest(overrides: Partial<PushRequest> = {}): PushRequest {
  const base = pushRequest('3f2a9c01de', { oldSha: '1'.repeat(40), newSha: '2'.repeat(40) });
  return { ...base, url: 'https://alice:hunter2@git.example.com/acme/app.git', state: 'pending', history: [{ at: base.createdAt, state: 'pending', actor: base.pusher }], ...overrides };
}

export function pushEvent(kind: PushEvent['kind'], overrides: Partial<PushRequest> = {}): PushEvent {
  return { kind, request: storedRequest({ state: kind, ...overrides }), at: '2026-03-01T11:00:00.000Z' };
}
