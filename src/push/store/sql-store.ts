import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import { MIGRATIONS, SCHEMA_VERSION_TABLE } from './migrations.js';
import {
  Identity,
  NewPushRequest,
  PushRequest,
  Reason,
  Repository,
  RequestId,
  RequestState,
  SUPERSEDABLE,
  Timestamp,
  TokenRole,
  DEFAULT_TOKEN_DAYS,
  parseInput,
  type HistoryEvent,
} from './model.js';
import type { AttemptResult, Delivery, DeliveryClaim, DeliveryFilter, NewDelivery } from './delivery-model.js';
import { SqlDeliveries } from './sql-deliveries.js';
import type { ApprovalStore, CreatedRequest, CreatedToken, RequestFilter, StoreOptions, TokenCheck } from './store.js';
import { hashSecret, looksLikeSecret, newSecret, newTokenId } from './tokens.js';
import { parseRows, parseStored, placeholders, withoutNulls } from './sql-rows.js';

/**
 * The approval store's logic, written once over a minimal SQL driver that
 * sqlite.ts and postgres.ts provide. Statements use `?` placeholders and the
 * SQL both databases share.
 */

export type SqlValue = string | number | null;

export interface SqlTx {
  query(sql: string, params?: readonly SqlValue[]): Promise<unknown[]>;
}

export interface TransactionOptions {
  /** Only reads: SQLite need not take the write lock; PostgreSQL reads one snapshot. */
  readOnly?: boolean;
  /** Serialises transactions with the same key across connections and replicas (PostgreSQL: an advisory lock; SQLite: its one writer). */
  lockKey?: string;
}

export interface SqlDriver {
  /** Runs fn in one transaction: committed when it returns, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
}

/** Who the store names in history events it makes itself (expiry). */
export const SERVICE_ACTOR = 'aibox';

const EXPIRED_REASON = 'not approved before it expired';

const REQUEST_COLUMNS =
  'id, repository, url, source_ref, target_ref, staging_ref, old_sha, new_sha, force_push, push_options, commit_range, pusher, created_at, expires_at, state, reason, superseded_by, decided_by';

const RequestRow = z.object({
  id: z.string(),
  repository: z.string(),
  url: z.string().nullable(),
  source_ref: z.string().nullable(),
  target_ref: z.string(),
  staging_ref: z.string(),
  old_sha: z.string().nullable(),
  new_sha: z.string().nullable(),
  force_push: z.number(),
  push_options: z.string(),
  commit_range: z.string().nullable(),
  pusher: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  state: z.string(),
  reason: z.string().nullable(),
  superseded_by: z.string().nullable(),
  decided_by: z.string().nullable(),
});
type RequestRow = z.infer<typeof RequestRow>;

const EventRow = z.object({
  request_id: z.string(),
  at: z.string(),
  state: z.string(),
  actor: z.string(),
  reason: z.string().nullable(),
});

const IdRow = z.object({ id: z.string() });
const VersionRow = z.object({ version: z.number().nullable() });
const TokenRow = z.object({ name: z.string(), role: z.string(), expires_at: z.string() });

const TransitionInput = z.object({
  id: RequestId,
  from: z.array(RequestState).min(1, 'must name at least one state'),
  to: RequestState,
  actor: Identity,
  reason: Reason.optional(),
});

const FilterInput = z.object({
  pusher: Identity.optional(),
  state: z.union([RequestState, z.array(RequestState)]).optional(),
  repository: Repository.optional(),
  targetRef: z.string().max(1024).optional(),
});

const TokenInput = z.object({ name: Identity, role: TokenRole, days: z.number().int().min(1, 'must be at least 1 day').max(3660, 'must be at most 3660 days') });

export class SqlApprovalStore implements ApprovalStore {
  private readonly now: () => Date;
  private readonly deliveries: SqlDeliveries;

  constructor(
    private readonly driver: SqlDriver,
    /** Names the database in errors: a file path or a server address without credentials. */
    private readonly where: string,
    options: StoreOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.deliveries = new SqlDeliveries(driver, where);
  }

  async migrate(): Promise<number> {
    const newest = MIGRATIONS.at(-1)?.version ?? 0;
    const lockKey = 'aibox-approvals:migrate';
    await this.driver.transaction((tx) => tx.query(SCHEMA_VERSION_TABLE), { lockKey });
    let version = 0;
    for (const migration of MIGRATIONS) {
      version = await this.driver.transaction(
        async (tx) => {
          const current = await this.schemaVersion(tx);
          if (current > newest) {
            throw new AiboxError('CONFLICT', `the approval database ${this.where} has schema version ${current}, newer than this aibox knows (${newest})`, 'upgrade aibox on every replica');
          }
          if (current >= migration.version) return current;
          for (const statement of migration.statements) await tx.query(statement);
          await tx.query('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)', [migration.version, migration.description, this.now().toISOString()]);
          return migration.version;
        },
        { lockKey },
      );
    }
    return version;
  }

  async createRequest(input: NewPushRequest): Promise<CreatedRequest> {
    const fresh = parseInput(NewPushRequest, input, 'push request');
    const lockKey = `aibox-approvals:target:${fresh.pusher}\n${fresh.repository}\n${fresh.targetRef}`;
    return this.driver.transaction(
      async (tx) => {
        const inserted = await tx.query(`INSERT INTO push_requests (${REQUEST_COLUMNS}) VALUES (${placeholders(18)}) ON CONFLICT DO NOTHING RETURNING id`, requestValues({ ...fresh, state: 'pending', history: [] }));
        if (inserted.length === 0) {
          throw new AiboxError('CONFLICT', `push request ${fresh.id} (staging ref ${fresh.stagingRef}) is already recorded`);
        }
        await this.appendEvent(tx, fresh.id, { at: fresh.createdAt, state: 'pending', actor: fresh.pusher });

        const at = this.now().toISOString();
        const sameTarget = 'pusher = ? AND repository = ? AND target_ref = ? AND id <> ?';
        const sameTargetValues = [fresh.pusher, fresh.repository, fresh.targetRef, fresh.id];
        // Pushed later, registered earlier (the helper retried while the service was down): this one is the stale one.
        const newer = parseRows(
          IdRow,
          await tx.query(`SELECT id FROM push_requests WHERE ${sameTarget} AND state IN (${placeholders(SUPERSEDABLE.length)}) AND created_at > ? ORDER BY created_at DESC LIMIT 1`, [
            ...sameTargetValues,
            ...SUPERSEDABLE,
            fresh.createdAt,
          ]),
          this.where,
        )[0];
        if (newer) {
          await this.supersede(tx, [fresh.id], newer.id, fresh.pusher, at);
          return { request: await this.mustGet(tx, fresh.id), superseded: [] };
        }
        const older = parseRows(
          IdRow,
          await tx.query(`SELECT id FROM push_requests WHERE ${sameTarget} AND state IN (${placeholders(SUPERSEDABLE.length)}) ORDER BY created_at, id`, [...sameTargetValues, ...SUPERSEDABLE]),
          this.where,
        ).map((row) => row.id);
        await this.supersede(tx, older, fresh.id, fresh.pusher, at);
        const superseded = [];
        for (const id of older) superseded.push(await this.mustGet(tx, id));
        return { request: await this.mustGet(tx, fresh.id), superseded };
      },
      { lockKey },
    );
  }

  async get(id: string): Promise<PushRequest | undefined> {
    const valid = parseInput(RequestId, id, 'push request id');
    return this.driver.transaction((tx) => this.read(tx, valid), { readOnly: true });
  }

  async list(filter: RequestFilter = {}): Promise<PushRequest[]> {
    const valid = parseInput(FilterInput, filter, 'push request filter');
    const clauses: string[] = [];
    const values: SqlValue[] = [];
    if (valid.pusher !== undefined) {
      clauses.push('pusher = ?');
      values.push(valid.pusher);
    }
    if (valid.repository !== undefined) {
      clauses.push('repository = ?');
      values.push(valid.repository);
    }
    if (valid.targetRef !== undefined) {
      clauses.push('target_ref = ?');
      values.push(valid.targetRef);
    }
    if (valid.state !== undefined) {
      const states = typeof valid.state === 'string' ? [valid.state] : valid.state;
      if (states.length === 0) return [];
      clauses.push(`state IN (${placeholders(states.length)})`);
      values.push(...states);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    return this.driver.transaction(
      async (tx) => {
        const rows = parseRows(RequestRow, await tx.query(`SELECT ${REQUEST_COLUMNS} FROM push_requests ${where} ORDER BY created_at, id`, values), this.where);
        const events = await tx.query(`SELECT request_id, at, state, actor, reason FROM push_events WHERE request_id IN (SELECT id FROM push_requests ${where}) ORDER BY request_id, seq`, values);
        return this.assemble(rows, events);
      },
      { readOnly: true },
    );
  }

  async transition(id: string, from: readonly RequestState[], to: RequestState, actor: string, reason?: string): Promise<PushRequest | undefined> {
    const valid = parseInput(TransitionInput, { id, from, to, actor, reason }, 'state change');
    const decides = valid.to === 'approved' || valid.to === 'rejected';
    return this.driver.transaction(async (tx) => {
      // One statement is the compare-and-set: a concurrent one waits for this row's lock, then finds the state changed.
      const updated = await tx.query(
        `UPDATE push_requests SET state = ?, reason = COALESCE(?, reason), decided_by = COALESCE(?, decided_by) WHERE id = ? AND state IN (${placeholders(valid.from.length)}) RETURNING id`,
        [valid.to, valid.reason ?? null, decides ? valid.actor : null, valid.id, ...valid.from],
      );
      if (updated.length === 0) return undefined;
      await this.appendEvent(tx, valid.id, { at: this.now().toISOString(), state: valid.to, actor: valid.actor, reason: valid.reason });
      return this.mustGet(tx, valid.id);
    });
  }

  async expireDue(now: Date): Promise<PushRequest[]> {
    if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new AiboxError('USAGE', `expiry: now must be a valid Date (got ${String(now)})`);
    const at = now.toISOString();
    return this.driver.transaction(
      async (tx) => {
        const expired = parseRows(IdRow, await tx.query(`UPDATE push_requests SET state = 'expired', reason = ? WHERE state = 'pending' AND expires_at <= ? RETURNING id`, [EXPIRED_REASON, at]), this.where);
        const requests = [];
        for (const { id } of expired.sort((a, b) => a.id.localeCompare(b.id))) {
          await this.appendEvent(tx, id, { at, state: 'expired', actor: SERVICE_ACTOR, reason: EXPIRED_REASON });
          requests.push(await this.mustGet(tx, id));
        }
        return requests;
      },
      // Two replicas expiring at once would lock the same rows in different orders.
      { lockKey: 'aibox-approvals:expire' },
    );
  }

  async upsertFromRemote(input: PushRequest): Promise<boolean> {
    const request = parseInput(PushRequest, input, 'push request');
    return this.driver.transaction(async (tx) => {
      const inserted = await tx.query(`INSERT INTO push_requests (${REQUEST_COLUMNS}) VALUES (${placeholders(18)}) ON CONFLICT DO NOTHING RETURNING id`, requestValues(request));
      if (inserted.length === 0) return false;
      for (const event of request.history) await this.appendEvent(tx, request.id, event);
      return true;
    });
  }

  async createToken(name: string, role: TokenInput['role'], days: number = DEFAULT_TOKEN_DAYS): Promise<CreatedToken> {
    const valid = parseInput(TokenInput, { name, role, days }, 'token');
    const secret = newSecret();
    const id = newTokenId();
    const createdAt = this.now();
    const expiresAt = new Date(createdAt.getTime() + valid.days * 86_400_000).toISOString();
    await this.driver.transaction((tx) =>
      tx.query('INSERT INTO tokens (id, name, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [id, valid.name, valid.role, hashSecret(secret), createdAt.toISOString(), expiresAt]),
    );
    return { id, name: valid.name, role: valid.role, secret, expiresAt };
  }

  async verifyToken(secret: string): Promise<TokenCheck | undefined> {
    if (typeof secret !== 'string' || !looksLikeSecret(secret)) return undefined;
    const rows = await this.driver.transaction((tx) => tx.query('SELECT name, role, expires_at FROM tokens WHERE hash = ?', [hashSecret(secret)]), { readOnly: true });
    const row = parseRows(TokenRow, rows, this.where)[0];
    if (!row) return undefined;
    const token = parseStored(z.object({ name: Identity, role: TokenRole, expires_at: Timestamp }), row, this.where, 'token');
    if (token.expires_at <= this.now().toISOString()) return { expiredAt: token.expires_at };
    return { name: token.name, role: token.role };
  }

  enqueueDeliveries(deliveries: readonly NewDelivery[]): Promise<void> {
    return this.deliveries.enqueue(deliveries);
  }

  claimDeliveries(claim: DeliveryClaim): Promise<Delivery[]> {
    return this.deliveries.claim(claim);
  }

  recordDeliveryAttempt(id: string, owner: string, result: AttemptResult): Promise<boolean> {
    return this.deliveries.record(id, owner, result);
  }

  listDeliveries(filter?: DeliveryFilter): Promise<Delivery[]> {
    return this.deliveries.list(filter);
  }

  close(): Promise<void> {
    return this.driver.close();
  }

  private async schemaVersion(tx: SqlTx): Promise<number> {
    const row = parseRows(VersionRow, await tx.query('SELECT MAX(version) AS version FROM schema_version'), this.where)[0];
    return row?.version ?? 0;
  }

  private async supersede(tx: SqlTx, ids: readonly string[], by: string, actor: string, at: string): Promise<void> {
    const reason = `superseded by ${by}`;
    for (const id of ids) {
      await tx.query(`UPDATE push_requests SET state = 'superseded', superseded_by = ?, reason = ? WHERE id = ?`, [by, reason, id]);
      await this.appendEvent(tx, id, { at, state: 'superseded', actor, reason });
    }
  }

  private async appendEvent(tx: SqlTx, id: string, event: HistoryEvent): Promise<void> {
    await tx.query(
      'INSERT INTO push_events (request_id, seq, at, state, actor, reason) SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM push_events WHERE request_id = ?',
      [id, event.at, event.state, event.actor, event.reason ?? null, id],
    );
  }

  private async read(tx: SqlTx, id: string): Promise<PushRequest | undefined> {
    const rows = parseRows(RequestRow, await tx.query(`SELECT ${REQUEST_COLUMNS} FROM push_requests WHERE id = ?`, [id]), this.where);
    const events = await tx.query('SELECT request_id, at, state, actor, reason FROM push_events WHERE request_id = ? ORDER BY seq', [id]);
    return this.assemble(rows, events)[0];
  }

  private async mustGet(tx: SqlTx, id: string): Promise<PushRequest> {
    const request = await this.read(tx, id);
    if (!request) throw new AiboxError('INTERNAL', `push request ${id} vanished inside its own transaction in ${this.where}`);
    return request;
  }

  private assemble(rows: readonly RequestRow[], eventRows: unknown[]): PushRequest[] {
    const history = new Map<string, unknown[]>();
    for (const event of parseRows(EventRow, eventRows, this.where)) {
      const list = history.get(event.request_id) ?? [];
      list.push(withoutNulls({ at: event.at, state: event.state, actor: event.actor, reason: event.reason }));
      history.set(event.request_id, list);
    }
    return rows.map((row) =>
      parseStored(
        PushRequest,
        withoutNulls({
          id: row.id,
          repository: row.repository,
          url: row.url,
          sourceRef: row.source_ref,
          targetRef: row.target_ref,
          stagingRef: row.staging_ref,
          oldSha: row.old_sha,
          newSha: row.new_sha,
          force: row.force_push === 1,
          pushOptions: parseJson(row.push_options),
          commitRange: row.commit_range,
          pusher: row.pusher,
          createdAt: row.created_at,
          expiresAt: row.expires_at,
          state: row.state,
          reason: row.reason,
          supersededBy: row.superseded_by,
          decidedBy: row.decided_by,
          history: history.get(row.id) ?? [],
        }, ['oldSha', 'newSha']),
        this.where,
        `push request ${row.id}`,
      ),
    );
  }
}

type TokenInput = z.infer<typeof TokenInput>;

function requestValues(request: Omit<PushRequest, 'history'> & { history: unknown[] }): SqlValue[] {
  return [
    request.id,
    request.repository,
    request.url ?? null,
    request.sourceRef ?? null,
    request.targetRef,
    request.stagingRef,
    request.oldSha,
    request.newSha,
    request.force ? 1 : 0,
    JSON.stringify(request.pushOptions),
    request.commitRange ?? null,
    request.pusher,
    request.createdAt,
    request.expiresAt,
    request.state,
    request.reason ?? null,
    request.supersededBy ?? null,
    request.decidedBy ?? null,
  ];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
