import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Channel, SendResult } from '../../src/push/notify/channel.js';
import { createDispatcher } from '../../src/push/notify/dispatcher.js';
import type { PushEvent } from '../../src/push/notify/event.js';
import { outboxWriter, type NotifyLog } from '../../src/push/notify/outbox.js';
import type { ApprovalStore, ChannelName } from '../../src/push/store/index.js';
import { openSqliteStore } from '../../src/push/store/sqlite.js';
import { Clock, pushRequest } from '../helpers/push-store-suite.js';

/** A channel that answers from a script of results, and remembers what it was asked to send. */
function scriptedChannel(name: ChannelName, script: (SendResult | Error)[], accepts = true): Channel & { sent: string[] } {
  const sent: string[] = [];
  return {
    name,
    sent,
    accepts: () => accepts,
    async send(event, deliveryId) {
      sent.push(`${event.kind}:${deliveryId}`);
      const next = script.shift() ?? { ok: true, detail: 'ok' };
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

function memoryLog(): NotifyLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (line) => lines.push(`info: ${line}`), warn: (line) => lines.push(`warn: ${line}`) };
}

async function fixture(): Promise<{ store: ApprovalStore; clock: Clock; event: PushEvent }> {
  const clock = new Clock();
  const store = await openSqliteStore(join(await mkdtemp(join(tmpdir(), 'aibox-notify-')), 'approvals.db'), { now: clock.now });
  await store.migrate();
  const { request } = await store.createRequest(pushRequest('req-1'));
  return { store, clock, event: { kind: 'pending', request, at: clock.at.toISOString() } };
}

const RETRY = { firstDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 3 };
const serverError: SendResult = { ok: false, retryable: true, status: 500, detail: 'HTTP 500' };

describe('notification dispatch', () => {
  it('retries with backoff until delivered, logging every attempt', async () => {
    const { store, clock, event } = await fixture();
    const webhook = scriptedChannel('webhook', [serverError, new Error('socket hang up'), { ok: true, status: 200, detail: 'HTTP 200' }]);
    const log = memoryLog();
    const dispatcher = createDispatcher({ store, channels: [webhook], retry: RETRY, owner: 'replica-1', leaseMs: 60_000, now: clock.now, random: () => 0.5, log });
    await outboxWriter(store, [webhook], log, () => undefined)(event);

    await dispatcher.tick();
    assert.equal(webhook.sent.length, 1);
    await dispatcher.tick();
    assert.equal(webhook.sent.length, 1, 'not due again before its backoff');
    clock.advance(1000);
    await dispatcher.tick();
    clock.advance(4999);
    await dispatcher.tick();
    assert.equal(webhook.sent.length, 2, 'the second backoff is five times the first');
    clock.advance(1);
    await dispatcher.tick();
    await dispatcher.stop();

    const [delivery] = await store.listDeliveries();
    assert.equal(delivery?.state, 'sent');
    assert.deepEqual(delivery?.attempts.map((a) => [a.outcome, a.status, a.detail]), [['retry', 500, 'HTTP 500'], ['retry', undefined, 'socket hang up'], ['sent', 200, 'HTTP 200']]);
    assert.deepEqual(new Set(webhook.sent), new Set([`pending:${delivery?.id}`]), 'the same delivery id on every attempt');
    assert.equal(log.lines.filter((line) => line.startsWith('warn:')).length, 2);
    assert.match(log.lines.at(-1) ?? '', /^info: webhook notification .* \(pending, request req-1\) sent: HTTP 200$/);
    await store.close();
  });

  it('gives up after the last attempt, and at once when retrying cannot help; honours Retry-After', async () => {
    const { store, clock, event } = await fixture();
    const slack = scriptedChannel('slack', [serverError, serverError, serverError]);
    const email = scriptedChannel('email', [{ ok: false, retryable: false, status: 550, detail: '550 5.1.1 no such user' }]);
    const webhook = scriptedChannel('webhook', [{ ok: false, retryable: true, status: 429, detail: 'HTTP 429', retryAfterMs: 30_000 }]);
    const dispatcher = createDispatcher({ store, channels: [slack, email, webhook], retry: RETRY, owner: 'replica-1', leaseMs: 60_000, now: clock.now, random: () => 0.5, log: memoryLog() });
    await outboxWriter(store, [slack, email, webhook], memoryLog(), () => undefined)(event);
    for (let step = 0; step < 6; step++) {
      await dispatcher.tick();
      clock.advance(5000);
    }
    assert.equal(webhook.sent.length, 1, 'Retry-After (30 s) is longer than the backoff');
    clock.advance(30_000);
    await dispatcher.tick();
    await dispatcher.stop();
    const byChannel = Object.fromEntries((await store.listDeliveries()).map((d) => [d.channel, [d.state, d.attempts.length]]));
    assert.deepEqual(byChannel, { slack: ['failed', 3], email: ['failed', 1], webhook: ['sent', 2] });
    await store.close();
  });

  it('two dispatchers on one database send each notification once', async () => {
    const { store, clock, event } = await fixture();
    const [one, two] = [scriptedChannel('webhook', []), scriptedChannel('webhook', [])];
    const options = { store, retry: RETRY, leaseMs: 60_000, now: clock.now, random: () => 0.5, log: memoryLog() };
    const dispatchers = [createDispatcher({ ...options, channels: [one], owner: 'replica-1' }), createDispatcher({ ...options, channels: [two], owner: 'replica-2', concurrency: 1 })];
    const writer = outboxWriter(store, [one], memoryLog(), () => undefined);
    for (let n = 0; n < 10; n++) await writer(event);
    await Promise.all([...dispatchers, ...dispatchers].map((dispatcher) => dispatcher.tick()));
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.tick()));
    const sent = [...one.sent, ...two.sent];
    assert.equal(sent.length, 10);
    assert.equal(new Set(sent).size, 10);
    await Promise.all(dispatchers.map((dispatcher) => dispatcher.stop()));
    await store.close();
  });

  it('queuing never throws into the request path: a failing store is logged', async () => {
    const { store, event } = await fixture();
    await store.close();
    const log = memoryLog();
    let kicked = false;
    await outboxWriter(store, [scriptedChannel('slack', [])], log, () => (kicked = true))(event);
    assert.equal(kicked, false);
    assert.match(log.lines[0] ?? '', /^warn: notifications of pending for request req-1 were not queued: /);
  });

  it('queues only for channels that have someone to tell', async () => {
    const { store, event } = await fixture();
    let kicks = 0;
    await outboxWriter(store, [scriptedChannel('slack', []), scriptedChannel('email', [], false)], memoryLog(), () => kicks++)(event);
    assert.deepEqual((await store.listDeliveries({ requestId: 'req-1' })).map((d) => [d.channel, d.kind, d.state]), [['slack', 'pending', 'pending']]);
    assert.equal(kicks, 1);
    await store.close();
  });
});
