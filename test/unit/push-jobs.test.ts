/**
 * The service's background jobs with an injected clock: a real SQLite store,
 * the remote faked as a map of refs (test/e2e/push-recovery.test.ts runs them
 * against a real remote and real crashes).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PromotionGit } from '../../src/push/service/git.js';
import { runJobs } from '../../src/push/service/jobs.js';
import { DEFAULT_TTL_MS, type ServiceDeps } from '../../src/push/service/requests.js';
import { stagingRef } from '../../src/push/staging.js';
import { openSqliteStore } from '../../src/push/store/sqlite.js';
import type { PushEvent } from '../../src/push/notify/index.js';

const URL = 'git://git.example.com/acme/app.git';
const REPO = 'git.example.com/acme/app';
const sha = (n: number) => n.toString(16).padStart(40, '0');
const T0 = new Date('2026-11-27T12:00:00Z');

/** A remote as a map of ref → sha; pushes move refs as git would. */
function fakeRemote(refs: Map<string, string>): PromotionGit {
  return {
    remoteSha: async (_url, ref) => refs.get(ref),
    fetchRef: async (_url, ref) => refs.get(ref) ?? assert.fail(`no ${ref}`),
    contains: async (commit, ancestor) => commit === ancestor,
    merge: async () => undefined,
    promote: async (step) => {
      if (refs.get(step.targetRef) !== (step.oldSha ?? undefined)) return { ok: false, detail: 'stale info' };
      if (step.source) refs.set(step.targetRef, step.source);
      refs.delete(step.stagingRef);
      return { ok: true, detail: '' };
    },
    deleteRef: async (_url, ref) => void refs.delete(ref),
    stagingRefs: async () => [...refs].filter(([ref]) => ref.includes('/aibox/staging/')).map(([ref, commit]) => ({ ref, sha: commit })),
  };
}

async function setup() {
  let now = T0;
  const store = await openSqliteStore(join(await mkdtemp(join(tmpdir(), 'aibox-jobs-')), 'approvals.db'), { now: () => now });
  await store.migrate();
  const refs = new Map([['refs/heads/main', sha(1)]]);
  const events: PushEvent[] = [];
  const deps: ServiceDeps = {
    store,
    git: fakeRemote(refs),
    now: () => now,
    ttlMs: DEFAULT_TTL_MS,
    review: () => ({ approvers: ['team-lead'], merge: false, rule: 'tools.git_push' }),
    promotionTimeoutMs: 60_000,
    notify: async (event) => void events.push(event),
  };
  return { store, refs, events, deps, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('the approval service background jobs', () => {
  it('register a staging ref the index lacks, expire it after expire_after (removing its ref, telling the developer), and clean up', async () => {
    const { store, refs, events, deps, advance } = await setup();
    const ref = stagingRef('refs', 'alice', T0, 'refs/heads/main');
    refs.set(ref, sha(2));

    const first = await runJobs(deps, [URL]);
    assert.deepEqual(first.registered, [ref]);
    const [request] = await store.list();
    assert.deepEqual([request?.state, request?.pusher, request?.repository, request?.oldSha, request?.newSha], ['pending', 'alice', REPO, sha(1), sha(2)]);
    assert.deepEqual((await runJobs(deps, [URL])).registered, [], 'registered once');

    advance(DEFAULT_TTL_MS - 1000);
    assert.deepEqual((await runJobs(deps, [])).expired, [], 'not yet');
    advance(1000);
    const expiring = await runJobs(deps, []);
    assert.deepEqual(expiring.expired.map((expired) => expired.id), [request?.id]);
    assert.equal(refs.has(ref), false, 'its staging ref is removed');
    assert.deepEqual(events.map((event) => event.kind), ['expired']);
    assert.deepEqual(expiring.problems, []);
  });

  it('resume a promotion stuck past promotion_timeout, and only then', async () => {
    const { store, refs, deps, advance } = await setup();
    const ref = stagingRef('refs', 'bob', T0, 'refs/heads/main');
    refs.set(ref, sha(3));
    await runJobs(deps, [URL]);
    const [request] = await store.list();
    await store.transition(request?.id ?? '', ['pending'], 'approved', 'carol');
    await store.transition(request?.id ?? '', ['approved'], 'promoting', 'carol');

    advance(30_000);
    assert.deepEqual((await runJobs(deps, [])).resumed, [], 'young: its approve call may still be at it');
    assert.equal(refs.get('refs/heads/main'), sha(1));
    advance(31_000);
    assert.deepEqual((await runJobs(deps, [])).resumed, [request?.id]);
    assert.equal(refs.get('refs/heads/main'), sha(3));
    assert.equal((await store.get(request?.id ?? ''))?.state, 'promoted');
    assert.equal(refs.has(ref), false);
  });

  it('a remote it cannot read is one problem line, and the rest still runs', async () => {
    const { deps } = await setup();
    const report = await runJobs(deps, ['not a url']);
    assert.equal(report.problems.length, 1);
    assert.match(report.problems[0] ?? '', /^not a url: not a repository URL/);
  });
});
