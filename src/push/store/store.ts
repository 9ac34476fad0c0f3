import type { AttemptResult, Delivery, DeliveryClaim, DeliveryFilter, NewDelivery } from './delivery-model.js';
import type { NewPushRequest, PushRequest, RequestState, TokenRole } from './model.js';

export interface RequestFilter {
  pusher?: string;
  state?: RequestState | readonly RequestState[];
  repository?: string;
  targetRef?: string;
}

export interface CreatedRequest {
  request: PushRequest;
  /** Older requests of the same pusher to the same repository and target, closed by this one. */
  superseded: PushRequest[];
}

export interface CreatedToken {
  id: string;
  name: string;
  role: TokenRole;
  /** Shown once: the store keeps only its hash. */
  secret: string;
  expiresAt: string;
}

/** A known secret: who it is, or when it stopped being valid. */
export type TokenCheck = { name: string; role: TokenRole } | { expiredAt: string };

/**
 * The approval service's storage. The staging refs on the remote are the
 * source of truth; this is the index the service works from, and a
 * reconciler can rebuild it from the remote (upsertFromRemote).
 *
 * Every method validates its input with the schemas of model.ts and throws
 * AiboxError('USAGE') naming the bad field.
 */
export interface ApprovalStore {
  /** Brings the schema to the newest version; returns it. Running it again is a no-op. */
  migrate(): Promise<number>;

  /**
   * Records a new pending request. In the same transaction, an older request of
   * the same pusher to the same repository and target that is still pending (or
   * waits for a rebase) becomes 'superseded' with supersededBy = the new id.
   * An id that exists already is a CONFLICT.
   */
  createRequest(request: NewPushRequest): Promise<CreatedRequest>;

  get(id: string): Promise<PushRequest | undefined>;

  /** Oldest first. */
  list(filter?: RequestFilter): Promise<PushRequest[]>;

  /**
   * Compare-and-set: moves the request to `to` only if its state is one of
   * `from`, and records who and why in its history. Returns the updated request,
   * or undefined when the request is absent or its state was not in `from` —
   * so of two replicas trying `approved -> promoting`, exactly one gets it.
   * `approved` and `rejected` also set decidedBy; a reason replaces the request's.
   */
  transition(id: string, from: readonly RequestState[], to: RequestState, actor: string, reason?: string): Promise<PushRequest | undefined>;

  /** Moves every pending request whose expiresAt <= now to 'expired'; returns them. */
  expireDue(now: Date): Promise<PushRequest[]>;

  /**
   * Inserts a request rebuilt from the remote, as it is (state and history
   * included). Idempotent: an id (or staging ref) that exists changes nothing.
   * Returns whether it was inserted.
   */
  upsertFromRemote(request: PushRequest): Promise<boolean>;

  /** A new token, valid for `days` (default DEFAULT_TOKEN_DAYS); its secret is returned here once and stored only hashed. */
  createToken(name: string, role: TokenRole, days?: number): Promise<CreatedToken>;

  /** The token's name and role (or when it expired), or undefined for an unknown or malformed secret. */
  verifyToken(secret: string): Promise<TokenCheck | undefined>;

  /** Queues notifications (all or none), each due at once: its createdAt. */
  enqueueDeliveries(deliveries: readonly NewDelivery[]): Promise<void>;

  /**
   * Leases up to `limit` due pending deliveries to `owner` until now + leaseMs,
   * oldest due first. A row leased by another replica whose lease has not run
   * out is skipped: two replicas never hold the same delivery at once.
   */
  claimDeliveries(claim: DeliveryClaim): Promise<Delivery[]>;

  /**
   * Appends one attempt to a delivery's log. If `owner` still holds the lease,
   * the delivery becomes sent, failed, or pending again until nextAt (a retry),
   * and its lease is released; returns whether that happened.
   */
  recordDeliveryAttempt(id: string, owner: string, result: AttemptResult): Promise<boolean>;

  /** Oldest first, with their attempts. */
  listDeliveries(filter?: DeliveryFilter): Promise<Delivery[]>;

  close(): Promise<void>;
}

/** What a store needs from outside, passed in by whoever opens it. */
export interface StoreOptions {
  /** The clock of history events and tokens; tests inject their own. */
  now?: () => Date;
}
