/**
 * git-remote-aibox with real git against real remotes (`git daemon` on loopback, push
 * enabled): every push form to a review-required repository is staged, never landed;
 * safe repositories push normally; blocked ones are refused with the policy's reason.
 * Run on the host (the helper decides with the host's policy there; in the sandbox the
 * same code asks the host through the broker).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ORG_POLICY_PATH } from '../../src/policy/load.js';
import { createToken, installRemoteHelper, startService, type Service } from '../helpers/approvals.js';
import { aibox, freePort, sshTo, testUser, type TestUser } from '../helpers/cli.js';

describe('git push through git-remote-aibox: staged, direct or refused, as the policy says', { timeout: 5 * 60_000 }, () => {
  let user: TestUser;
  let daemon: ChildProcess;
  let base: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let port: number;
  let savedPolicy: string | undefined;

  const url = (repo: string) => `git://localhost:${port}/team/${repo}.git`;

  function git(args: string[], cwd = work): { code: number; out: string; err: string } {
    const result = spawnSync('git', args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
    return { code: result.status ?? 1, out: result.stdout, err: result.stderr };
  }

  function ok(args: string[], cwd = work): string {
    const result = git(args, cwd);
    assert.equal(result.code, 0, `git ${args.join(' ')}: ${result.err}`);
    return result.out;
  }

  /** The refs of a bare repository on the server, as REF → SHA. */
  function serverRefs(repo: string): Map<string, string> {
    const out = spawnSync('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: join(base, 'team', `${repo}.git`), encoding: 'utf8' }).stdout;
    return new Map(out.split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
  }

  const staged = (repo: string) => [...serverRefs(repo)].filter(([ref]) => ref.includes('aibox/staging/'));

  before(async () => {
    user = await testUser('e2e-push');
    base = join(user.home, 'srv');
    port = await freePort();
    for (const repo of ['app', 'free', 'locked']) {
      const dir = join(base, 'team', `${repo}.git`);
      await mkdir(dir, { recursive: true });
      spawnSync('git', ['init', '-q', '--bare', '-b', 'main', dir]);
    }
    daemon = spawn('git', ['daemon', '--reuseaddr', `--base-path=${base}`, '--export-all', '--enable=receive-pack', '--listen=127.0.0.1', `--port=${port}`, base], { stdio: 'ignore' });
    // Every push URL becomes aibox::URL, as /etc/gitconfig does in the sandbox image.
    const helper = await installRemoteHelper(user.home);
    env = { ...user.env, ...helper.env, GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com' };
    for (let attempt = 0; attempt < 50 && spawnSync('git', ['ls-remote', url('app')], { env: { ...env, GIT_CONFIG_NOSYSTEM: '1' } }).status !== 0; attempt++) await sleep(100);
    work = join(user.home, 'work');
    await mkdir(work);
    ok(['init', '-q', '-b', 'main']);
    ok(['remote', 'add', 'origin', url('app')]);
    ok(['commit', '-q', '--allow-empty', '-m', 'first']);
    // The org policy: pushes are safe by default, app needs review, locked is blocked.
    savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY_PATH, stringify({ version: 1, tools: { git_push: { default: 'safe', rules: [{ repo: 'localhost/team/app', class: 'review-required' }, { repo: 'localhost/team/locked', class: 'blocked' }] } } }));
    assert.equal((await aibox(user, ['config', 'set', 'push.identity', 'alice'])).code, 0);
    // The remote starts with main and old, pushed past the helper as an admin would.
    const seed = spawnSync('git', ['push', '-q', url('app'), 'HEAD:refs/heads/main', 'HEAD:refs/heads/old'], { cwd: work, env: { ...env, GIT_CONFIG_NOSYSTEM: '1' }, encoding: 'utf8' });
    assert.equal(seed.status, 0, seed.stderr);
    ok(['fetch', '-q', 'origin']);
  });

  after(async () => {
    daemon?.kill();
    await rm(user.home, { recursive: true, force: true });
    if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
    else await writeFile(ORG_POLICY_PATH, savedPolicy);
  });

  it('a push to a review-required repository is staged on the remote, the branch and the tracking ref stay', async () => {
    ok(['commit', '-q', '--allow-empty', '-m', 'second']);
    const head = ok(['rev-parse', 'HEAD']).trim();
    const before = serverRefs('app').get('refs/heads/main');
    const push = git(['push', 'origin', 'HEAD:main']);
    assert.equal(push.code, 1, 'git reports the ref as not pushed');
    assert.match(push.err, /aibox: refs\/heads\/main staged for approval as ([0-9a-f]{10}) \(refs\/aibox\/staging\/alice\/\d{8}T\d{6}Z\/heads\/main\); keep working, see: aibox push status/);
    assert.match(push.err, /\[remote rejected\] HEAD -> main \(staged for approval as [0-9a-f]{10}, not pushed yet\)/);
    assert.equal(serverRefs('app').get('refs/heads/main'), before, 'main did not move');
    assert.deepEqual(staged('app').map(([, sha]) => sha), [head], 'the commit waits in the staging ref');
    assert.equal(ok(['rev-parse', 'refs/remotes/origin/main']).trim(), before, 'origin/main still shows what the remote has');

    const status = await aibox(user, ['push', 'status', '--json'], { cwd: work, env });
    assert.equal(status.code, 0, status.stderr);
    const listed = JSON.parse(status.stdout) as { pushes: { id: string; target: string; commit: string; remote: string; state: string }[]; note?: string };
    const pending = listed.pushes;
    assert.deepEqual(pending.map(({ target, commit, remote, state }) => ({ target, commit, remote, state })), [{ target: 'refs/heads/main', commit: head, remote: 'origin', state: 'staged' }]);
    assert.match(listed.note ?? '', /no approval service is set/);
    assert.ok(push.err.includes(pending[0]?.id ?? '?'), 'status shows the id the push printed');
    const outside = await aibox(user, ['push', 'status'], { cwd: user.home, env });
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /is not inside a git repository/);
  });

  it('--dry-run stages nothing; a stale lease and an atomic push with it stage nothing', () => {
    const count = staged('app').length;
    const dry = git(['push', '--dry-run', 'origin', 'HEAD:refs/heads/dry']);
    assert.equal(dry.code, 1);
    assert.match(dry.err, /would be staged for approval \(dry run, nothing staged\)/);
    const stale = git(['push', '--atomic', '--force-with-lease=refs/heads/main:0123456789012345678901234567890123456789', 'origin', '+HEAD:refs/heads/main', 'HEAD:refs/heads/also']);
    assert.equal(stale.code, 1);
    assert.match(stale.err, /stale info/);
    assert.equal(staged('app').length, count, 'nothing was staged');
  });

  it('several refspecs at once: a new branch, a forced update, a tag, a deletion and push options', () => {
    ok(['tag', 'v1']);
    const head = ok(['rev-parse', 'HEAD']).trim();
    const old = serverRefs('app').get('refs/heads/old');
    const count = staged('app').length;
    const divergent = ok(['commit-tree', '-m', 'divergent', 'HEAD^{tree}']).trim(); // not a descendant of the remote's main
    const push = git(['push', '-o', 'topic=demo', 'origin', 'HEAD:refs/heads/feature', `+${divergent}:refs/heads/main`, 'v1', ':refs/heads/old']);
    assert.equal(push.code, 1, push.err);
    const added = staged('app').slice(count);
    const byTarget = Object.fromEntries(added.map(([ref, sha]) => [ref.replace(/^refs\/aibox\/staging\/alice\/\d{8}T\d{6}Z\//, ''), sha]));
    assert.deepEqual(
      byTarget,
      { 'heads/feature': head, 'heads/main': divergent, 'tags/v1': head, 'delete/heads/old': old },
      `every ref staged; a deletion at the commit it would delete\n${push.err}`,
    );
    assert.ok(serverRefs('app').has('refs/heads/old') && !serverRefs('app').has('refs/heads/feature') && !serverRefs('app').has('refs/tags/v1'), 'nothing reached its target');
  });

  it('branches mode stages under aibox/staging/ branches', async () => {
    assert.equal((await aibox(user, ['config', 'set', 'push.staging', 'branches'])).code, 0);
    try {
      const push = git(['push', 'origin', 'HEAD:refs/heads/branch-mode']);
      assert.equal(push.code, 1);
      assert.ok([...serverRefs('app').keys()].some((ref) => /^refs\/heads\/aibox\/staging\/alice\/\d{8}T\d{6}Z\/heads\/branch-mode$/.test(ref)), [...serverRefs('app').keys()].join(' '));
    } finally {
      await aibox(user, ['config', 'set', 'push.staging', 'refs']);
    }
  });

  it('a safe repository receives the push directly; a blocked one refuses it with the reason', () => {
    ok(['remote', 'add', 'free', url('free')]);
    ok(['remote', 'add', 'locked', url('locked')]);
    const head = ok(['rev-parse', 'HEAD']).trim();
    const safe = git(['push', 'free', 'HEAD:refs/heads/main']);
    assert.equal(safe.code, 0, safe.err);
    assert.equal(serverRefs('free').get('refs/heads/main'), head);
    assert.equal(ok(['rev-parse', 'refs/remotes/free/main']).trim(), head, 'the tracking ref moves as usual');
    const blocked = git(['push', 'locked', 'HEAD:refs/heads/main']);
    assert.equal(blocked.code, 1);
    assert.match(blocked.err, /git push to localhost\/team\/locked is blocked by tools\.git_push\.rules\[1\]/);
    assert.equal(serverRefs('locked').size, 0);
  });
});

describe('git push from inside a gVisor sandbox: the image routes it through git-remote-aibox and the host decides', { timeout: 10 * 60_000 }, () => {
  let user: TestUser;
  let daemon: ChildProcess | undefined;
  let base: string;
  let port: number;
  let savedPolicy: string | undefined;
  let service: Service | undefined;

  const inside = (command: string) => sshTo(user, command);
  const serverRef = (repo: string, ref: string) => spawnSync('git', ['rev-parse', '--verify', '-q', ref], { cwd: join(base, 'team', `${repo}.git`), encoding: 'utf8' }).stdout.trim();

  before(async () => {
    user = await testUser('e2e-push-in');
    base = join(user.home, 'srv');
    for (const repo of ['app', 'free']) spawnSync('git', ['init', '-q', '--bare', '-b', 'main', join(base, 'team', `${repo}.git`)]);
    savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
    assert.equal((await aibox(user, ['config', 'set', 'push.identity', 'bob'])).code, 0);
    // The approval service on the host; bob's token in a file only he reads, named by reference.
    const db = join(user.home, 'approvals.db');
    const tokenFile = join(user.home, 'push-token');
    await writeFile(tokenFile, createToken(user, db, 'bob', 'developer'), { mode: 0o600 });
    service = await startService(user, user.home, { database: db });
    assert.equal((await aibox(user, ['config', 'set', 'push.service', service.api])).code, 0);
    assert.equal((await aibox(user, ['config', 'set', 'push.token', `file:${tokenFile}`])).code, 0);
    // Reachable from the sandbox through podman's bridge only: the gateway address, not every interface;
    // the policy names that address and port, so the sandbox's egress rules let git:// through to it.
    const gateway = spawnSync('podman', ['network', 'inspect', 'podman', '--format', '{{range .Subnets}}{{.Gateway}}{{end}}'], { encoding: 'utf8' }).stdout.trim() || '127.0.0.1';
    port = await freePort();
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(
      ORG_POLICY_PATH,
      stringify({ version: 1, network: { egress: [{ host: gateway, ports: [port], direct: true }] }, tools: { git_push: { default: 'safe', rules: [{ repo: 'host.containers.internal/team/app', class: 'review-required' }] } } }),
    );
    const started = await aibox(user, ['start', '--port', String(await freePort())]);
    assert.equal(started.code, 0, started.stderr);
    daemon = spawn('git', ['daemon', '--reuseaddr', `--base-path=${base}`, '--export-all', '--enable=receive-pack', `--listen=${gateway}`, `--port=${port}`, base], { stdio: 'ignore' });
    const setup = inside(
      `set -e; for i in $(seq 50); do git ls-remote git://host.containers.internal:${port}/team/app.git >/dev/null 2>&1 && break; sleep 0.2; done
       git config --global user.email dev@example.com; git config --global user.name dev
       git init -q -b main /workspace/app && cd /workspace/app && git commit -q --allow-empty -m first
       git remote add origin git://host.containers.internal:${port}/team/app.git
       git remote add free git://host.containers.internal:${port}/team/free.git`,
    );
    assert.equal(setup.code, 0, setup.stderr);
  });

  after(async () => {
    daemon?.kill();
    await service?.stop();
    await aibox(user, ['rm', '--volumes']);
    await rm(user.home, { recursive: true, force: true });
    if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
    else await writeFile(ORG_POLICY_PATH, savedPolicy);
  });

  it('stages a push to a review-required repository, registers it through the host, lists it, and lets a safe one through', () => {
    const head = inside('git -C /workspace/app rev-parse HEAD').stdout.trim();
    const push = inside('cd /workspace/app && git push origin HEAD:main');
    assert.equal(push.code, 1, push.stderr);
    assert.match(push.stderr, /aibox: refs\/heads\/main staged for approval as [0-9a-f]{10} \(refs\/aibox\/staging\/bob\/\d{8}T\d{6}Z\/heads\/main\)/);
    assert.equal(serverRef('app', 'refs/heads/main'), '', 'main was not created');
    const status = inside('cd /workspace/app && aibox push status --json');
    assert.equal(status.code, 0, status.stderr);
    const pushes = (JSON.parse(status.stdout) as { pushes: { target: string; commit: string; state: string }[] }).pushes;
    assert.deepEqual(pushes.map(({ target, commit, state }) => ({ target, commit, state })), [{ target: 'refs/heads/main', commit: head, state: 'pending' }], 'the service has it: registered through the host');
    assert.match(push.stderr, /aibox: [0-9a-f]{10} is registered with the approval service: approvers are told/);
    assert.doesNotMatch(inside('env; cat ~/.config/aibox/config.yaml 2>/dev/null').stdout, /aibox_[A-Za-z0-9_-]{43}/, 'the token never enters the sandbox');
    const safe = inside('cd /workspace/app && git push free HEAD:main');
    assert.equal(safe.code, 0, safe.stderr);
    assert.equal(serverRef('free', 'refs/heads/main'), head);
  });
});
