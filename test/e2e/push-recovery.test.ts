/**
 * Nothing is lost and nothing is promoted twice: the real service (SQLite and
 * PostgreSQL), a real remote, and SIGKILL at exact points (AIBOX_CRASH_AT) or
 * in the middle of a burst of registrations. Also the background jobs (a push
 * staged while the service was down is registered from the remote; expiry),
 * and who approves and merges as the policy says.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { testUser, type TestUser } from '../helpers/cli.js';
import { call, createToken, waitFor, requestsByRef, startGitServer, startService, WorkTree, type ApiRequest, type GitServer, type Service } from '../helpers/approvals.js';
import { startPostgres, type PostgresServer } from '../helpers/push-store-postgres.js';

const requestOf = (json: Record<string, unknown>) => json.request as ApiRequest;

describe('the approval service recovers and never loses a push', { timeout: 5 * 60_000 }, () => {
  let user: TestUser;
  let server: GitServer;
  let app: WorkTree;
  let merge: WorkTree;
  let first: string;
  let mergeFirst: string;
  let db: string;
  let policy: string;
  const services: Service[] = [];
  const tokens: Record<string, string> = {};

  /** A service on the SQLite file (or `database`), fast background jobs, the test's policy. */
  async function service(extra: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}): Promise<Service> {
    const started = await startService(user, user.home, { database: db, policy, reconcile_every: '200ms', promotion_timeout: '1s', ...extra }, env);
    services.push(started);
    return started;
  }

  async function register(api: string, tree: WorkTree, who: string, branch: string, base: string, file?: { name: string; text: string }) {
    const staged = tree.stage(who, branch, base, file);
    const created = await call(api, 'POST', '/v1/requests', tokens[who], staged.body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    return { id: String(created.json.id), ...staged };
  }

  async function stateOf(api: string, id: string, token = tokens.carol): Promise<ApiRequest> {
    return requestOf((await call(api, 'GET', `/v1/requests/${id}`, token)).json);
  }

  async function waitForState(api: string, id: string, state: string, token = tokens.carol): Promise<ApiRequest> {
    for (let attempt = 0; attempt < 200; attempt++) {
      const request = await stateOf(api, id, token);
      if (request.state === state) return request;
      await sleep(100);
    }
    return assert.fail(`request ${id} never became ${state}: ${JSON.stringify(await stateOf(api, id, token))}`);
  }

  /** Approves through a service that SIGKILLs itself at `point`; returns once it died. */
  async function approveAndCrash(crashing: Service, id: string, token: string | undefined): Promise<void> {
    const exited = new Promise((resolve) => crashing.process.once('exit', (_code, signal) => resolve(signal)));
    await assert.rejects(call(crashing.api, 'POST', `/v1/requests/${id}/approve`, token), 'the connection dies with the service');
    assert.equal(await exited, 'SIGKILL');
  }

  before(async () => {
    user = await testUser('e2e-recovery');
    server = await startGitServer(user, ['app', 'merge']);
    ({ tree: app, first } = await WorkTree.create(user, server.url('app'), '127.0.0.1/team/app', ['main', 'found', 'expire', 'after-push', 'before-push']));
    ({ tree: merge, first: mergeFirst } = await WorkTree.create(user, server.url('merge'), '127.0.0.1/team/merge', ['main', 'conflict']));
    db = join(user.home, 'approvals.db');
    policy = join(user.home, 'policy.yaml');
    await writeFile(
      policy,
      stringify({
        version: 1,
        tools: { git_push: { default: 'review-required', rules: [{ repo: '127.0.0.1/team/merge', class: 'review-required', approvers: ['security'], merge: true }] } },
      }),
    );
    for (const [name, role] of [['alice', 'developer'], ['bob', 'developer'], ['carol', 'team-lead'], ['dave', 'security']] as const) tokens[name] = createToken(user, db, name, role);
  });

  after(async () => {
    for (const running of services) await running.stop();
    server?.stop();
    await rm(user.home, { recursive: true, force: true });
  });

  it('a push staged while the service was down is registered from the remote; a finished one is cleaned up', async () => {
    const staged = app.stage('alice', 'found', first);
    const running = await service({ repositories: [server.url('app')] });
    await running.waitForLog(new RegExp(`registered ${staged.ref}`));
    const found = (await requestsByRef(running.api, tokens.carol ?? '')).get(staged.ref);
    assert.deepEqual([found?.state, found?.pusher], ['pending', 'alice']);
    const rejected = await call(running.api, 'POST', `/v1/requests/${found?.id}/reject`, tokens.carol, { reason: 'not now' });
    assert.equal(requestOf(rejected.json).state, 'rejected');
    assert.equal(server.refs('app').has(staged.ref), false);
    await running.stop();
  });

  it('a request not decided in expire_after expires: its staging ref is removed, the developer sees why', async () => {
    const running = await service({ expire_after: '1s' });
    const request = await register(running.api, app, 'alice', 'expire', first);
    const expired = await waitForState(running.api, request.id, 'expired');
    assert.equal(expired.history.at(-1)?.actor, 'aibox');
    await waitFor(() => !server.refs('app').has(request.ref), 'the staging ref is removed');
    assert.equal(server.refs('app').get('refs/heads/expire'), first);
    await running.stop();
  });

  for (const point of ['promotion:after-push', 'promotion:before-push'] as const) {
    const branch = point.split(':')[1] ?? '';
    it(`kill -9 at ${point}: after a restart the promotion finishes once`, async () => {
      const crashing = await service({}, { AIBOX_CRASH_AT: point });
      const request = await register(crashing.api, app, 'bob', branch, first);
      await approveAndCrash(crashing, request.id, tokens.carol);
      assert.equal(server.refs('app').get(`refs/heads/${branch}`), point === 'promotion:after-push' ? request.sha : first);

      const restarted = await service();
      const promoted = await waitForState(restarted.api, request.id, 'promoted');
      assert.deepEqual(
        promoted.history.map((event) => event.state),
        ['pending', 'approved', 'promoting', 'promoted'],
      );
      assert.equal(server.refs('app').get(`refs/heads/${branch}`), request.sha, 'the target is the staged commit, not a second push of it');
      assert.equal(server.refs('app').has(request.ref), false);
      await restarted.stop();
    });
  }

  it('kill -9 in the middle of 20 registrations: after a restart every staged push is recorded exactly once', async () => {
    const running = await service();
    const staged = Array.from({ length: 20 }, (_, n) => app.stage(n % 2 ? 'alice' : 'bob', `burst-${n}`, first));
    const calls = staged.map((push) => call(running.api, 'POST', '/v1/requests', String(push.body.stagingRef).includes('/alice/') ? tokens.alice : tokens.bob, push.body).catch(() => undefined));
    await Promise.race(calls);
    running.process.kill('SIGKILL');
    await Promise.all(calls);

    const restarted = await service({ repositories: [server.url('app')] });
    for (let attempt = 0; attempt < 100; attempt++) {
      const known = await requestsByRef(restarted.api, tokens.carol ?? '');
      if (staged.every((push) => known.has(push.ref))) break;
      await sleep(100);
    }
    const known = await requestsByRef(restarted.api, tokens.carol ?? '');
    for (const push of staged) assert.equal(known.get(push.ref)?.state, 'pending', `${push.ref} is recorded and pending`);
    assert.equal(new Set(staged.map((push) => known.get(push.ref)?.id)).size, 20);
    await restarted.stop();
  });

  it('where the policy lets it, a moved target is merged on approval; a conflict needs a rebase; only the policy role approves', async () => {
    const running = await service();
    const clean = await register(running.api, merge, 'alice', 'main', mergeFirst, { name: 'a.txt', text: 'alice\n' });
    const moved = merge.commit(mergeFirst, 'someone else', { name: 'b.txt', text: 'other\n' });
    merge.git(['push', '-q', server.url('merge'), `${moved}:refs/heads/main`]);

    const byTeamLead = await call(running.api, 'POST', `/v1/requests/${clean.id}/approve`, tokens.carol);
    assert.equal(byTeamLead.status, 403, 'this repository is approved by security');
    const approved = await call(running.api, 'POST', `/v1/requests/${clean.id}/approve`, tokens.dave);
    assert.equal(approved.status, 200, JSON.stringify(approved.json));
    const result = requestOf(approved.json);
    assert.equal(result.state, 'promoted');
    const mergeCommit = server.refs('merge').get('refs/heads/main') ?? '';
    assert.equal(result.reason, `merged as ${mergeCommit}`);
    merge.git(['fetch', '-q', server.url('merge'), 'refs/heads/main']);
    assert.equal(merge.git(['rev-list', '--parents', '-n', '1', mergeCommit]), `${mergeCommit} ${moved} ${clean.sha}`);

    const conflicting = await register(running.api, merge, 'alice', 'conflict', mergeFirst, { name: 'c.txt', text: 'alice\n' });
    const other = merge.commit(mergeFirst, 'the same file', { name: 'c.txt', text: 'bob\n' });
    merge.git(['push', '-q', server.url('merge'), `${other}:refs/heads/conflict`]);
    const refused = requestOf((await call(running.api, 'POST', `/v1/requests/${conflicting.id}/approve`, tokens.dave)).json);
    assert.equal(refused.state, 'needs-rebase');
    assert.match(refused.reason ?? '', /conflicts with it; rebase and push again/);
    assert.equal(server.refs('merge').get('refs/heads/conflict'), other);
    await running.stop();
  });

  describe('two replicas on one PostgreSQL database', () => {
    let postgres: PostgresServer | undefined;
    let pgDatabase = '';

    before(async () => {
      postgres = await startPostgres();
      pgDatabase = await postgres.createDatabase();
      for (const [name, role] of [['alice', 'developer'], ['carol', 'team-lead'], ['erin', 'team-lead']] as const) tokens[`pg-${name}`] = createToken(user, pgDatabase, name, role);
      app.git(['push', '-q', server.url('app'), `${first}:refs/heads/race`, `${first}:refs/heads/handover`]);
    });
    after(async () => {
      await postgres?.stop();
    });

    it('both approve the same request at once: one promotion', async () => {
      // No resuming here: only the two approve calls race.
      const [one, two] = [await service({ database: pgDatabase, promotion_timeout: '5m' }), await service({ database: pgDatabase, promotion_timeout: '5m' })];
      const staged = app.stage('alice', 'race', first);
      assert.equal((await call(one.api, 'POST', '/v1/requests', tokens['pg-alice'], staged.body)).status, 201);
      const id = String((await requestsByRef(two.api, tokens['pg-carol'] ?? '')).get(staged.ref)?.id);
      const answers = await Promise.all([call(one.api, 'POST', `/v1/requests/${id}/approve`, tokens['pg-carol']), call(two.api, 'POST', `/v1/requests/${id}/approve`, tokens['pg-erin'])]);
      assert.deepEqual(answers.map((answer) => answer.status).sort(), [200, 409]);
      const final = requestOf((await call(one.api, 'GET', `/v1/requests/${id}`, tokens['pg-carol'])).json);
      assert.equal(final.history.filter((event) => event.state === 'promoted').length, 1, JSON.stringify(final.history));
      assert.equal(server.refs('app').get('refs/heads/race'), staged.sha);
      await one.stop();
      await two.stop();
    });

    it('one replica dies mid-promotion: the other finishes it', async () => {
      const survivor = await service({ database: pgDatabase });
      const crashing = await service({ database: pgDatabase }, { AIBOX_CRASH_AT: 'promotion:after-push' });
      const staged = app.stage('alice', 'handover', first);
      assert.equal((await call(crashing.api, 'POST', '/v1/requests', tokens['pg-alice'], staged.body)).status, 201);
      const id = String((await requestsByRef(survivor.api, tokens['pg-carol'] ?? '')).get(staged.ref)?.id);
      await approveAndCrash(crashing, id, tokens['pg-carol']);
      const promoted = await waitForState(survivor.api, id, 'promoted', tokens['pg-carol']);
      assert.equal(promoted.history.at(-1)?.actor, 'aibox', 'the survivor finished it');
      assert.equal(server.refs('app').get('refs/heads/handover'), staged.sha);
      assert.equal(server.refs('app').has(staged.ref), false);
      await survivor.stop();
    });
  });
});
