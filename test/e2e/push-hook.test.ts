/**
 * Server-side enforcement for real: bare repositories served by a real OpenSSH
 * server on loopback (its own host key, config and authorized_keys, whose forced
 * commands name the pusher in AIBOX_PUSHER and run git-shell), the hook installed
 * by the built `aibox approvals install-hook`, and real `git push` over ssh://.
 * Developers write only their own staging namespace; only the service moves
 * protected refs and deletes others' staging refs (the real `approvals serve`,
 * given the service's key, promotes and rejects through it); no identity, no push.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { lstat, mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { HOOK_MARKER } from '../../src/push/hook/index.js';
import { stagingRef, type StagingMode } from '../../src/push/staging.js';
import { canonicalRepo } from '../../src/policy/repo-url.js';
import { AIBOX, aibox, freePort, testUser, type CliResult, type TestUser } from '../helpers/cli.js';
import { startGitSshServer, type GitSshServer } from '../helpers/git-ssh-server.js';

/** Each key's forced command names its owner; the anonymous key names nobody. */
const KEYS = { alice: 'alice', bob: 'bob', 'aibox-approvals': 'aibox-approvals', anonymous: undefined };
type Key = keyof typeof KEYS;

/** One clear line (plus an optional hint line) and the exit code. */
function assertOneLine(result: CliResult, code: number, message: RegExp): void {
  assert.equal(result.code, code, result.stderr);
  const lines = result.stderr.trim().split('\n');
  assert.match(lines[0] ?? '', message);
  assert.ok(lines.length <= 2 && (lines[1] === undefined || lines[1].startsWith('hint: ')), result.stderr);
}

describe('aibox approvals install-hook: a real git server over SSH enforces the staging namespace', { timeout: 120_000 }, () => {
  let user: TestUser;
  let srv: string;
  let work: string;
  let server: GitSshServer;
  let service: ChildProcess | undefined;
  let first: string;
  let clock = Date.UTC(2026, 10, 27, 12, 0, 0);

  const gitEnv = () => ({ ...user.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com' });

  function git(args: string[], cwd = work): string {
    const result = spawnSync('git', args, { cwd, env: gitEnv(), encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, `git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  }

  const urlOf = (repo: string) => server.url(join(srv, repo));

  /** git push over ssh:// with one key, as that key's owner would. */
  function push(key: Key, repo: string, refspecs: string[], sshOptions: string[] = []): { code: number; stderr: string; refused: string[] } {
    const result = spawnSync('git', ['push', '--porcelain', urlOf(repo), ...refspecs], { cwd: work, env: { ...gitEnv(), GIT_SSH_COMMAND: server.sshCommand(key, sshOptions) }, encoding: 'utf8', timeout: 30_000 });
    const refused = result.stderr.split('\n').filter((line) => line.includes('aibox: refused: ')).map((line) => line.replace(/^remote: /, '').trim());
    return { code: result.status ?? -1, stderr: result.stderr, refused };
  }

  function refsOf(repo: string): Map<string, string> {
    const out = spawnSync('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: join(srv, repo), encoding: 'utf8' }).stdout;
    return new Map(out.split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
  }

  /** A new commit on top of `first`. */
  function commit(message: string): string {
    git(['checkout', '-q', '--detach', first]);
    git(['commit', '-q', '--allow-empty', '-m', message]);
    return git(['rev-parse', 'HEAD']);
  }

  function staging(mode: StagingMode, who: string, target = 'refs/heads/main'): string {
    clock += 1000;
    return stagingRef(mode, who, new Date(clock), target);
  }

  before(async () => {
    user = await testUser('e2e-hook');
    srv = join(user.home, 'srv');
    work = join(user.home, 'work');
    await mkdir(srv);
    await mkdir(work);
    git(['init', '-q', '-b', 'main']);
    git(['commit', '-q', '--allow-empty', '-m', 'first']);
    first = git(['rev-parse', 'HEAD']);
    for (const repo of ['refs.git', 'branches.git']) {
      git(['init', '-q', '--bare', '-b', 'main', join(srv, repo)]);
      git(['push', '-q', join(srv, repo), 'HEAD:refs/heads/main']);
    }

    server = await startGitSshServer(join(user.home, 'sshd'), user.home, KEYS);

    for (const [repo, mode] of [['refs.git', 'refs'], ['branches.git', 'branches']] as const) {
      const installed = await aibox(user, ['approvals', 'install-hook', join(srv, repo), '--namespace', mode, '--json']);
      assert.equal(installed.code, 0, installed.stderr);
      const hook = (JSON.parse(installed.stdout) as { hook: Record<string, unknown> }).hook;
      assert.deepEqual(hook, {
        repository: join(srv, repo),
        path: join(srv, repo, 'hooks', 'pre-receive'),
        previous: 'none',
        serviceIdentity: 'aibox-approvals',
        identityEnv: 'AIBOX_PUSHER',
        namespace: mode,
        stagingRoot: mode === 'refs' ? 'refs/aibox/staging/' : 'refs/heads/aibox/staging/',
        protect: ['refs/heads/*', 'refs/tags/*'],
      });
      assert.equal((await lstat(join(srv, repo, 'hooks', 'pre-receive'))).mode & 0o777, 0o755);
    }
  });

  after(async () => {
    service?.kill('SIGTERM');
    server?.stop();
    await rm(user.home, { recursive: true, force: true });
  });

  for (const mode of ['refs', 'branches'] as const) {
    const repo = `${mode}.git`;

    it(`${mode} mode: a developer writes only their own staging namespace; main, tags and others' namespaces are refused`, () => {
      const sha = commit(`alice ${mode}`);
      const direct = push('alice', repo, [`${sha}:refs/heads/main`]);
      assert.notEqual(direct.code, 0);
      assert.deepEqual(direct.refused, [
        'aibox: refused: alice may not update refs/heads/main: only aibox-approvals (the approval service) may; pushes that bypass the aibox helper are not allowed: push from the aibox sandbox, so the push is staged for approval',
      ]);
      assert.equal(refsOf(repo).get('refs/heads/main'), first, 'main is unchanged');

      const own = staging(mode, 'alice');
      const staged = push('alice', repo, [`${sha}:${own}`]);
      assert.equal(staged.code, 0, staged.stderr);
      assert.equal(refsOf(repo).get(own), sha);

      const theirs = staging(mode, 'bob');
      const intoBob = push('alice', repo, [`${sha}:${theirs}`]);
      assert.notEqual(intoBob.code, 0);
      assert.deepEqual(intoBob.refused, [`aibox: refused: alice may not create ${theirs}: it is bob's staging namespace; pushes that bypass the aibox helper are not allowed: push from the aibox sandbox, so the push is staged for approval`]);
      assert.equal(refsOf(repo).has(theirs), false);

      assert.equal(push('bob', repo, [`${first}:${theirs}`]).code, 0, 'bob stages in his own namespace');
      const deleteBob = push('alice', repo, [`:${theirs}`]);
      assert.notEqual(deleteBob.code, 0);
      assert.match(deleteBob.refused[0] ?? '', new RegExp(`alice may not delete ${theirs}: it is bob's staging namespace`));
      assert.equal(refsOf(repo).get(theirs), first, "bob's staging ref stays");

      const tag = push('alice', repo, [`${sha}:refs/tags/v1`]);
      assert.notEqual(tag.code, 0);
      assert.match(tag.refused[0] ?? '', /alice may not create refs\/tags\/v1: only aibox-approvals/);
      assert.equal(refsOf(repo).has('refs/tags/v1'), false);

      const feature = push('alice', repo, [`${sha}:refs/heads/feature`]);
      assert.match(feature.refused[0] ?? '', /alice may not create refs\/heads\/feature: only aibox-approvals/);

      // One push, one refused ref: git refuses it whole, and says why once.
      const mixed = push('alice', repo, [`${sha}:${staging(mode, 'alice')}`, `${sha}:refs/heads/main`]);
      assert.notEqual(mixed.code, 0);
      assert.equal(mixed.refused.length, 1, mixed.stderr);
      assert.match(mixed.refused[0] ?? '', /alice may not update refs\/heads\/main/);
    });

    it(`${mode} mode: the service promotes (main moves, the staging ref is deleted in one atomic push) and deletes others' staging refs`, () => {
      const sha = commit(`promote ${mode}`);
      const own = staging(mode, 'alice');
      assert.equal(push('alice', repo, [`${sha}:${own}`]).code, 0);
      const promoted = push('aibox-approvals', repo, ['--atomic', `--force-with-lease=refs/heads/main:${refsOf(repo).get('refs/heads/main')}`, `${sha}:refs/heads/main`, `:${own}`]);
      assert.equal(promoted.code, 0, promoted.stderr);
      assert.equal(refsOf(repo).get('refs/heads/main'), sha);
      assert.equal(refsOf(repo).has(own), false);

      const rejected = staging(mode, 'bob');
      assert.equal(push('bob', repo, [`${first}:${rejected}`]).code, 0);
      assert.equal(push('aibox-approvals', repo, [`:${rejected}`]).code, 0, 'reject deletes it');
      assert.equal(refsOf(repo).has(rejected), false);
      assert.equal(push('aibox-approvals', repo, [`${sha}:refs/tags/v-${mode}`]).code, 0, 'the service may tag');
    });
  }

  it('the real approval service, with the service key, promotes and rejects through the hook', async () => {
    const db = join(user.home, 'approvals.db');
    const tokens: Record<string, string> = {};
    for (const [name, role] of [['alice', 'developer'], ['carol', 'team-lead']] as const) {
      const created = await aibox(user, ['approvals', 'token', 'create', name, '--role', role, '--db', db, '--json']);
      assert.equal(created.code, 0, created.stderr);
      tokens[name] = (JSON.parse(created.stdout) as { token: { secret: string } }).token.secret;
    }
    const apiPort = await freePort();
    service = spawn(process.execPath, [AIBOX, 'approvals', 'serve', '--listen', `127.0.0.1:${apiPort}`, '--db', db], {
      env: { ...user.env, GIT_SSH_COMMAND: server.sshCommand('aibox-approvals') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    service.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    for (let attempt = 0; attempt < 100 && !log.includes('listening on'); attempt++) await sleep(100);
    const call = async (path: string, token: string | undefined, body: object) => {
      const response = await fetch(`http://127.0.0.1:${apiPort}/v1${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, json: (await response.json()) as { id?: string; request?: { state: string } } };
    };
    const url = urlOf('refs.git');
    const canonical = canonicalRepo(url);
    assert.ok('repo' in canonical);
    const register = async (message: string) => {
      const sha = commit(message);
      const ref = staging('refs', 'alice');
      assert.equal(push('alice', 'refs.git', [`${sha}:${ref}`]).code, 0);
      const body = { repository: canonical.repo, url, targetRef: 'refs/heads/main', stagingRef: ref, oldSha: refsOf('refs.git').get('refs/heads/main') ?? null, newSha: sha, force: true, pushOptions: [] };
      const created = await call('/requests', tokens.alice, body);
      assert.equal(created.status, 201, JSON.stringify(created.json));
      return { id: String(created.json.id), ref, sha };
    };

    const approved = await register('approved through the service');
    const promoted = await call(`/requests/${approved.id}/approve`, tokens.carol, {});
    assert.equal(promoted.status, 200, `${JSON.stringify(promoted.json)} ${log}`);
    assert.equal(promoted.json.request?.state, 'promoted');
    assert.equal(refsOf('refs.git').get('refs/heads/main'), approved.sha);
    assert.equal(refsOf('refs.git').has(approved.ref), false);

    const rejected = await register('rejected through the service');
    assert.equal((await call(`/requests/${rejected.id}/reject`, tokens.carol, { reason: 'no' })).status, 200);
    assert.equal(refsOf('refs.git').has(rejected.ref), false);
    assert.equal(refsOf('refs.git').get('refs/heads/main'), approved.sha);
  });

  it('a push without an identity is refused, even when the client sends AIBOX_PUSHER itself', () => {
    const sha = commit('anonymous');
    for (const options of [[], ['-o', 'SetEnv=AIBOX_PUSHER=aibox-approvals']]) {
      const result = push('anonymous', 'refs.git', [`+${sha}:refs/heads/main`, `${sha}:${staging('refs', 'alice')}`], options);
      assert.notEqual(result.code, 0);
      assert.equal(result.refused.length, 2, result.stderr);
      assert.match(result.refused[0] ?? '', /refs\/heads\/main: the git server named no pusher \(AIBOX_PUSHER is empty\)/);
    }
    assert.notEqual(refsOf('refs.git').get('refs/heads/main'), sha);
  });

  describe('installing', () => {
    const foreign = '#!/bin/sh\n# the server admin\'s own hook\nexit 0\n';
    async function bareRepo(name: string): Promise<string> {
      const path = join(srv, name);
      git(['init', '-q', '--bare', path]);
      await mkdir(join(path, 'hooks'), { recursive: true });
      return path;
    }

    it('a foreign hook is left untouched without --force; --force keeps it as pre-receive.aibox-bak; aibox replaces its own', async () => {
      const repo = await bareRepo('foreign.git');
      const hook = join(repo, 'hooks', 'pre-receive');
      await writeFile(hook, foreign, { mode: 0o755 });
      const refusedInstall = await aibox(user, ['approvals', 'install-hook', repo]);
      assertOneLine(refusedInstall, 5, new RegExp(`^error: ${hook} is a hook aibox did not write; it was left as it is$`));
      assert.match(refusedInstall.stderr, /--force/);
      assert.equal(await readFile(hook, 'utf8'), foreign);

      const forced = await aibox(user, ['approvals', 'install-hook', repo, '--force', '--json']);
      assert.equal(forced.code, 0, forced.stderr);
      const result = (JSON.parse(forced.stdout) as { hook: { previous: string; backup?: string } }).hook;
      assert.deepEqual([result.previous, result.backup], ['foreign', `${hook}.aibox-bak`]);
      assert.equal(await readFile(`${hook}.aibox-bak`, 'utf8'), foreign);
      assert.equal((await readFile(hook, 'utf8')).split('\n')[1], HOOK_MARKER);

      const again = await aibox(user, ['approvals', 'install-hook', repo, '--json', '--service-identity', 'bot@example.com']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((JSON.parse(again.stdout) as { hook: { previous: string; backup?: string } }).hook.previous, 'aibox');
      assert.match(await readFile(hook, 'utf8'), /^service=bot@example\.com$/m);
      assert.equal(await readFile(`${hook}.aibox-bak`, 'utf8'), foreign, 'the backup is kept');

      await writeFile(hook, foreign);
      assertOneLine(await aibox(user, ['approvals', 'install-hook', repo, '--force']), 5, /pre-receive\.aibox-bak already exists/);
      assert.equal(await readFile(hook, 'utf8'), foreign, 'an earlier backup is never overwritten');
    });

    it('a hook that is a symlink is replaced as a link: its target, maybe shared by other repositories, stays as it was', async () => {
      const repo = await bareRepo('linked.git');
      const shared = join(srv, 'shared-pre-receive');
      await writeFile(shared, foreign, { mode: 0o755 });
      await symlink(shared, join(repo, 'hooks', 'pre-receive'));
      const forced = await aibox(user, ['approvals', 'install-hook', repo, '--force']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(await readFile(shared, 'utf8'), foreign);
      assert.equal(await readlink(join(repo, 'hooks', 'pre-receive.aibox-bak')), shared);
      assert.ok((await lstat(join(repo, 'hooks', 'pre-receive'))).isFile());
    });

    it('BARE_REPO must be a bare repository and flags are checked (test/unit/push-hook.test.ts has them all): one clear line, nothing written', async () => {
      const missing = join(srv, 'missing.git');
      assertOneLine(await aibox(user, ['approvals', 'install-hook', missing]), 2, new RegExp(`^error: BARE_REPO: ${missing} does not exist$`));
      assertOneLine(await aibox(user, ['approvals', 'install-hook', work]), 2, new RegExp(`^error: BARE_REPO: ${work} is not a bare git repository \\(git: `));
      assertOneLine(await aibox(user, ['approvals', 'install-hook', join(work, '.git')]), 2, /is a repository with a working tree, not a bare repository$/);
      const repo = await bareRepo('flags.git');
      assertOneLine(await aibox(user, ['approvals', 'install-hook', repo, '--service-identity', "x'; rm -rf /"]), 2, /^error: --service-identity: expected a name .*\(got "x'; rm -rf \/"\)$/);
      await assert.rejects(lstat(join(repo, 'hooks', 'pre-receive')), { code: 'ENOENT' });
    });
  });
});
