/**
 * The whole flow with real git on the host: five developers push fifty times to
 * three branches at once through git-remote-aibox (the built-in policy makes
 * every push review-required); each push is staged and registered with the real
 * approval service through the developer's own settings and token reference;
 * then an approver decides them all. Every push is recorded; the newest per
 * developer and branch waits, the older ones are superseded; each decided one is
 * promoted or needs a rebase (its staging ref kept); none is lost.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, createToken, git, installRemoteHelper, requestsByRef, startGitServer, startService, type ApiRequest, type GitServer, type Service } from '../helpers/approvals.js';
import { aibox, testUser, type TestUser } from '../helpers/cli.js';

const DEVELOPERS = 5;
const PUSHES_EACH = 10;
const BRANCHES = ['b0', 'b1', 'b2'];

interface Developer {
  user: TestUser;
  name: string;
  work: string;
  env: NodeJS.ProcessEnv;
}

function push(dev: Developer, branch: string, n: number): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const script = `git checkout -q --detach origin/${branch} && git commit -q --allow-empty -m "${dev.name} ${branch} ${n}" && git push origin HEAD:refs/heads/${branch}`;
    const child = spawn('sh', ['-c', script], { cwd: dev.work, env: dev.env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
  });
}

describe('fifty pushes from five developers to three branches, all at once', { timeout: 8 * 60_000 }, () => {
  let admin: TestUser;
  let server: GitServer;
  let service: Service;
  let approver: string;
  const developers: Developer[] = [];
  const staged = new Map<string, string>();

  before(async () => {
    admin = await testUser('e2e-flow');
    server = await startGitServer(admin, ['app']);
    const seed = join(admin.home, 'seed');
    await mkdir(seed);
    git(admin, ['init', '-q', '-b', 'main'], seed);
    git(admin, ['commit', '-q', '--allow-empty', '-m', 'first'], seed);
    git(admin, ['push', '-q', server.url('app'), ...BRANCHES.map((branch) => `HEAD:refs/heads/${branch}`)], seed);
    const db = join(admin.home, 'approvals.db');
    approver = createToken(admin, db, 'carol', 'team-lead');
    service = await startService(admin, admin.home, { database: db });

    // The helper as the sandbox image installs it: every push URL becomes aibox::URL.
    const helper = await installRemoteHelper(admin.home);
    for (let n = 0; n < DEVELOPERS; n++) {
      const user = await testUser(`e2e-dev${n}`);
      const name = `dev${n}`;
      const tokenFile = join(user.home, 'push-token');
      await writeFile(tokenFile, createToken(admin, db, name, 'developer'), { mode: 0o600 });
      for (const [key, value] of [['push.identity', name], ['push.service', service.api], ['push.token', `file:${tokenFile}`]]) {
        assert.equal((await aibox(user, ['config', 'set', key ?? '', value ?? ''])).code, 0);
      }
      const work = join(user.home, 'work');
      const env = { ...user.env, ...helper.env, GIT_AUTHOR_NAME: name, GIT_AUTHOR_EMAIL: `${name}@example.com`, GIT_COMMITTER_NAME: name, GIT_COMMITTER_EMAIL: `${name}@example.com` };
      const cloned = spawn('git', ['clone', '-q', server.url('app'), work], { env });
      await new Promise((resolve) => cloned.on('close', resolve));
      developers.push({ user, name, work, env });
    }
  });

  after(async () => {
    await service?.stop();
    server?.stop();
    for (const dev of developers) await rm(dev.user.home, { recursive: true, force: true });
    await rm(admin.home, { recursive: true, force: true });
  });

  it('every push is staged and registered; the newest per developer and branch waits, the older are superseded', async () => {
    const results = await Promise.all(
      developers.map(async (dev) => {
        const mine = [];
        for (let n = 0; n < PUSHES_EACH; n++) mine.push(await push(dev, BRANCHES[n % BRANCHES.length] ?? 'b0', n));
        return mine;
      }),
    );
    for (const result of results.flat()) {
      assert.equal(result.code, 1, 'git reports the ref as not pushed');
      const ref = /staged for approval as [0-9a-f]{10} \((refs\/aibox\/staging\/[^)]+)\)/.exec(result.stderr)?.[1];
      assert.ok(ref, result.stderr);
      assert.match(result.stderr, /is registered with the approval service/);
      staged.set(ref, result.stderr);
    }
    assert.equal(staged.size, DEVELOPERS * PUSHES_EACH, 'fifty distinct staging refs');

    const known = await requestsByRef(service.api, approver);
    for (const ref of staged.keys()) assert.ok(known.has(ref), `${ref} is recorded`);
    const states = [...known.values()].map((request) => request.state);
    assert.equal(states.filter((state) => state === 'pending').length, DEVELOPERS * BRANCHES.length);
    assert.equal(states.filter((state) => state === 'superseded').length, DEVELOPERS * PUSHES_EACH - DEVELOPERS * BRANCHES.length);
  });

  it('a developer cancels one of theirs with aibox push cancel; bad or finished ids are refused in one line', async () => {
    const dev = developers[1] as Developer;
    const mine = [...(await requestsByRef(service.api, approver)).values()].find((request) => request.pusher === dev.name && request.state === 'pending');
    const cancel = (id: string) => aibox(dev.user, ['push', 'cancel', id], { cwd: dev.work, env: dev.env });
    const done = await cancel(mine?.id ?? '');
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /Cancelled [0-9a-f]{10}: its staging ref is removed/);
    assert.equal(server.refs('app').has(mine?.stagingRef ?? ''), false);
    const again = await cancel(mine?.id ?? '');
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /cannot cancel [0-9a-f]{10}: request [0-9a-f]{10} is cancelled: it cannot be cancelled/);
    const garbage = await cancel('../etc');
    assert.equal(garbage.code, 2);
    assert.match(garbage.stderr, /not a push request id: "\.\.\/etc"/);
  });

  it('approving them all: one promoted per branch, the rest need a rebase and keep their staged commit', async () => {
    const pending = [...(await requestsByRef(service.api, approver)).values()].filter((request) => request.state === 'pending');
    assert.equal(pending.length, DEVELOPERS * BRANCHES.length - 1, 'all but the cancelled one');
    const decided = await Promise.all(pending.map((request) => call(service.api, 'POST', `/v1/requests/${request.id}/approve`, approver).then((answer) => answer.json.request as ApiRequest & { targetRef: string; newSha: string })));
    for (const branch of BRANCHES) {
      const onBranch = decided.filter((request) => request.targetRef === `refs/heads/${branch}`);
      const promoted = onBranch.filter((request) => request.state === 'promoted');
      assert.equal(promoted.length, 1, `${branch}: ${JSON.stringify(onBranch.map((request) => request.state))}`);
      assert.equal(server.refs('app').get(`refs/heads/${branch}`), promoted[0]?.newSha);
      for (const request of onBranch.filter((other) => other !== promoted[0])) {
        assert.equal(request.state, 'needs-rebase');
        assert.equal(server.refs('app').get(request.stagingRef), request.newSha, 'nothing lost: the commit waits in its staging ref');
      }
    }
    const all = [...(await requestsByRef(service.api, approver)).values()];
    assert.equal(all.length, DEVELOPERS * PUSHES_EACH, 'every push is still recorded');

    // The developer sees what became of each push, with the reason.
    const dev = developers[0];
    const status = await aibox(dev?.user as TestUser, ['push', 'status', '--json'], { cwd: dev?.work ?? '', env: dev?.env ?? {} });
    assert.equal(status.code, 0, status.stderr);
    const rows = (JSON.parse(status.stdout) as { pushes: { state: string; reason?: string }[] }).pushes;
    assert.equal(rows.length, PUSHES_EACH);
    assert.ok(rows.every((row) => ['promoted', 'needs-rebase', 'superseded'].includes(row.state)), JSON.stringify(rows));
    assert.ok(rows.filter((row) => row.state === 'needs-rebase').every((row) => /rebase and push again/.test(row.reason ?? '')));
  });
});
