import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runProcess } from '../../src/core/runner.js';
import { dashboardHandler } from '../../src/push/dashboard/routes.js';
import type { PromotionGit } from '../../src/push/service/git.js';
import { reviewGit, type ReviewGit } from '../../src/push/service/review-git.js';
import { createApprovalServer } from '../../src/push/service/http.js';
import type { ServiceDeps } from '../../src/push/service/requests.js';
import { openSqliteStore } from '../../src/push/store/sqlite.js';
import type { ApprovalStore } from '../../src/push/store/index.js';
import { pushRequest } from '../helpers/push-store-suite.js';

/**
 * The dashboard's routes in-process: a real SQLite store and node:http server,
 * git faked (the e2e test drives a real remote). What is checked here is who may
 * post what: the login form's nonce, each session's CSRF token, the roles.
 */

const sha = (n: number) => n.toString(16).padStart(40, '0');
const NOW = new Date('2026-11-27T12:30:00Z');

describe('dashboard routes', () => {
  let store: ApprovalStore;
  let site: string;
  let close: () => void;
  const gitCalls: string[] = [];
  const tokens: Record<string, string> = {};

  /** A remote where main is at sha(1) and every staging ref at sha(2). */
  const git: PromotionGit = {
    remoteSha: async (_url, ref) => (ref === 'refs/heads/main' ? sha(1) : sha(2)),
    fetchRef: async () => sha(2),
    contains: async () => false,
    merge: async () => undefined,
    promote: async (step) => (gitCalls.push(`promote ${step.targetRef}`), { ok: true, detail: '' }),
    deleteRef: async (_url, ref) => void gitCalls.push(`delete ${ref}`),
    stagingRefs: async () => [],
  };
  const reviewFake: ReviewGit = { missing: async () => [], fetchCommits: async () => true, log: async () => ({ commits: [], more: false }), diff: async () => ({ text: '', truncated: false }) };

  async function open(id: string): Promise<void> {
    await store.createRequest(pushRequest(id, { url: 'https://git.example.com/acme/app', createdAt: '2026-11-27T12:00:00.000Z', oldSha: sha(1), newSha: sha(2), commitRange: undefined }));
  }

  async function post(path: string, cookie: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${site}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
  }

  /** The login form's cookie and CSRF field, as a browser would get them. */
  async function loginForm(): Promise<{ cookie: string; csrf: string }> {
    const page = await fetch(`${site}/dashboard/login`);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    return { cookie, csrf };
  }

  /** Logs in; returns the session cookie and the session's CSRF token. */
  async function logIn(who: string): Promise<{ cookie: string; csrf: string }> {
    const form = await loginForm();
    const response = await post('/dashboard/login', form.cookie, { csrf: form.csrf, token: tokens[who] ?? '' });
    assert.equal(response.status, 303);
    const cookie = response.headers.getSetCookie().find((value) => value.startsWith('aibox_session='))?.split(';')[0] ?? '';
    const csrf = /name="csrf" value="([^"]+)"/.exec(await (await fetch(`${site}/dashboard/`, { headers: { cookie } })).text())?.[1] ?? '';
    return { cookie, csrf };
  }

  const stateOf = async (id: string) => (await store.get(id))?.state;

  before(async () => {
    store = await openSqliteStore(join(await mkdtemp(join(tmpdir(), 'aibox-dashboard-')), 'approvals.db'));
    await store.migrate();
    for (const [name, role] of [['alice', 'developer'], ['carol', 'team-lead'], ['dave', 'security']] as const) tokens[name] = (await store.createToken(name, role)).secret;
    const review = () => ({ approvers: ['team-lead'], merge: false, rule: 'tools.git_push' });
    const service: ServiceDeps = { store, git, now: () => NOW, ttlMs: 48 * 3600_000, review, promotionTimeoutMs: 60_000 };
    const server = createApprovalServer(service, dashboardHandler({ service, review: reviewFake, key: Buffer.alloc(32, 1) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    site = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });

  after(async () => {
    close();
    await store.close();
  });

  it('routes / and /dashboard/ to the dashboard and leaves /v1 to the JSON API', async () => {
    const root = await fetch(`${site}/`, { redirect: 'manual' });
    assert.deepEqual([root.status, root.headers.get('location')], [303, '/dashboard/']);
    const list = await fetch(`${site}/dashboard/`, { redirect: 'manual' });
    assert.deepEqual([list.status, list.headers.get('location')], [303, '/dashboard/login']);
    const api = await fetch(`${site}/v1/requests`);
    assert.deepEqual([api.status, api.headers.get('content-type')], [401, 'application/json']);
    const css = await fetch(`${site}/dashboard/style.css`);
    assert.deepEqual([css.status, css.headers.get('content-type'), css.headers.get('x-content-type-options')], [200, 'text/css; charset=utf-8', 'nosniff']);
  });

  it('logs in only through its own login form, and never with a wrong token', async () => {
    const form = await loginForm();
    const noNonce = await post('/dashboard/login', '', { csrf: form.csrf, token: tokens.carol ?? '' });
    assert.equal(noNonce.status, 403, 'a form posted from elsewhere has no login cookie');
    assert.equal(noNonce.headers.getSetCookie().some((value) => value.startsWith('aibox_session=')), false);
    const wrong = await post('/dashboard/login', form.cookie, { csrf: form.csrf, token: `aibox_${'B'.repeat(43)}` });
    assert.equal(wrong.status, 401);
    assert.doesNotMatch(await wrong.text(), /BBBB/, 'the token is not echoed');
    const ok = await post('/dashboard/login', form.cookie, { csrf: form.csrf, token: tokens.carol ?? '' }, { 'x-forwarded-proto': 'https' });
    assert.equal(ok.status, 303);
    const session = ok.headers.getSetCookie().find((value) => value.startsWith('aibox_session=')) ?? '';
    assert.match(session, /; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
    assert.equal(session.includes(tokens.carol ?? '?'), false);
  });

  it('refuses a POST without the session CSRF token, or another session\'s, before doing anything', async () => {
    await open('csrf-1');
    const carol = await logIn('carol');
    const alice = await logIn('alice');
    for (const csrf of ['', alice.csrf, `${carol.csrf}x`]) {
      const response = await post('/dashboard/requests/csrf-1/approve', carol.cookie, { csrf });
      assert.equal(response.status, 403);
      assert.match(await response.text(), /CSRF token is missing or wrong/);
    }
    assert.equal((await post('/dashboard/requests/csrf-1/approve', '', { csrf: carol.csrf })).status, 403, 'no session');
    assert.equal(await stateOf('csrf-1'), 'pending');
    assert.deepEqual(gitCalls, []);
    const approved = await post('/dashboard/requests/csrf-1/approve', carol.cookie, { csrf: carol.csrf });
    assert.deepEqual([approved.status, approved.headers.get('location')], [303, '/dashboard/requests/csrf-1']);
    assert.equal(await stateOf('csrf-1'), 'promoted');
    assert.deepEqual(gitCalls.splice(0), ['promote refs/heads/main']);
  });

  it('holds the domain rules: a developer or a role the policy does not name cannot decide, a reason is required; errors are pages without a stack', async () => {
    await open('rules-1');
    const dave = await logIn('dave');
    const page1 = await (await fetch(`${site}/dashboard/requests/rules-1`, { headers: { cookie: dave.cookie } })).text();
    assert.match(page1, /Deciding pushes to git\.example\.com\/acme\/app needs the role team-lead \(tools\.git_push\); you have security\./);
    assert.doesNotMatch(page1, /\/approve"/, 'no buttons for a role the policy does not name');
    assert.equal((await post('/dashboard/requests/rules-1/approve', dave.cookie, { csrf: dave.csrf })).status, 403);
    const alice = await logIn('alice');
    const denied = await post('/dashboard/requests/rules-1/approve', alice.cookie, { csrf: alice.csrf });
    const page = await denied.text();
    assert.equal(denied.status, 403);
    assert.match(page, /<title>Not allowed[^]*role="alert">[^<]*alice[^<]*<\/p>/, 'the domain\'s reason, naming the caller');
    assert.doesNotMatch(page, /\n\s+at /);
    const carol = await logIn('carol');
    const noReason = await post('/dashboard/requests/rules-1/reject', carol.cookie, { csrf: carol.csrf, reason: '' });
    assert.equal(noReason.status, 400);
    assert.match(await noReason.text(), /reject: reason: must say why/);
    assert.equal(await stateOf('rules-1'), 'pending');
    const missing = await fetch(`${site}/dashboard/requests/no-such-request`, { headers: { cookie: carol.cookie } });
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^text\/html/);
    const logout = await post('/dashboard/logout', carol.cookie, { csrf: carol.csrf });
    assert.deepEqual([logout.status, logout.headers.get('location')], [303, '/dashboard/login']);
    assert.match(logout.headers.get('set-cookie') ?? '', /^aibox_session=; .*Max-Age=0/);
  });
});

describe('reviewGit against a real repository', () => {
  it('fetches a ref without writing it, lists commits with a limit and cuts a long diff', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-review-'));
    const remote = join(dir, 'remote');
    const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com' };
    const git = (...args: string[]) => execFileSync('git', args, { cwd: remote, env, encoding: 'utf8' }).trim();
    execFileSync('git', ['init', '-q', '-b', 'main', remote]);
    await writeFile(join(remote, 'f'), 'base\n');
    git('add', 'f');
    git('commit', '-q', '-m', 'base');
    const base = git('rev-parse', 'HEAD');
    for (const n of [1, 2, 3]) {
      await writeFile(join(remote, 'f'), `${'x'.repeat(100)}\n`.repeat(n * 10));
      git('commit', '-q', '-am', `change ${n}\n\nbody <${n}>`);
    }
    const head = git('rev-parse', 'HEAD');
    git('update-ref', 'refs/aibox/staging/alice/20261127T120000Z/heads/main', head);

    const review = reviewGit(runProcess, join(dir, 'scratch.git'));
    assert.deepEqual(await review.missing([base, head]), [base, head]);
    assert.equal(await review.fetchCommits(remote, 'refs/aibox/staging/alice/nothing/heads/main'), false);
    assert.equal(await review.fetchCommits(remote, 'refs/aibox/staging/alice/20261127T120000Z/heads/main'), true);
    assert.deepEqual(await review.missing([base, head]), []);
    assert.equal(execFileSync('git', ['for-each-ref'], { cwd: join(dir, 'scratch.git'), encoding: 'utf8' }), '', 'no ref written');

    const log = await review.log(head, base, 2);
    assert.deepEqual([log.commits.map((c) => c.message), log.more], [['change 3\n\nbody <3>', 'change 2\n\nbody <2>'], true]);
    assert.deepEqual([log.commits[0]?.sha, log.commits[0]?.author], [head, 'A <a@example.com>']);
    assert.equal((await review.log(head, base, 3)).more, false);
    assert.deepEqual((await review.log(head, null, 5)).commits.length, 1, 'no base: the commit alone');

    const whole = await review.diff(base, head, 1 << 20);
    assert.match(whole.text, /^diff --git a\/f b\/f\n/);
    assert.equal(whole.truncated, false);
    const cut = await review.diff(base, head, 200);
    assert.deepEqual([Buffer.byteLength(cut.text), cut.truncated], [200, true]);
    const alone = (await review.diff(null, head, 1 << 20)).text;
    assert.equal(alone.match(/^\+x{100}$/gm)?.length, 10, 'no base: against its parent (20 lines to 30)');
  });
});
