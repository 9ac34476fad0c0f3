/**
 * When a failed delivery is tried again: exponential backoff with jitter
 * (5 s, 25 s, 2 min, 10 min, 52 min, then the cap, each ±20 %), never sooner
 * than the receiver's Retry-After.
 */
export interface RetryPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** After this many attempts a delivery is failed. */
  maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { firstDelayMs: 5000, maxDelayMs: 3600_000, maxAttempts: 8 };

const FACTOR = 5;
const JITTER = 0.2;
/** A Retry-After beyond a day is a receiver's mistake, not a plan. */
const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** The delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed. */
export function retryDelay(attempt: number, policy: RetryPolicy, random: () => number, retryAfterMs?: number): number {
  const base = Math.min(policy.maxDelayMs, policy.firstDelayMs * FACTOR ** (attempt - 1));
  const jittered = Math.round(base * (1 - JITTER + 2 * JITTER * random()));
  return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

/** Retry-After as HTTP sends it: delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: Date): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}
