/**
 * The approval service for real: `aibox approvals serve` on loopback with a SQLite
 * file, real HTTP calls, and a real remote (`git daemon` with pushes enabled) holding
 * real staging refs. Approve promotes the staged commit onto the target with a lease;
 * reject and cancel delete the staging ref; nobody approves their own push.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { requestId, stagingRef } from '../../src/push/staging.js';
import { AIBOX, freePort, testUser, type TestUser } from '../helpers/cli.js';

/** The built command, as users run it (better-sqlite3 is loaded from node_modules at run time). */
const CLI = AIBOX;

interface ApiRequest {
  id: string;
  state: string;
  pusher: string;
  reason?: string;
  decidedBy?: string;
  history: { state: string; actor: string; reason?: string }[];
}

describe('aibox approvals serve: register, approve, reject, cancel against a real remote', { timeout: 3 * 60_000 }, () => {
  let user: TestUser;
  let daemon: ChildProcess;
  let service: ChildProcess;
  let serviceLog = '';
  let base: string;
  let work: string;
  let gitPort: number;
  let api: string;
  let db: string;
  let first: string;
  const tokens: Record<string, string> = {};
  let clock = Date.UTC(2026, 10, 27, 12, 0, 0);

  const repository = '127.0.0.1/team/app';
  const gitEnv = () => ({ ...user.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com' });
  const url = () => `git://127.0.0.1:${gitPort}/team/app.git`;

  function git(args: string[], cwd = work): string {
    const result = spawnSync('git', args, { cwd, env: gitEnv(), encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, `git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  }

  /** The refs of the bare repository on the server. */
  function serverRefs(): Map<string, string> {
    const out = spawnSync('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: join(base, 'team', 'app.git'), encoding: 'utf8' }).stdout;
    return new Map(out.split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
  }

  /** A new commit on `first`, pushed straight to a fresh staging ref of `who` for refs/heads/<branch>, as the helper would. */
  function stage(who: string, branch: string): { ref: string; sha: string; body: object } {
    git(['checkout', '-q', '--detach', first]);
    git(['commit', '-q', '--allow-empty', '-m', `${who} on ${branch} ${clock}`]);
    const sha = git(['rev-parse', 'HEAD']);
    clock += 1000;
    const ref = stagingRef('refs', who, new Date(clock), `refs/heads/${branch}`);
    git(['push', '-q', url(), `HEAD:${ref}`]);
    return { ref, sha, body: { repository, url: url(), targetRef: `refs/heads/${branch}`, stagingRef: ref, oldSha: first, newSha: sha, force: false, pushOptions: [] } };
  }

  async function call(method: string, path: string, token: string | undefined, body?: object): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function register(who: string, branch: string): Promise<{ id: string; ref: string; sha: string }> {
    const staged = stage(who, branch);
    const created = await call('POST', '/v1/requests', tokens[who], staged.body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    return { id: String(created.json.id), ref: staged.ref, sha: staged.sha };
  }

  const requestOf = (json: Record<string, unknown>) => json.request as ApiRequest;

  before(async () => {
    user = await testUser('e2e-approvals');
    base = join(user.home, 'srv');
    await mkdir(join(base, 'team'), { recursive: true });
    spawnSync('git', ['init', '-q', '--bare', '-b', 'main', join(base, 'team', 'app.git')]);
    gitPort = await freePort();
    daemon = spawn('git', ['daemon', '--reuseaddr', `--base-path=${base}`, '--export-all', '--enable=receive-pack', '--listen=127.0.0.1', `--port=${gitPort}`, base], { stdio: 'ignore' });
    for (let attempt = 0; attempt < 50 && spawnSync('git', ['ls-remote', url()], { env: gitEnv() }).status !== 0; attempt++) await sleep(100);
    work = join(user.home, 'work');
    await mkdir(work);
    git(['init', '-q', '-b', 'main']);
    git(['commit', '-q', '--allow-empty', '-m', 'first']);
    first = git(['rev-parse', 'HEAD']);
    git(['push', '-q', url(), ...['main', 'other', 'reject', 'cancel', 'moved', 'self', 'landed'].map((branch) => `HEAD:refs/heads/${branch}`)]);

    db = join(user.home, 'approvals.db');
    for (const [name, role, key] of [['alice', 'developer', 'alice'], ['bob', 'developer', 'bob'], ['carol', 'team-lead', 'carol'], ['alice', 'team-lead', 'alice-approver'], ['dave', 'security', 'dave']] as const) {
      const created = execFileSync(process.execPath, [CLI, 'approvals', 'token', 'create', name, '--role', role, '--db', db, '--json'], { env: user.env, encoding: 'utf8' });
      const token = (JSON.parse(created) as { token: { name: string; role: string; secret: string } }).token;
      assert.deepEqual([token.name, token.role], [name, role]);
      tokens[key] = token.secret;
    }
    const apiPort = await freePort();
    api = `http://127.0.0.1:${apiPort}`;
    service = spawn(process.execPath, [CLI, 'approvals', 'serve', '--listen', `127.0.0.1:${apiPort}`, '--db', db], { env: user.env, stdio: ['ignore', 'ignore', 'pipe'] });
    service.stderr?.on('data', (chunk: Buffer) => (serviceLog += chunk.toString()));
    for (let attempt = 0; attempt < 100 && !serviceLog.includes('listening on'); attempt++) await sleep(100);
    assert.match(serviceLog, new RegExp(`approval service listening on http://127\\.0\\.0\\.1:${apiPort}`));
  });

  after(async () => {
    service?.kill('SIGTERM');
    daemon?.kill();
    await rm(user.home, { recursive: true, force: true });
  });

  it('create, list (a developer sees only their own), approve: the target is the staged commit and the staging ref is gone', async () => {
    const mine = await register('alice', 'main');
    assert.equal(mine.id, requestId(mine.ref), 'the id is derived from the staging ref');
    const theirs = await register('bob', 'other');

    const aliceList = await call('GET', '/v1/requests', tokens.alice);
    assert.equal(aliceList.status, 200);
    assert.deepEqual((aliceList.json.requests as ApiRequest[]).map((r) => [r.id, r.pusher, r.state]), [[mine.id, 'alice', 'pending']]);
    const all = await call('GET', '/v1/requests?state=pending', tokens.carol);
    assert.deepEqual((all.json.requests as ApiRequest[]).map((r) => r.id).sort(), [mine.id, theirs.id].sort());

    const approved = await call('POST', `/v1/requests/${mine.id}/approve`, tokens.carol);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal(requestOf(approved.json).state, 'promoted');
    assert.equal(requestOf(approved.json).decidedBy, 'carol');
    const refs = serverRefs();
    assert.equal(refs.get('refs/heads/main'), mine.sha, 'main is the staged commit');
    assert.equal(refs.has(mine.ref), false, 'the staging ref is gone');

    // Approving twice does not promote twice.
    const again = await call('POST', `/v1/requests/${mine.id}/approve`, tokens.carol);
    assert.equal(again.status, 409);
    assert.equal((again.json.error as { code: string }).code, 'wrong-state');
    const after = requestOf((await call('GET', `/v1/requests/${mine.id}`, tokens.carol)).json);
    assert.equal(after.state, 'promoted');
    assert.deepEqual(after.history.map((event) => event.state), ['pending', 'approved', 'promoting', 'promoted']);
  });

  it('nobody approves their own push (403), a developer or a role the policy does not name cannot approve (403), a forged, expired or missing token is 401', async () => {
    const own = await register('alice', 'self');
    const self = await call('POST', `/v1/requests/${own.id}/approve`, tokens['alice-approver']);
    assert.equal(self.status, 403);
    assert.match((self.json.error as { message: string }).message, /nobody approves their own push/);
    const developer = await call('POST', `/v1/requests/${own.id}/approve`, tokens.bob);
    assert.equal(developer.status, 403);
    assert.equal((developer.json.error as { code: string }).code, 'forbidden');
    const wrongRole = await call('POST', `/v1/requests/${own.id}/approve`, tokens.dave);
    assert.equal(wrongRole.status, 403, 'the policy names team-lead (its default), not security');
    assert.match((wrongRole.json.error as { message: string }).message, /needs the role team-lead \(tools\.git_push\); dave has security/);
    // An expired token (its expiry moved into the past in the service's own database).
    const expired = execFileSync(process.execPath, [CLI, 'approvals', 'token', 'create', 'erin', '--role', 'team-lead', '--db', db, '--json'], { env: user.env, encoding: 'utf8' });
    const erin = JSON.parse(expired) as { token: { id: string; secret: string } };
    const database = new (createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3'))(db);
    database.prepare('UPDATE tokens SET expires_at = ? WHERE id = ?').run('2026-01-01T00:00:00.000Z', erin.token.id);
    database.close();
    const stale = await call('POST', `/v1/requests/${own.id}/approve`, erin.token.secret);
    assert.equal(stale.status, 401);
    assert.match((stale.json.error as { message: string }).message, /the token expired at 2026-01-01T00:00:00\.000Z/);
    const forged = await call('POST', `/v1/requests/${own.id}/approve`, `${tokens.carol?.slice(0, -4)}AAAA`);
    assert.equal(forged.status, 401);
    assert.equal((forged.json.error as { code: string }).code, 'unauthorized');
    assert.equal((await call('GET', '/v1/requests', undefined)).status, 401);
    assert.equal(serverRefs().get('refs/heads/self'), first, 'self did not move');
    assert.equal(requestOf((await call('GET', `/v1/requests/${own.id}`, tokens.alice)).json).state, 'pending');
  });

  it('the pusher comes from the token: a body naming another staging namespace is refused; bad input is 400', async () => {
    const staged = stage('bob', 'other');
    const foreign = await call('POST', '/v1/requests', tokens.alice, staged.body);
    assert.equal(foreign.status, 403);
    const bad = await call('POST', '/v1/requests', tokens.alice, { ...staged.body, stagingRef: 'refs/heads/x', newSha: 'xyz' });
    assert.equal(bad.status, 400);
    assert.equal((bad.json.error as { code: string }).code, 'bad-request');
  });

  it('reject deletes the staging ref and records the reason; the target stays', async () => {
    const request = await register('alice', 'reject');
    assert.equal(serverRefs().get(request.ref), request.sha);
    const rejected = await call('POST', `/v1/requests/${request.id}/reject`, tokens.carol, { reason: 'needs a test' });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.json));
    assert.deepEqual([requestOf(rejected.json).state, requestOf(rejected.json).reason], ['rejected', 'needs a test']);
    assert.equal(serverRefs().has(request.ref), false);
    assert.equal(serverRefs().get('refs/heads/reject'), first);
    const seen = requestOf((await call('GET', `/v1/requests/${request.id}`, tokens.alice)).json);
    assert.equal(seen.reason, 'needs a test', 'the developer sees why');
  });

  it('cancel by the pusher deletes the staging ref; nobody else cancels it', async () => {
    const request = await register('alice', 'cancel');
    assert.equal((await call('POST', `/v1/requests/${request.id}/cancel`, tokens.bob)).status, 404, "bob does not see alice's request");
    const cancelled = await call('POST', `/v1/requests/${request.id}/cancel`, tokens.alice);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.json));
    assert.equal(requestOf(cancelled.json).state, 'cancelled');
    assert.equal(serverRefs().has(request.ref), false);
    assert.equal((await call('POST', `/v1/requests/${request.id}/approve`, tokens.carol)).status, 409);
  });

  it('the target moved meanwhile: needs-rebase with a reason, the target untouched', async () => {
    const request = await register('alice', 'moved');
    git(['checkout', '-q', '--detach', first]);
    git(['commit', '-q', '--allow-empty', '-m', 'someone else']);
    const moved = git(['rev-parse', 'HEAD']);
    git(['push', '-q', url(), 'HEAD:refs/heads/moved']);
    const approved = await call('POST', `/v1/requests/${request.id}/approve`, tokens.carol);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal(requestOf(approved.json).state, 'needs-rebase');
    assert.match(requestOf(approved.json).reason ?? '', /refs\/heads\/moved moved/);
    assert.equal(serverRefs().get('refs/heads/moved'), moved, 'the target is untouched');
    assert.equal(serverRefs().get(request.ref), request.sha, 'the staged commit stays for the developer');
  });

  it('promotion is idempotent: a target that already has the staged commit is marked promoted, the staging ref removed', async () => {
    const request = await register('alice', 'landed');
    // As if a promotion had pushed and the service died before recording it.
    git(['push', '-q', url(), `${request.sha}:refs/heads/landed`]);
    const approved = await call('POST', `/v1/requests/${request.id}/approve`, tokens.carol);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal(requestOf(approved.json).state, 'promoted');
    assert.equal(serverRefs().get('refs/heads/landed'), request.sha);
    assert.equal(serverRefs().has(request.ref), false);
  });
});
