/**
 * The approval service for real: `aibox approvals serve` on loopback with a SQLite
 * file, real HTTP calls, and a real remote (`git daemon` with pushes enabled) holding
 * real staging refs. Approve promotes the staged commit onto the target with a lease;
 * reject and cancel delete the staging ref; nobody approves their own push.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { requestId } from '../../src/push/staging.js';
import { call, createToken, startGitServer, startService, WorkTree, type ApiRequest, type GitServer, type Service } from '../helpers/approvals.js';
import { AIBOX, testUser, type TestUser } from '../helpers/cli.js';

describe('aibox approvals serve: register, approve, reject, cancel against a real remote', { timeout: 3 * 60_000 }, () => {
  let user: TestUser;
  let server: GitServer;
  let service: Service;
  let tree: WorkTree;
  let db: string;
  let first: string;
  const tokens: Record<string, string> = {};

  async function register(who: string, branch: string): Promise<{ id: string; ref: string; sha: string }> {
    const staged = tree.stage(who, branch, first);
    const created = await call(service.api, 'POST', '/v1/requests', tokens[who], staged.body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    return { id: String(created.json.id), ref: staged.ref, sha: staged.sha };
  }

  const requestOf = (json: Record<string, unknown>) => json.request as ApiRequest;

  before(async () => {
    user = await testUser('e2e-approvals');
    server = await startGitServer(user, ['app']);
    ({ tree, first } = await WorkTree.create(user, server.url('app'), '127.0.0.1/team/app', ['main', 'other', 'reject', 'cancel', 'moved', 'self', 'landed']));

    db = join(user.home, 'approvals.db');
    for (const [name, role, key] of [['alice', 'developer', 'alice'], ['bob', 'developer', 'bob'], ['carol', 'team-lead', 'carol'], ['alice', 'team-lead', 'alice-approver'], ['dave', 'security', 'dave']] as const) {
      tokens[key] = createToken(user, db, name, role);
    }
    service = await startService(user, user.home, { database: db });
    assert.match(service.log(), new RegExp(`approval service listening on ${service.api.replace(/\./g, '\\.')}`));
  });

  after(async () => {
    await service?.stop();
    server?.stop();
    await rm(user.home, { recursive: true, force: true });
  });

  it('create, list (a developer sees only their own), approve: the target is the staged commit and the staging ref is gone', async () => {
    const mine = await register('alice', 'main');
    assert.equal(mine.id, requestId(mine.ref), 'the id is derived from the staging ref');
    const theirs = await register('bob', 'other');

    const aliceList = await call(service.api, 'GET', '/v1/requests', tokens.alice);
    assert.equal(aliceList.status, 200);
    assert.deepEqual((aliceList.json.requests as ApiRequest[]).map((r) => [r.id, r.pusher, r.state]), [[mine.id, 'alice', 'pending']]);
    const all = await call(service.api, 'GET', '/v1/requests?state=pending', tokens.carol);
    assert.deepEqual((all.json.requests as ApiRequest[]).map((r) => r.id).sort(), [mine.id, theirs.id].sort());

    const approved = await call(service.api, 'POST', `/v1/requests/${mine.id}/approve`, tokens.carol);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal(requestOf(approved.json).state, 'promoted');
    assert.equal(requestOf(approved.json).decidedBy, 'carol');
    const refs = server.refs('app');
    assert.equal(refs.get('refs/heads/main'), mine.sha, 'main is the staged commit');
    assert.equal(refs.has(mine.ref), false, 'the staging ref is gone');

    // Approving twice does not promote twice.
    const again = await call(service.api, 'POST', `/v1/requests/${mine.id}/approve`, tokens.carol);
    assert.equal(again.status, 409);
    assert.equal((again.json.error as { code: string }).code, 'wrong-state');
    const after = requestOf((await call(service.api, 'GET', `/v1/requests/${mine.id}`, tokens.carol)).json);
    assert.equal(after.state, 'promoted');
    assert.deepEqual(after.history.map((event) => event.state), ['pending', 'approved', 'promoting', 'promoted']);
  });

  it('nobody approves their own push (403), a developer or a role the policy does not name cannot approve (403), a forged, expired or missing token is 401', async () => {
    const own = await register('alice', 'self');
    const self = await call(service.api, 'POST', `/v1/requests/${own.id}/approve`, tokens['alice-approver']);
    assert.equal(self.status, 403);
    assert.match((self.json.error as { message: string }).message, /nobody approves their own push/);
    const developer = await call(service.api, 'POST', `/v1/requests/${own.id}/approve`, tokens.bob);
    assert.equal(developer.status, 403);
    assert.equal((developer.json.error as { code: string }).code, 'forbidden');
    const wrongRole = await call(service.api, 'POST', `/v1/requests/${own.id}/approve`, tokens.dave);
    assert.equal(wrongRole.status, 403, 'the policy names team-lead (its default), not security');
    assert.match((wrongRole.json.error as { message: string }).message, /needs the role team-lead \(tools\.git_push\); dave has security/);
    // An expired token (its expiry moved into the past in the service's own database).
    const expired = execFileSync(process.execPath, [AIBOX, 'approvals', 'token', 'create', 'erin', '--role', 'team-lead', '--db', db, '--json'], { env: user.env, encoding: 'utf8' });
    const erin = JSON.parse(expired) as { token: { id: string; secret: string } };
    const database = new (createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3'))(db);
    database.prepare('UPDATE tokens SET expires_at = ? WHERE id = ?').run('2026-01-01T00:00:00.000Z', erin.token.id);
    database.close();
    const stale = await call(service.api, 'POST', `/v1/requests/${own.id}/approve`, erin.token.secret);
    assert.equal(stale.status, 401);
    assert.match((stale.json.error as { message: string }).message, /the token expired at 2026-01-01T00:00:00\.000Z/);
    const forged = await call(service.api, 'POST', `/v1/requests/${own.id}/approve`, `${tokens.carol?.slice(0, -4)}AAAA`);
    assert.equal(forged.status, 401);
    assert.equal((forged.json.error as { code: string }).code, 'unauthorized');
    assert.equal((await call(service.api, 'GET', '/v1/requests', undefined)).status, 401);
    assert.equal(server.refs('app').get('refs/heads/self'), first, 'self did not move');
    assert.equal(requestOf((await call(service.api, 'GET', `/v1/requests/${own.id}`, tokens.alice)).json).state, 'pending');
  });

  it('the pusher comes from the token: a body naming another staging namespace is refused; bad input is 400', async () => {
    const staged = tree.stage('bob', 'other', first);
    const foreign = await call(service.api, 'POST', '/v1/requests', tokens.alice, staged.body);
    assert.equal(foreign.status, 403);
    const bad = await call(service.api, 'POST', '/v1/requests', tokens.alice, { ...staged.body, stagingRef: 'refs/heads/x', newSha: 'xyz' });
    assert.equal(bad.status, 400);
    assert.equal((bad.json.error as { code: string }).code, 'bad-request');
  });

  it('reject deletes the staging ref and records the reason; the target stays', async () => {
    const request = await register('alice', 'reject');
    assert.equal(server.refs('app').get(request.ref), request.sha);
    const rejected = await call(service.api, 'POST', `/v1/requests/${request.id}/reject`, tokens.carol, { reason: 'needs a test' });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.json));
    assert.deepEqual([requestOf(rejected.json).state, requestOf(rejected.json).reason], ['rejected', 'needs a test']);
    assert.equal(server.refs('app').has(request.ref), false);
    assert.equal(server.refs('app').get('refs/heads/reject'), first);
    const seen = requestOf((await call(service.api, 'GET', `/v1/requests/${request.id}`, tokens.alice)).json);
    assert.equal(seen.reason, 'needs a test', 'the developer sees why');
  });

  it('cancel by the pusher deletes the staging ref; nobody else cancels it', async () => {
    const request = await register('alice', 'cancel');
    assert.equal((await call(service.api, 'POST', `/v1/requests/${request.id}/cancel`, tokens.bob)).status, 404, "bob does not see alice's request");
    const cancelled = await call(service.api, 'POST', `/v1/requests/${request.id}/cancel`, tokens.alice);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.json));
    assert.equal(requestOf(cancelled.json).state, 'cancelled');
    assert.equal(server.refs('app').has(request.ref), false);
    assert.equal((await call(service.api, 'POST', `/v1/requests/${request.id}/approve`, tokens.carol)).status, 409);
  });

  it('the target moved meanwhile: needs-rebase with a reason, the target untouched', async () => {
    const request = await register('alice', 'moved');
    const moved = tree.commit(first, 'someone else');
    tree.git(['push', '-q', tree.url, 'HEAD:refs/heads/moved']);
    const approved = await call(service.api, 'POST', `/v1/requests/${request.id}/approve`, tokens.carol);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal(requestOf(approved.json).state, 'needs-rebase');
    assert.match(requestOf(approved.json).reason ?? '', /refs\/heads\/moved moved/);
    assert.equal(server.refs('app').get('refs/heads/moved'), moved, 'the target is untouched');
    assert.equal(server.refs('app').get(request.ref), request.sha, 'the staged commit stays for the developer');
  });

  it('promotion is idempotent: a target that already has the staged commit is marked promoted, the staging ref removed', async () => {
    const request = await register('alice', 'landed');
    // As if a promotion had pushed and the service died before recording it.
    tree.git(['push', '-q', tree.url, `${request.sha}:refs/heads/landed`]);
    const approved = await call(service.api, 'POST', `/v1/requests/${request.id}/approve`, tokens.carol);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    assert.equal(requestOf(approved.json).state, 'promoted');
    assert.equal(server.refs('app').get('refs/heads/landed'), request.sha);
    assert.equal(server.refs('app').has(request.ref), false);
  });
});
