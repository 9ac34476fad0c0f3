import assert from 'node:assert/strict';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadChanges } from '../../src/push/dashboard/changes.js';
import { escapeHtml, html } from '../../src/push/dashboard/html.js';
import { listPage, loginPage } from '../../src/push/dashboard/pages.js';
import { requestPage, type RequestView } from '../../src/push/dashboard/request-page.js';
import { cookie, csrfFor, issueSession, loadSessionKey, parseCookies, readSession, sameSecret, SESSION_TTL_MS } from '../../src/push/dashboard/session.js';
import type { CommitInfo, ReviewGit } from '../../src/push/service/review-git.js';
import { PushRequest } from '../../src/push/store/index.js';
import { pushRequest } from '../helpers/push-store-suite.js';

const NOW = new Date('2026-11-27T13:00:00Z');
const ATTACK = `<script>alert(1)</script><img src=x onerror="alert(2)">'`;
const sha = (n: number) => n.toString(16).padStart(40, '0');

function request(overrides: Partial<PushRequest> = {}): PushRequest {
  const base = pushRequest('req-1', { url: 'https://git.example.com/acme/app', createdAt: '2026-11-27T12:00:00.000Z', oldSha: sha(1), newSha: sha(2), commitRange: `${sha(1)}..${sha(2)}` });
  return PushRequest.parse({ ...base, state: 'pending', history: [{ at: base.createdAt, state: 'pending', actor: 'alice' }], ...overrides });
}

const commit = (message: string): CommitInfo => ({ sha: sha(2), author: 'Alice <alice@example.com>', date: '2026-11-27T12:00:00+00:00', message });
const viewer = { name: 'carol', role: 'team-lead', csrf: 'csrf-token-of-carol' };

function view(overrides: Partial<RequestView> = {}): RequestView {
  return { viewer, request: request(), changes: { kind: 'update', commits: [commit('Fix it')], moreCommits: false, diff: { text: '', truncated: false } }, now: NOW, canDecide: true, ...overrides };
}

describe('dashboard HTML', () => {
  it('escapes the five characters that matter, in text and in quoted attributes', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    assert.equal(html`<p title="${'" onmouseover="x'}">${ATTACK}</p>`.text, `<p title="&quot; onmouseover=&quot;x">${escapeHtml(ATTACK)}</p>`);
  });

  it('keeps what the tag built, joins lists and drops empty values', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`${inner}|${['<', html`<br>`, 2]}|${undefined}${null}${false}`.text, '<b>&lt;i&gt;</b>|&lt;<br>2|');
  });

  it('renders attacker text of a request (message, diff, reason, push options) only as text', () => {
    const page = requestPage(
      view({
        request: request({ state: 'needs-rebase', reason: ATTACK, pushOptions: [ATTACK] }),
        changes: { kind: 'update', commits: [commit(`Subject ${ATTACK}`)], moreCommits: false, diff: { text: `+${ATTACK}\n-old`, truncated: false } },
      }),
    );
    assert.equal(page.includes('<script'), false);
    assert.equal(page.includes('<img'), false);
    assert.ok(page.includes(`Subject ${escapeHtml(ATTACK)}`));
    assert.ok(page.includes(`<span class="add">+${escapeHtml(ATTACK)}</span>`));
    assert.ok(page.includes('<span class="del">-old</span>'));
    assert.match(page, /role="status">Approved, but it needs a rebase: &lt;script&gt;/);
  });

  it('shows the decision forms with the CSRF token only when the viewer may decide', () => {
    const open = requestPage(view());
    assert.equal(open.match(/<input type="hidden" name="csrf" value="csrf-token-of-carol">/g)?.length, 3, 'logout, approve, reject');
    assert.match(open, /action="\/dashboard\/requests\/req-1\/approve"/);
    assert.match(open, /action="\/dashboard\/requests\/req-1\/reject"/);
    const readOnly = requestPage(view({ viewer: { ...viewer, name: 'alice', role: 'developer' }, canDecide: false }));
    assert.doesNotMatch(readOnly, /\/approve"|\/reject"/);
    const own = requestPage(view({ canDecide: false, whyNot: `You pushed this <b>` }));
    assert.match(own, /<p class="hint">You pushed this &lt;b&gt;<\/p>/);
    assert.doesNotMatch(own, /\/approve"/);
    const retry = requestPage(view({ request: request({ state: 'approved' }) }));
    assert.match(retry, /\/approve"/);
    assert.doesNotMatch(retry, /\/reject"/, 'an approved request is only promoted, not rejected');
  });

  it('says what a deletion drops, and when the commit list or the diff is cut', () => {
    const deletion = requestPage(view({ request: request({ newSha: null }), changes: { kind: 'delete', commits: [commit('Tip')], moreCommits: false } }));
    assert.match(deletion, /Deletes refs\/heads\/main; the commit it points at/);
    assert.doesNotMatch(deletion, /id="diff"/);
    const cut = requestPage(view({ changes: { kind: 'update', commits: [], moreCommits: true, diff: { text: '+x', truncated: true } } }));
    assert.match(cut, /More than 100 commits: only the newest 100 are listed/);
    assert.match(cut, /The diff is longer than 512 KB: cut there/);
  });

  it('lists requests escaped, with a developer told the list is their own', () => {
    const page = listPage({ ...viewer, role: 'developer' }, [request({ pusher: 'alice', repository: 'git.example.com/<b>' })], NOW, false);
    assert.match(page, /Your own pushes/);
    assert.match(page, /<td>git\.example\.com\/&lt;b&gt;<\/td>/);
    assert.match(page, /<time datetime="2026-11-27T12:00:00.000Z" title="2026-11-27T12:00:00.000Z">60 min ago<\/time>/);
    assert.match(page, /<time datetime="2026-11-29T12:00:00.000Z"[^>]*>in 47 h<\/time>/);
    assert.match(listPage(viewer, [], NOW, false), /Nothing is waiting for a decision/);
  });

  it('has a login form without script and with its CSRF field', () => {
    const page = loginPage('login-csrf', 'That token is not valid.');
    assert.match(page, /<input type="hidden" name="csrf" value="login-csrf">/);
    assert.match(page, /<label for="token">API token<\/label>/);
    assert.match(page, /role="alert">That token is not valid\./);
    assert.doesNotMatch(page, /<script/);
  });
});

describe('dashboard sessions', () => {
  const key = Buffer.alloc(32, 7);
  const carol = { name: 'carol', role: 'team-lead' };

  it('reads back what it issued, with a CSRF token of its own', () => {
    const value = issueSession(key, carol, NOW);
    const session = readSession(key, value, NOW);
    assert.deepEqual([session?.name, session?.role, session?.expiresAt.getTime()], ['carol', 'team-lead', NOW.getTime() + SESSION_TTL_MS]);
    const other = readSession(key, issueSession(key, carol, NOW), NOW);
    assert.ok(session && other && session.csrf !== other.csrf, 'two logins, two CSRF tokens');
    assert.equal(readSession(key, value, NOW)?.csrf, session.csrf, 'stable within a session');
  });

  it('refuses a forged, re-signed, malformed or expired session', () => {
    const value = issueSession(key, { name: 'alice', role: 'developer' }, NOW);
    const [body = ''] = value.split('.');
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const promoted = Buffer.from(JSON.stringify({ ...payload, r: 'team-lead' })).toString('base64url');
    assert.equal(readSession(key, `${promoted}.${value.split('.')[1]}`, NOW), undefined, 'a changed role breaks the signature');
    assert.equal(readSession(Buffer.alloc(32, 8), value, NOW), undefined, 'another key');
    for (const bad of [undefined, '', 'x', `${value}.x`, `${body}.`, '.abc']) assert.equal(readSession(key, bad, NOW), undefined, String(bad));
    assert.equal(readSession(key, value, new Date(NOW.getTime() + SESSION_TTL_MS)), undefined, 'expired');
  });

  it('compares secrets in constant time, refusing empty ones', () => {
    const token = csrfFor(key, 'nonce');
    assert.equal(sameSecret(token, token), true);
    assert.equal(sameSecret(token, `${token}x`), false);
    assert.equal(sameSecret(token, ''), false);
    assert.equal(sameSecret('', ''), false);
  });

  it('writes HttpOnly, SameSite=Strict cookies, Secure over https, and reads them back', () => {
    assert.equal(cookie('a', 'v', { secure: false, maxAgeS: 60 }), 'a=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60');
    assert.equal(cookie('a', '', { secure: true, maxAgeS: 0 }), 'a=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure');
    assert.deepEqual([...parseCookies('a=1; b = x.y= ;junk')], [['a', '1'], ['b', 'x.y=']]);
  });

  it('makes the key once, 32 bytes, mode 0600, and refuses a damaged one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-dashboard-key-'));
    const key1 = await loadSessionKey(dir);
    assert.equal(key1.length, 32);
    assert.equal((await stat(join(dir, 'dashboard.key'))).mode & 0o777, 0o600);
    assert.deepEqual(await loadSessionKey(dir), key1, 'kept across restarts');
    await writeFile(join(dir, 'dashboard.key'), 'short');
    await assert.rejects(loadSessionKey(dir), (error: Error & { code?: string }) => error.code === 'INVALID_FILE' && /expected 32 bytes, found 5/.test(error.message));
  });
});

/** A ReviewGit with a set of present commits; a fetch of a listed ref brings its commits. */
function fakeReview(present: string[], remote: Record<string, string[]>): ReviewGit & { calls: string[] } {
  const have = new Set(present);
  const calls: string[] = [];
  return {
    calls,
    missing: async (shas) => shas.filter((s) => !have.has(s)),
    fetchCommits: async (_url, ref) => {
      calls.push(`fetch ${ref}`);
      for (const s of remote[ref] ?? []) have.add(s);
      return ref in remote;
    },
    log: async (head, exclude, max) => (calls.push(`log ${head} ${exclude} ${max}`), { commits: [commit('m')], more: false }),
    diff: async (base, head) => (calls.push(`diff ${base} ${head}`), { text: '+x', truncated: false }),
  };
}

describe('loading the changes of a request', () => {
  it('fetches the staging ref only when the commits are missing, then logs and diffs old..new', async () => {
    const git = fakeReview([], { 'refs/aibox/staging/alice/req-1/heads/main': [sha(1), sha(2)] });
    const changes = await loadChanges(git, request());
    assert.deepEqual(git.calls, ['fetch refs/aibox/staging/alice/req-1/heads/main', `log ${sha(2)} ${sha(1)} 100`, `diff ${sha(1)} ${sha(2)}`]);
    assert.equal(changes.kind, 'update');
    const cached = fakeReview([sha(1), sha(2)], {});
    await loadChanges(cached, request());
    assert.equal(cached.calls.some((call) => call.startsWith('fetch')), false, 'nothing fetched when present');
  });

  it('shows a new branch as its staged commit alone, a deletion as the commit it drops', async () => {
    const created = fakeReview([sha(2)], {});
    assert.equal((await loadChanges(created, request({ oldSha: null }))).kind, 'create');
    assert.deepEqual(created.calls, [`log ${sha(2)} null 1`, `diff null ${sha(2)}`]);
    const deleted = fakeReview([sha(1)], {});
    const changes = await loadChanges(deleted, request({ newSha: null }));
    assert.deepEqual([changes.kind, changes.diff, deleted.calls], ['delete', undefined, [`log ${sha(1)} null 1`]]);
  });

  it('says so when the staged commit is gone, and falls back to the staged commit when the old one is', async () => {
    const gone = await loadChanges(fakeReview([], {}), request());
    assert.match(gone.note ?? '', /no longer on the remote/);
    const forced = fakeReview([sha(2)], {});
    const changes = await loadChanges(forced, request());
    assert.deepEqual(forced.calls, ['fetch refs/aibox/staging/alice/req-1/heads/main', 'fetch refs/heads/main', `log ${sha(2)} null 1`, `diff null ${sha(2)}`]);
    assert.match(changes.note ?? '', /old commit .* is not on the remote any more/);
  });
});
