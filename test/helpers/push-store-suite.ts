import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import type { NewPushRequest, PushRequest } from '../../src/push/store/model.js';
import type { ApprovalStore } from '../../src/push/store/store.js';
import { MIGRATIONS } from '../../src/push/store/migrations.js';
import { failsWith } from './errors.js';

/**
 * One suite for every ApprovalStore implementation: the SQLite file and a real
 * PostgreSQL server run exactly these tests.
 */
export interface StoreDatabase {
  /** A new connection (pool) to this database: a second one stands for a second service replica. */
  open(now: () => Date): Promise<ApprovalStore>;
  /** Everything the database keeps about tokens, as text: the secret must not be in it. */
  dumpTokens(): Promise<string>;
}

export interface StoreBackend {
  name: string;
  /** An empty database of its own for one test. */
  fresh(): Promise<StoreDatabase>;
}

const T0 = new Date('2026-03-01T10:00:00.000Z');
const HOUR = 3600_000;

export class Clock {
  at = T0;
  readonly now = (): Date => this.at;
  advance(ms: number): void {
    this.at = new Date(this.at.getTime() + ms);
  }
}

const sha = (n: number): string => n.toString(16).padStart(40, 'a');

export function pushRequest(id: string, overrides: Partial<NewPushRequest> = {}): NewPushRequest {
  const createdAt = overrides.createdAt ?? T0.toISOString();
  const pusher = overrides.pusher ?? 'alice';
  const targetRef = overrides.targetRef ?? 'refs/heads/main';
  return {
    id,
    repository: 'git.example.com/acme/app',
    sourceRef: 'refs/heads/feature',
    targetRef,
    stagingRef: `refs/aibox/staging/${pusher}/${id}/${targetRef.replace(/^refs\//, '')}`,
    oldSha: sha(1),
    newSha: sha(2),
    force: false,
    pushOptions: ['ci.skip'],
    commitRange: `${sha(1)}..${sha(2)}`,
    pusher,
    createdAt,
    expiresAt: new Date(new Date(createdAt).getTime() + 48 * HOUR).toISOString(),
    ...overrides,
  };
}

const usage = (pattern: RegExp) => failsWith('USAGE', pattern);

async function withStore(backend: StoreBackend, test: (store: ApprovalStore, clock: Clock, database: StoreDatabase) => Promise<void>): Promise<void> {
  const database = await backend.fresh();
  const clock = new Clock();
  const store = await database.open(clock.now);
  try {
    await store.migrate();
    await test(store, clock, database);
  } finally {
    await store.close();
  }
}

const states = (requests: readonly PushRequest[]) => requests.map((request) => `${request.id}:${request.state}`);

export function describeApprovalStore(backend: StoreBackend): void {
  describe(`approval store on ${backend.name}`, { timeout: 60_000 }, () => {
    it('migrates once: again, and from a second replica at the same time, is a no-op', async () => {
      const database = await backend.fresh();
      const clock = new Clock();
      const [one, two] = [await database.open(clock.now), await database.open(clock.now)];
      try {
        assert.deepEqual(await Promise.all([one.migrate(), two.migrate()]), [MIGRATIONS.length, MIGRATIONS.length]);
        await one.createRequest(pushRequest('req-1'));
        assert.equal(await one.migrate(), MIGRATIONS.length);
        assert.equal(await two.migrate(), MIGRATIONS.length);
        assert.equal((await two.get('req-1'))?.state, 'pending');
      } finally {
        await one.close();
        await two.close();
      }
    });

    it('creates, gets and lists requests with their history', async () => {
      await withStore(backend, async (store) => {
        const { request, superseded } = await store.createRequest(pushRequest('req-1'));
        assert.deepEqual(superseded, []);
        assert.equal(request.state, 'pending');
        assert.deepEqual(request.history, [{ at: T0.toISOString(), state: 'pending', actor: 'alice' }]);
        assert.deepEqual(await store.get('req-1'), request);
        assert.deepEqual(request.pushOptions, ['ci.skip']);
        assert.equal(request.force, false);

        await store.createRequest(pushRequest('req-2', { pusher: 'bob', createdAt: '2026-03-01T10:01:00Z', oldSha: null, force: true, pushOptions: [], sourceRef: undefined, commitRange: undefined }));
        await store.createRequest(pushRequest('req-3', { repository: 'git.example.com/acme/other', createdAt: '2026-03-01T10:02:00+00:00', newSha: null }));
        const created = await store.get('req-2');
        assert.equal(created?.oldSha, null);
        assert.equal(created?.force, true);
        assert.equal(created?.sourceRef, undefined);
        assert.equal((await store.get('req-3'))?.createdAt, '2026-03-01T10:02:00.000Z', 'times are stored in one form');

        assert.deepEqual(states(await store.list()), ['req-1:pending', 'req-2:pending', 'req-3:pending']);
        assert.deepEqual(states(await store.list({ pusher: 'alice' })), ['req-1:pending', 'req-3:pending']);
        assert.deepEqual(states(await store.list({ repository: 'git.example.com/acme/other' })), ['req-3:pending']);
        await store.transition('req-2', ['pending'], 'approved', 'carol');
        assert.deepEqual(states(await store.list({ state: 'approved' })), ['req-2:approved']);
        assert.deepEqual(states(await store.list({ state: ['approved', 'pending'], pusher: 'alice' })), ['req-1:pending', 'req-3:pending']);
        assert.deepEqual(await store.list({ state: [] }), []);
        assert.equal(await store.get('absent-id'), undefined);
        const listed = await store.list({ pusher: 'bob' });
        assert.deepEqual(listed[0]?.history.map((event) => event.state), ['pending', 'approved']);
      });
    });

    it('refuses a second request with the same id or staging ref', async () => {
      await withStore(backend, async (store) => {
        await store.createRequest(pushRequest('req-1'));
        await assert.rejects(store.createRequest(pushRequest('req-1')), (error: unknown) => error instanceof AiboxError && error.code === 'CONFLICT' && /req-1.*already recorded/.test(error.message));
        await assert.rejects(store.createRequest({ ...pushRequest('req-9'), stagingRef: pushRequest('req-1').stagingRef }), (error: unknown) => error instanceof AiboxError && error.code === 'CONFLICT');
        assert.equal(await store.get('req-9'), undefined, 'the failed transaction left nothing');
      });
    });

    it('a new push by the same pusher to the same target supersedes the pending one, and only that', async () => {
      await withStore(backend, async (store, clock) => {
        await store.createRequest(pushRequest('approved-main', { createdAt: '2026-03-01T09:59:00Z' }));
        await store.transition('approved-main', ['pending'], 'approved', 'carol');
        await store.createRequest(pushRequest('old-main'));
        await store.createRequest(pushRequest('bob-main', { pusher: 'bob' }));
        await store.createRequest(pushRequest('old-dev', { targetRef: 'refs/heads/dev' }));
        await store.createRequest(pushRequest('old-other-repo', { repository: 'git.example.com/acme/other' }));
        clock.advance(HOUR);

        const { request, superseded } = await store.createRequest(pushRequest('new-main', { createdAt: clock.at.toISOString() }));
        assert.equal(request.state, 'pending');
        assert.deepEqual(states(superseded), ['old-main:superseded']);
        const old = await store.get('old-main');
        assert.equal(old?.supersededBy, 'new-main');
        assert.equal(old?.reason, 'superseded by new-main');
        assert.deepEqual(old?.history.at(-1), { at: clock.at.toISOString(), state: 'superseded', actor: 'alice', reason: 'superseded by new-main' });
        assert.deepEqual(states(await store.list({ state: 'pending' })), ['bob-main:pending', 'old-dev:pending', 'old-other-repo:pending', 'new-main:pending']);
        assert.equal((await store.get('approved-main'))?.state, 'approved', 'an approved request is left to its promotion');

        // A needs-rebase request is answered by the next push too.
        await store.transition('new-main', ['pending'], 'needs-rebase', 'aibox', 'main moved');
        const rebased = await store.createRequest(pushRequest('rebased-main', { createdAt: new Date(clock.at.getTime() + 60_000).toISOString() }));
        assert.deepEqual(states(rebased.superseded), ['new-main:superseded']);

        // Registered late (the helper retried while the service was down) but pushed earlier: it is the stale one.
        const late = await store.createRequest(pushRequest('late-main', { createdAt: '2026-03-01T10:30:00Z' }));
        assert.deepEqual(late.superseded, []);
        assert.equal(late.request.state, 'superseded');
        assert.equal(late.request.supersededBy, 'rebased-main');
        assert.equal((await store.get('rebased-main'))?.state, 'pending');
      });
    });

    it('transition is a compare-and-set that records who, when and why', async () => {
      await withStore(backend, async (store, clock) => {
        await store.createRequest(pushRequest('req-1'));
        clock.advance(60_000);
        const approved = await store.transition('req-1', ['pending'], 'approved', 'carol', 'looks good');
        assert.equal(approved?.state, 'approved');
        assert.equal(approved?.decidedBy, 'carol');
        assert.equal(approved?.reason, 'looks good');
        assert.deepEqual(approved?.history.at(-1), { at: clock.at.toISOString(), state: 'approved', actor: 'carol', reason: 'looks good' });
        assert.equal(await store.transition('req-1', ['pending'], 'rejected', 'dave'), undefined, 'no longer pending');
        assert.equal(await store.transition('absent-id', ['pending'], 'approved', 'carol'), undefined);
        const promoting = await store.transition('req-1', ['approved', 'promoting'], 'promoting', 'replica-1');
        assert.equal(promoting?.decidedBy, 'carol', 'only approve and reject decide');
        assert.deepEqual(promoting?.history.map((event) => event.state), ['pending', 'approved', 'promoting']);
        assert.equal((await store.get('req-1'))?.state, 'promoting');
      });
    });

    it('of two replicas promoting the same approved requests at once, exactly one wins each', async () => {
      const database = await backend.fresh();
      const clock = new Clock();
      const [one, two] = [await database.open(clock.now), await database.open(clock.now)];
      try {
        await one.migrate();
        const ids = Array.from({ length: 20 }, (_, n) => `req-${n}`);
        for (const id of ids) {
          await one.createRequest(pushRequest(id, { targetRef: `refs/heads/b${id}` }));
          await one.transition(id, ['pending'], 'approved', 'carol');
        }
        const results = await Promise.all(ids.flatMap((id) => [one.transition(id, ['approved'], 'promoting', 'replica-1'), two.transition(id, ['approved'], 'promoting', 'replica-2')]));
        for (let n = 0; n < ids.length; n++) {
          const winners = [results[2 * n], results[2 * n + 1]].filter((result) => result !== undefined);
          assert.equal(winners.length, 1, `${ids[n]}: ${winners.length} winners`);
          const history = (await two.get(ids[n] ?? ''))?.history ?? [];
          assert.deepEqual(history.map((event) => event.state), ['pending', 'approved', 'promoting'], 'promoted once');
        }
      } finally {
        await one.close();
        await two.close();
      }
    });

    it('expires pending requests when their time is up, by the injected clock', async () => {
      await withStore(backend, async (store) => {
        await store.createRequest(pushRequest('req-1'));
        await store.createRequest(pushRequest('req-2', { targetRef: 'refs/heads/dev', expiresAt: new Date(T0.getTime() + HOUR).toISOString() }));
        await store.createRequest(pushRequest('req-3', { targetRef: 'refs/heads/x' }));
        await store.transition('req-3', ['pending'], 'approved', 'carol');

        assert.deepEqual(await store.expireDue(new Date(T0.getTime() + HOUR - 1)), []);
        const first = await store.expireDue(new Date(T0.getTime() + HOUR));
        assert.deepEqual(states(first), ['req-2:expired']);
        assert.deepEqual(first[0]?.history.at(-1), { at: new Date(T0.getTime() + HOUR).toISOString(), state: 'expired', actor: 'aibox', reason: 'not approved before it expired' });
        assert.deepEqual(states(await store.expireDue(new Date(T0.getTime() + 100 * HOUR))), ['req-1:expired']);
        assert.deepEqual(await store.expireDue(new Date(T0.getTime() + 100 * HOUR)), []);
        assert.equal((await store.get('req-3'))?.state, 'approved');
      });
    });

    it('upsertFromRemote inserts a rebuilt request once; again changes nothing', async () => {
      await withStore(backend, async (store) => {
        const rebuilt: PushRequest = {
          ...pushRequest('req-1'),
          state: 'approved',
          decidedBy: 'carol',
          history: [
            { at: T0.toISOString(), state: 'pending', actor: 'alice' },
            { at: '2026-03-01T11:00:00.000Z', state: 'approved', actor: 'carol' },
          ],
        };
        assert.equal(await store.upsertFromRemote(rebuilt), true);
        assert.deepEqual(await store.get('req-1'), rebuilt);
        assert.equal(await store.upsertFromRemote({ ...rebuilt, state: 'rejected', history: [] }), false);
        assert.equal(await store.upsertFromRemote({ ...rebuilt, id: 'req-other' }), false, 'same staging ref');
        assert.deepEqual(await store.get('req-1'), rebuilt);
        assert.deepEqual(states(await store.list()), ['req-1:approved']);
      });
    });

    it('keeps tokens only hashed, verifies them, and lets them expire', async () => {
      await withStore(backend, async (store, clock, database) => {
        const dev = await store.createToken('alice', 'developer');
        const approver = await store.createToken('carol', 'team-lead', 2);
        assert.match(dev.secret, /^aibox_[A-Za-z0-9_-]{43}$/);
        assert.notEqual(dev.secret, approver.secret);
        assert.deepEqual(await store.verifyToken(dev.secret), { name: 'alice', role: 'developer' });
        assert.deepEqual(await store.verifyToken(approver.secret), { name: 'carol', role: 'team-lead' });
        assert.equal(await store.verifyToken(`${dev.secret.slice(0, -1)}${dev.secret.endsWith('A') ? 'B' : 'A'}`), undefined, 'forged');
        assert.equal(await store.verifyToken(''), undefined);
        assert.equal(await store.verifyToken("aibox_' OR 1=1 --"), undefined);

        const dump = await database.dumpTokens();
        assert.ok(dump.includes('carol'), 'the dump holds the tokens');
        for (const secret of [dev.secret, approver.secret]) {
          assert.ok(!dump.includes(secret), 'no secret in the database');
          assert.ok(!dump.includes(secret.slice(6)), 'not even without its prefix');
        }
        await assert.rejects(store.createToken('alice', 'Root Role'), usage(/token: role: /));
        await assert.rejects(store.createToken('alice', 'team-lead', 0), usage(/token: days: must be at least 1 day/));

        clock.advance(2 * 86_400_000);
        assert.deepEqual(await store.verifyToken(approver.secret), { expiredAt: approver.expiresAt });
        assert.deepEqual(await store.verifyToken(dev.secret), { name: 'alice', role: 'developer' }, 'the default lifetime is longer');
      });
    });

    it('rejects malformed input with the field, the value and the rule', async () => {
      await withStore(backend, async (store) => {
        await assert.rejects(store.createRequest(pushRequest('req-1', { newSha: 'xyz' })), usage(/^push request: newSha: must be a commit sha of 40 lowercase hex digits \(got "xyz"\)$/));
        await assert.rejects(store.createRequest(pushRequest('../etc')), usage(/^push request: id: must be 4 to 64 lowercase letters.*\(got "\.\.\/etc"\)$/));
        await assert.rejects(store.createRequest(pushRequest('req-1', { oldSha: null, newSha: null })), usage(/newSha: oldSha and newSha cannot both be null/));
        await assert.rejects(store.createRequest(pushRequest('req-1', { targetRef: 'main' })), usage(/targetRef: must be a full git ref name/));
        await assert.rejects(store.createRequest(pushRequest('req-1', { targetRef: 'refs/heads/a..b' })), usage(/targetRef: must be a full git ref name/));
        await assert.rejects(store.createRequest({ ...pushRequest('req-1'), createdAt: 'yesterday' }), usage(/createdAt: .*\(got "yesterday"\)/));
        await assert.rejects(store.createRequest(pushRequest('req-1', { expiresAt: T0.toISOString() })), usage(/expiresAt: must be later than createdAt/));
        await assert.rejects(store.createRequest({ ...pushRequest('req-1'), pusher: 'alice smith' }), usage(/pusher: must be 1 to 128 characters without spaces/));
        await assert.rejects(store.createRequest(pushRequest('req-1', { pushOptions: ['a\nb'] })), usage(/pushOptions\.0: must not contain a newline/));
        await assert.rejects(store.get('NOT AN ID'), usage(/^push request id: must be/));
        await assert.rejects(store.transition('req-1', ['pending'], 'merged' as 'promoted', 'carol'), usage(/^state change: to: /));
        await assert.rejects(store.transition('req-1', [], 'approved', 'carol'), usage(/^state change: from: must name at least one state/));
        await assert.rejects(store.list({ state: 'open' as 'pending' }), usage(/^push request filter: state/));
        await assert.rejects(store.expireDue(new Date('nonsense')), usage(/now must be a valid Date/));
        assert.deepEqual(await store.list(), [], 'nothing was written');
      });
    });
  });
}
