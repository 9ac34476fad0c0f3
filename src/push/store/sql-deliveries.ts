import { z } from 'zod';
import { AttemptResult, Delivery, DeliveryClaim, DeliveryFilter, DeliveryId, NewDelivery } from './delivery-model.js';
import { Identity, parseInput } from './model.js';
import { parseRows, parseStored, placeholders, withoutNulls } from './sql-rows.js';
import type { SqlDriver, SqlTx, SqlValue } from './sql-store.js';

/**
 * The notification outbox in SQL, for both databases. A claim is a
 * compare-and-set per row (`UPDATE … WHERE the lease is free`): of two
 * replicas claiming the same due row, the second finds it leased and skips it.
 */

const COLUMNS = 'id, request_id, kind, channel, payload, state, created_at, next_at, claimed_by, claimed_until';

const OutboxRow = z.object({
  id: z.string(),
  request_id: z.string(),
  kind: z.string(),
  channel: z.string(),
  payload: z.string(),
  state: z.string(),
  created_at: z.string(),
  next_at: z.string(),
  claimed_by: z.string().nullable(),
  claimed_until: z.string().nullable(),
});
type OutboxRow = z.infer<typeof OutboxRow>;

const AttemptRow = z.object({
  delivery_id: z.string(),
  attempt: z.number(),
  at: z.string(),
  outcome: z.string(),
  status: z.number().nullable(),
  detail: z.string(),
});

const IdRow = z.object({ id: z.string() });
const LEASE_FREE = '(claimed_until IS NULL OR claimed_until <= ?)';

export class SqlDeliveries {
  constructor(
    private readonly driver: SqlDriver,
    private readonly where: string,
  ) {}

  async enqueue(input: readonly NewDelivery[]): Promise<void> {
    const deliveries = parseInput(z.array(NewDelivery), input, 'delivery');
    if (deliveries.length === 0) return;
    await this.driver.transaction(async (tx) => {
      for (const delivery of deliveries) {
        await tx.query(`INSERT INTO notification_outbox (${COLUMNS}) VALUES (${placeholders(10)})`, [
          delivery.id,
          delivery.requestId,
          delivery.kind,
          delivery.channel,
          delivery.payload,
          'pending',
          delivery.createdAt,
          delivery.createdAt,
          null,
          null,
        ]);
      }
    });
  }

  async claim(input: DeliveryClaim): Promise<Delivery[]> {
    const claim = parseInput(DeliveryClaim, input, 'delivery claim');
    const now = claim.now.toISOString();
    const until = new Date(claim.now.getTime() + claim.leaseMs).toISOString();
    return this.driver.transaction(async (tx) => {
      const due = parseRows(IdRow, await tx.query(`SELECT id FROM notification_outbox WHERE state = 'pending' AND next_at <= ? AND ${LEASE_FREE} ORDER BY next_at, id LIMIT ?`, [now, now, claim.limit]), this.where);
      const claimed: string[] = [];
      for (const { id } of due) {
        const won = await tx.query(`UPDATE notification_outbox SET claimed_by = ?, claimed_until = ? WHERE id = ? AND state = 'pending' AND ${LEASE_FREE} RETURNING id`, [claim.owner, until, id, now]);
        if (won.length > 0) claimed.push(id);
      }
      if (claimed.length === 0) return [];
      return this.read(tx, `id IN (${placeholders(claimed.length)})`, claimed);
    });
  }

  /**
   * Logs one attempt, and settles the delivery if `owner` still holds its
   * lease (returns whether it did). The attempt is logged either way: it happened.
   */
  async record(id: string, owner: string, input: AttemptResult): Promise<boolean> {
    const valid = parseInput(z.object({ id: DeliveryId, owner: Identity, result: AttemptResult }), { id, owner, result: input }, 'delivery attempt');
    const { result } = valid;
    const state = result.outcome === 'retry' ? 'pending' : result.outcome;
    return this.driver.transaction(async (tx) => {
      await tx.query(
        'INSERT INTO notification_attempts (delivery_id, attempt, at, outcome, status, detail) SELECT ?, COALESCE(MAX(attempt), 0) + 1, ?, ?, ?, ? FROM notification_attempts WHERE delivery_id = ?',
        [valid.id, result.at, result.outcome, result.status ?? null, result.detail, valid.id],
      );
      const settled = await tx.query('UPDATE notification_outbox SET state = ?, next_at = COALESCE(?, next_at), claimed_by = NULL, claimed_until = NULL WHERE id = ? AND claimed_by = ? RETURNING id', [
        state,
        result.nextAt ?? null,
        valid.id,
        valid.owner,
      ]);
      return settled.length > 0;
    });
  }

  async list(input: DeliveryFilter = {}): Promise<Delivery[]> {
    const filter = parseInput(DeliveryFilter, input, 'delivery filter');
    const [clause, values]: [string, SqlValue[]] = filter.requestId === undefined ? ['1 = 1', []] : ['request_id = ?', [filter.requestId]];
    return this.driver.transaction((tx) => this.read(tx, clause, values), { readOnly: true });
  }

  private async read(tx: SqlTx, clause: string, values: readonly SqlValue[]): Promise<Delivery[]> {
    const rows = parseRows(OutboxRow, await tx.query(`SELECT ${COLUMNS} FROM notification_outbox WHERE ${clause} ORDER BY created_at, id`, values), this.where);
    const attempts = new Map<string, unknown[]>();
    const attemptRows = await tx.query(`SELECT delivery_id, attempt, at, outcome, status, detail FROM notification_attempts WHERE delivery_id IN (SELECT id FROM notification_outbox WHERE ${clause}) ORDER BY delivery_id, attempt`, values);
    for (const row of parseRows(AttemptRow, attemptRows, this.where)) {
      const list = attempts.get(row.delivery_id) ?? [];
      list.push(withoutNulls({ attempt: row.attempt, at: row.at, outcome: row.outcome, status: row.status, detail: row.detail }));
      attempts.set(row.delivery_id, list);
    }
    return rows.map((row) => this.assemble(row, attempts.get(row.id) ?? []));
  }

  private assemble(row: OutboxRow, attempts: unknown[]): Delivery {
    const delivery = withoutNulls({
      id: row.id,
      requestId: row.request_id,
      kind: row.kind,
      channel: row.channel,
      payload: row.payload,
      state: row.state,
      createdAt: row.created_at,
      nextAt: row.next_at,
      claimedBy: row.claimed_by,
      claimedUntil: row.claimed_until,
      attempts,
    });
    return parseStored(Delivery, delivery, this.where, `delivery ${row.id}`);
  }
}
