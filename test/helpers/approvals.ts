/**
 * What the approval e2e tests and the push benchmark share: a real `git
 * daemon` serving bare repositories with pushes enabled, a work tree that
 * stages pushes as the remote helper does, git-remote-aibox installed with the
 * gitconfig that routes every push through it, and the real service
 * (`dist/aibox.mjs approvals serve`) with its tokens and JSON API.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { stagingRef } from '../../src/push/staging.js';
import { AIBOX, freePort, type TestUser } from './cli.js';

export const GIT_IDENTITY = { GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com' };

export function gitEnv(user: TestUser): NodeJS.ProcessEnv {
  return { ...user.env, GIT_CONFIG_NOSYSTEM: '1', ...GIT_IDENTITY };
}

export function git(user: TestUser, args: string[], cwd: string): string {
  const result = spawnSync('git', args, { cwd, env: gitEnv(user), encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, `git ${args.join(' ')}: ${result.stderr}`);
  return result.stdout.trim();
}

export interface RemoteHelper {
  /** The folder holding the git-remote-aibox wrapper. */
  bin: string;
  /** The gitconfig that turns every push URL into aibox::URL. */
  systemConfig: string;
  /** PATH and GIT_CONFIG_SYSTEM that put both to use (over the caller's env). */
  env: NodeJS.ProcessEnv;
}

/**
 * The helper as the sandbox image installs it, in `dir`: a git-remote-aibox
 * that runs the built CLI, and a system gitconfig (as /etc/gitconfig in the
 * image) with `[url "aibox::"] pushInsteadOf = ""`: every push URL becomes aibox::URL.
 */
export async function installRemoteHelper(dir: string): Promise<RemoteHelper> {
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  await writeFile(join(bin, 'git-remote-aibox'), `#!/bin/sh\nexec "${process.execPath}" "${AIBOX}" git-remote-aibox "$@"\n`);
  await chmod(join(bin, 'git-remote-aibox'), 0o755);
  const systemConfig = join(dir, 'gitconfig');
  await writeFile(systemConfig, '[url "aibox::"]\n\tpushInsteadOf = ""\n');
  return { bin, systemConfig, env: { PATH: `${bin}:${process.env.PATH ?? ''}`, GIT_CONFIG_SYSTEM: systemConfig } };
}

export interface GitServer {
  /** git://127.0.0.1:PORT/team/<name>.git */
  url(name: string): string;
  /** The refs of the bare repository on the server. */
  refs(name: string): Map<string, string>;
  stop(): void;
}

/** A `git daemon` on loopback with an empty bare repository for each name. */
export async function startGitServer(user: TestUser, names: readonly string[]): Promise<GitServer> {
  const base = join(user.home, 'srv');
  await mkdir(join(base, 'team'), { recursive: true });
  for (const name of names) spawnSync('git', ['init', '-q', '--bare', '-b', 'main', join(base, 'team', `${name}.git`)]);
  const port = await freePort();
  const daemon = spawn('git', ['daemon', '--reuseaddr', `--base-path=${base}`, '--export-all', '--enable=receive-pack', '--listen=127.0.0.1', `--port=${port}`, base], { stdio: 'ignore' });
  const server: GitServer = {
    url: (name) => `git://127.0.0.1:${port}/team/${name}.git`,
    refs(name) {
      const out = spawnSync('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: join(base, 'team', `${name}.git`), encoding: 'utf8' }).stdout;
      return new Map(out.split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
    },
    stop: () => daemon.kill(),
  };
  for (let attempt = 0; attempt < 50 && spawnSync('git', ['ls-remote', server.url(names[0] ?? '')], { env: gitEnv(user) }).status !== 0; attempt++) await sleep(100);
  return server;
}

export interface Staged {
  ref: string;
  sha: string;
  /** The body of POST /v1/requests for it. */
  body: Record<string, unknown>;
}

/** A file a commit writes (and adds). */
export interface TreeFile {
  name: string;
  text: string;
}

/**
 * A work tree for one remote: `stage` makes a commit on `base` (changing
 * `file` when given, else empty) and pushes it straight to a fresh staging
 * ref, as git-remote-aibox does.
 */

export class WorkTree {
  private clock = Date.UTC(2026, 10, 27, 12, 0, 0);

  constructor(
    readonly user: TestUser,
    readonly dir: string,
    readonly url: string,
    readonly repository: string,
  ) {}

  /** The work tree with a first commit (holding `file` when given, else empty) pushed to each of `branches`. */
  static async create(user: TestUser, url: string, repository: string, branches: readonly string[], file?: TreeFile): Promise<{ tree: WorkTree; first: string }> {
    const dir = join(user.home, `work-${repository.replace(/\W/g, '-')}`);
    await mkdir(dir);
    const tree = new WorkTree(user, dir, url, repository);
    tree.git(['init', '-q', '-b', 'main']);
    if (file) tree.write(file);
    tree.git(['commit', '-q', '--allow-empty', '-m', 'first']);
    tree.git(['push', '-q', url, ...branches.map((branch) => `HEAD:refs/heads/${branch}`)]);
    return { tree, first: tree.git(['rev-parse', 'HEAD']) };
  }

  git(args: string[]): string {
    return git(this.user, args, this.dir);
  }

  /** Writes `file` and adds it. */
  private write(file: TreeFile): void {
    execFileSync('sh', ['-c', 'printf %s "$2" > "$1"', 'sh', join(this.dir, file.name), file.text]);
    this.git(['add', file.name]);
  }

  /** A commit on `base` (changing `file` when given), not pushed. */
  commit(base: string, message: string, file?: TreeFile): string {
    this.git(['checkout', '-q', '--detach', base]);
    if (file) this.write(file);
    this.git(['commit', '-q', '--allow-empty', '-m', message]);
    return this.git(['rev-parse', 'HEAD']);
  }

  /** A commit on `base` (with `message`, else one naming who, the branch and the time) staged by `who` for refs/heads/<branch>. */
  stage(who: string, branch: string, base: string, file?: TreeFile, message = `${who} on ${branch} ${this.clock}`): Staged {
    const sha = this.commit(base, message, file);
    this.clock += 1000;
    const ref = stagingRef('refs', who, new Date(this.clock), `refs/heads/${branch}`);
    this.git(['push', '-q', this.url, `HEAD:${ref}`]);
    return { ref, sha, body: { repository: this.repository, url: this.url, targetRef: `refs/heads/${branch}`, stagingRef: ref, oldSha: base, newSha: sha, force: false, pushOptions: [] } };
  }
}

export interface Service {
  api: string;
  process: ChildProcess;
  log(): string;
  /** Resolves when the log has a line matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Writes `config` as approvals.yaml in `dir` (mode 600) and starts the service on a free port with it, `env` over the user's. */
export async function startService(user: TestUser, dir: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<Service> {
  const port = await freePort();
  const file = join(dir, `approvals-${port}.yaml`);
  await writeFile(file, stringify({ ...config, listen: `127.0.0.1:${port}` }), { mode: 0o600 });
  const child = spawn(process.execPath, [AIBOX, 'approvals', 'serve', '--config', file], { env: { ...user.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const service: Service = {
    api: `http://127.0.0.1:${port}`,
    process: child,
    log: () => log,
    async waitForLog(pattern, timeoutMs = 20_000) {
      for (const end = Date.now() + timeoutMs; !pattern.test(log); await sleep(50)) {
        if (Date.now() > end || child.exitCode !== null || child.signalCode !== null) assert.fail(`the service log never matched ${pattern}:\n${log}`);
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
  await service.waitForLog(/approval service listening on/);
  return service;
}

/** `aibox approvals token create NAME --role ROLE` against a database; checks the token has that name and role, returns its secret. */
export function createToken(user: TestUser, db: string, name: string, role: string): string {
  const created = execFileSync(process.execPath, [AIBOX, 'approvals', 'token', 'create', name, '--role', role, '--db', db, '--json'], { env: user.env, encoding: 'utf8' });
  const token = (JSON.parse(created) as { token: { name: string; role: string; secret: string } }).token;
  assert.deepEqual([token.name, token.role], [name, role]);
  return token.secret;
}

export interface ApiRequest {
  id: string;
  state: string;
  pusher: string;
  reason?: string;
  decidedBy?: string;
  stagingRef: string;
  history: { state: string; actor: string; reason?: string }[];
}

export async function call(api: string, method: string, path: string, token: string | undefined, body?: object): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** GET /v1/requests as an approver, by staging ref. */
export async function requestsByRef(api: string, token: string): Promise<Map<string, ApiRequest>> {
  const listed = await call(api, 'GET', '/v1/requests', token);
  assert.equal(listed.status, 200, JSON.stringify(listed.json));
  return new Map((listed.json.requests as ApiRequest[]).map((request) => [request.stagingRef, request]));
}

/** Polls `condition` every 100 ms for up to 20 s. */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await condition()) return;
    await sleep(100);
  }
  assert.fail(`never happened: ${what}`);
}
