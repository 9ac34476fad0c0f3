import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { NewDelivery } from '../../src/push/store/delivery-model.js';
import type { ApprovalStore } from '../../src/push/store/store.js';
import { failsWith } from './errors.js';
import { Clock, pushRequest, type StoreBackend } from './push-store-suite.js';

/**
 * The notification outbox of every ApprovalStore implementation: leases taken
 * by compare-and-set, retries due at their time, the attempt log. The clock
 * is the test's: "now" is passed to every claim.
 */
const LEASE_MS = 60_000;

function delivery(requestId: string, clock: Clock, overrides: Partial<NewDelivery> = {}): NewDelivery {
  return { id: randomUUID(), requestId, kind: 'pending', channel: 'webhook', payload: '{"kind":"pending"}', createdAt: clock.at.toISOString(), ...overrides };
}

async function withOutbox(backend: StoreBackend, test: (one: ApprovalStore, two: ApprovalStore, clock: Clock) => Promise<void>): Promise<void> {
  const database = await backend.fresh();
  const clock = new Clock();
  const [one, two] = [await database.open(clock.now), await database.open(clock.now)];
  try {
    await one.migrate();
    await one.createRequest(pushRequest('req-1'));
    await test(one, two, clock);
  } finally {
    await one.close();
    await two.close();
  }
}

const claim = (store: ApprovalStore, owner: string, clock: Clock, limit = 10) => store.claimDeliveries({ owner, now: clock.at, leaseMs: LEASE_MS, limit });
const ids = (deliveries: readonly { id: string }[]) => deliveries.map((d) => d.id).sort();

export function describeOutbox(backend: StoreBackend): void {
  describe(`notification outbox on ${backend.name}`, { timeout: 60_000 }, () => {
    it('a claimed delivery is leased to one replica until its lease runs out', async () => {
      await withOutbox(backend, async (one, two, clock) => {
        const queued = [delivery('req-1', clock), delivery('req-1', clock, { channel: 'slack' })];
        await one.enqueueDeliveries(queued);
        const mine = await claim(one, 'replica-1', clock);
        assert.deepEqual(ids(mine), ids(queued));
        assert.equal(mine[0]?.claimedBy, 'replica-1');
        assert.equal(mine[0]?.claimedUntil, new Date(clock.at.getTime() + LEASE_MS).toISOString());
        assert.deepEqual(await claim(two, 'replica-2', clock), [], 'leased to replica-1');

        clock.advance(LEASE_MS - 1);
        assert.deepEqual(await claim(two, 'replica-2', clock), [], 'the lease still holds');
        clock.advance(1);
        const taken = await claim(two, 'replica-2', clock, 1);
        assert.equal(taken.length, 1, 'the limit holds');
        const [lost] = taken;
        assert.ok(lost);

        // replica-1 finishes late: its attempt is logged, the delivery stays replica-2's.
        assert.equal(await one.recordDeliveryAttempt(lost.id, 'replica-1', { at: clock.at.toISOString(), outcome: 'sent', status: 200, detail: 'HTTP 200' }), false);
        assert.equal(await two.recordDeliveryAttempt(lost.id, 'replica-2', { at: clock.at.toISOString(), outcome: 'sent', status: 200, detail: 'HTTP 200' }), true);
        const [logged] = await one.listDeliveries({ requestId: 'req-1' }).then((all) => all.filter((d) => d.id === lost.id));
        assert.equal(logged?.state, 'sent');
        assert.equal(logged?.claimedBy, undefined, 'the lease is released');
        assert.deepEqual(logged?.attempts.map((a) => [a.attempt, a.outcome, a.status]), [[1, 'sent', 200], [2, 'sent', 200]]);
      });
    });

    it('a retry is due again at its time; sent and failed ones are never claimed again', async () => {
      await withOutbox(backend, async (one, _two, clock) => {
        const [retried, failed] = [delivery('req-1', clock), delivery('req-1', clock, { channel: 'email' })];
        await one.enqueueDeliveries([retried, failed]);
        await claim(one, 'replica-1', clock);
        const nextAt = new Date(clock.at.getTime() + 5000).toISOString();
        assert.equal(await one.recordDeliveryAttempt(retried.id, 'replica-1', { at: clock.at.toISOString(), outcome: 'retry', status: 500, detail: 'HTTP 500', nextAt }), true);
        assert.equal(await one.recordDeliveryAttempt(failed.id, 'replica-1', { at: clock.at.toISOString(), outcome: 'failed', status: 550, detail: '550 no such user' }), true);

        clock.advance(4999);
        assert.deepEqual(await claim(one, 'replica-1', clock), [], 'not due yet');
        clock.advance(1);
        const again = await claim(one, 'replica-1', clock);
        assert.deepEqual(ids(again), [retried.id]);
        assert.deepEqual(again[0]?.attempts.map((a) => [a.attempt, a.outcome, a.detail]), [[1, 'retry', 'HTTP 500']]);
        await one.recordDeliveryAttempt(retried.id, 'replica-1', { at: clock.at.toISOString(), outcome: 'sent', status: 200, detail: 'HTTP 200' });
        clock.advance(3600_000);
        assert.deepEqual(await claim(one, 'replica-1', clock), []);
        const states = (await one.listDeliveries()).map((d) => [d.channel, d.state, d.attempts.length]);
        assert.deepEqual(states.sort(), [['email', 'failed', 1], ['webhook', 'sent', 2]]);
      });
    });

    it('two replicas claiming the same due deliveries at once never share one', async () => {
      await withOutbox(backend, async (one, two, clock) => {
        const queued = Array.from({ length: 20 }, () => delivery('req-1', clock));
        await one.enqueueDeliveries(queued);
        const rounds = await Promise.all(Array.from({ length: 6 }, (_, n) => claim(n % 2 ? one : two, `replica-${n % 2}`, clock, 5)));
        const claimed = rounds.flat().map((d) => d.id);
        assert.equal(new Set(claimed).size, claimed.length, 'no delivery claimed twice');
        // A claim that lost a race for a row skips it: the rest are claimed by the next ones.
        for (let rest = await claim(one, 'replica-1', clock); rest.length > 0; rest = await claim(one, 'replica-1', clock)) claimed.push(...rest.map((d) => d.id));
        assert.deepEqual(claimed.sort(), ids(queued), 'each claimed exactly once');
      });
    });

    it('lists by request and refuses bad input, writing nothing', async () => {
      await withOutbox(backend, async (one, _two, clock) => {
        await one.createRequest(pushRequest('req-2', { targetRef: 'refs/heads/dev' }));
        await one.enqueueDeliveries([delivery('req-1', clock), delivery('req-2', clock)]);
        assert.deepEqual((await one.listDeliveries({ requestId: 'req-2' })).map((d) => d.requestId), ['req-2']);
        await assert.rejects(one.enqueueDeliveries([delivery('req-1', clock), delivery('req-1', clock, { channel: 'sms' as 'email' })]), failsWith('USAGE', /^delivery: 1\.channel: /));
        const [first] = await claim(one, 'replica-1', clock);
        assert.ok(first);
        await assert.rejects(one.recordDeliveryAttempt(first.id, 'replica-1', { at: clock.at.toISOString(), outcome: 'retry', detail: 'x' }), failsWith('USAGE', /nextAt: is required for a retry/));
        await assert.rejects(one.claimDeliveries({ owner: 'replica 1', now: clock.at, leaseMs: 1, limit: 1 }), failsWith('USAGE', /^delivery claim: owner: /));
        assert.equal((await one.listDeliveries()).length, 2, 'nothing half-written');
        assert.deepEqual((await one.listDeliveries()).flatMap((d) => d.attempts), []);
      });
    });
  });
}
