import type { ApprovalStore, StoreOptions } from './store.js';

export type { ApprovalStore, CreatedRequest, CreatedToken, RequestFilter, StoreOptions, TokenCheck } from './store.js';
export { DEFAULT_TOKEN_DAYS, HistoryEvent, Identity, NewPushRequest, PushRequest, REQUEST_STATES, RequestState, SUPERSEDABLE, Timestamp, TokenRole } from './model.js';
export { SERVICE_ACTOR } from './sql-store.js';
export { AttemptOutcome, AttemptResult, CHANNEL_NAMES, ChannelName, Delivery, DeliveryAttempt, DeliveryClaim, DeliveryFilter, DeliveryState, MAX_DETAIL, NewDelivery } from './delivery-model.js';

/**
 * Opens the approval store a setting names: a postgres:// (or postgresql://)
 * URL, else the path of a SQLite file. The driver is loaded only when used, so
 * commands that never touch the store do not load either database client.
 */
export async function openApprovalStore(location: string, options: StoreOptions = {}): Promise<ApprovalStore> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(location, options);
  }
  const { openSqliteStore } = await import('./sqlite.js');
  return openSqliteStore(location, options);
}
