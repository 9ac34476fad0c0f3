import { parseInput, RequestId } from '../store/model.js';
import type { ApprovalStore, Delivery } from '../store/index.js';

/**
 * The delivery log as `aibox approvals deliveries` shows it: every
 * notification with each attempt's time, outcome, HTTP status or SMTP reply.
 * The queued payload stays in the store.
 */
export type DeliveryLogEntry = Omit<Delivery, 'payload' | 'claimedBy' | 'claimedUntil'>;

export async function deliveryLog(store: ApprovalStore, requestId?: string): Promise<DeliveryLogEntry[]> {
  const filter = requestId === undefined ? {} : { requestId: parseInput(RequestId, requestId, 'request id') };
  return (await store.listDeliveries(filter)).map(({ payload: _payload, claimedBy: _claimedBy, claimedUntil: _claimedUntil, ...entry }) => entry);
}

export function formatDeliveryLog(entries: readonly DeliveryLogEntry[]): string {
  if (entries.length === 0) return 'No notifications yet.';
  return entries
    .flatMap((entry) => [
      `${entry.id}  request ${entry.requestId}  ${entry.kind}  ${entry.channel}  ${entry.state}${entry.state === 'pending' ? ` (next ${entry.nextAt})` : ''}`,
      ...entry.attempts.map((attempt) => `  #${attempt.attempt}  ${attempt.at}  ${attempt.outcome.padEnd(6)}  ${attempt.status ?? '-'}  ${attempt.detail}`),
    ])
    .join('\n');
}
