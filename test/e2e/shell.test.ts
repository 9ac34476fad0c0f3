import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { after, before, describe, it } from 'node:test';
import { renderEnv } from '../../src/packs/sandbox-store.js';
import { aibox, cleanup, freePort, host, sshTo, testUser, type TestUser } from '../helpers/cli.js';

// A real sandbox (gVisor), real git: the dotfiles remotes are bare repositories on this
// host, served read-only by `git daemon` (and over HTTP with Basic auth, git's "dumb"
// protocol) and cloned from inside the sandbox through podman's bridge
// (host.containers.internal). The org policy lets the sandbox reach them: git:// directly
// (the gateway's address and the daemon's port), HTTP through the egress proxy.

const PROXY = 'http://proxy.example.com:3128';
/** What a dotfile that fights aibox does: replace PATH, drop the proxy, and set the user's own things. */
const HOSTILE = 'PATH=/usr/bin:/bin\nunset HTTPS_PROXY https_proxy\nexport EDITOR=nano\nalias ll="ls -l"\n';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8' });
}

/** The only credentials the HTTP remote takes. */
const HTTP_USER = 'dot';
const HTTP_PASSWORD = 's3cret';

class Remotes {
  private daemon?: ChildProcess;
  private http?: Server;
  port = 0;
  httpPort = 0;
  /** Requests the HTTP remote answered with the right credentials. */
  authorized = 0;
  constructor(readonly root: string) {}

  /** The bare repositories as static files, for clients that send HTTP_USER:HTTP_PASSWORD. */
  async serveHttp(): Promise<void> {
    this.httpPort = await freePort();
    const expected = `Basic ${Buffer.from(`${HTTP_USER}:${HTTP_PASSWORD}`).toString('base64')}`;
    this.http = createServer((request, response) => {
      if (request.headers.authorization !== expected) {
        response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="dotfiles"' }).end();
        return;
      }
      this.authorized += 1;
      const path = join(this.root, decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname));
      readFile(path).then(
        (body) => response.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(body),
        () => response.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => this.http?.listen(this.httpPort, '0.0.0.0', resolve));
  }

  httpUrl(name: string): string {
    return `http://host.containers.internal:${this.httpPort}/${name}.git`;
  }

  async serve(): Promise<void> {
    this.port = await freePort();
    this.daemon = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${this.root}`, '--listen=0.0.0.0', `--port=${this.port}`, this.root], { stdio: 'ignore' });
    for (let tries = 0; tries < 50; tries++) {
      if (host('git', ['ls-remote', `git://127.0.0.1:${this.port}/`]).stderr.includes('not found') || tries > 20) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  stop(): void {
    this.daemon?.kill();
    this.http?.close();
  }

  url(name: string): string {
    return `git://host.containers.internal:${this.port}/${name}.git`;
  }

  /** Commits files to the repository NAME (created on first use) and pushes them to its bare remote. */
  async commit(name: string, files: Record<string, string>, executable: string[] = []): Promise<void> {
    const work = join(this.root, 'work', name);
    const bare = join(this.root, `${name}.git`);
    if (!existsSync(work)) {
      await mkdir(work, { recursive: true });
      git(work, 'init', '-q', '-b', 'main');
      git(this.root, 'init', '-q', '--bare', '-b', 'main', bare);
      git(work, 'remote', 'add', 'origin', bare);
    }
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(work, path, '..'), { recursive: true });
      await writeFile(join(work, path), content);
      if (executable.includes(path)) await chmod(join(work, path), 0o755);
    }
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', `dotfiles ${Date.now()}`);
    git(work, 'push', '-q', 'origin', 'main');
    git(bare, 'update-server-info'); // for the HTTP remote
  }
}

interface StartReport {
  code: number;
  stderr: string;
  shell?: { status: string; fetch?: string; moved?: string; script?: string; exit?: number; linked?: number; backups?: number; error?: string };
}

async function start(user: TestUser): Promise<StartReport> {
  const result = await aibox(user, ['start', '--json']);
  const parsed = result.code === 0 ? (JSON.parse(result.stdout) as { shell?: StartReport['shell'] }) : {};
  return { code: result.code, stderr: result.stderr, shell: parsed.shell };
}

async function restart(user: TestUser): Promise<StartReport> {
  const stop = await aibox(user, ['stop']);
  assert.equal(stop.code, 0, stop.stderr);
  return start(user);
}

async function set(user: TestUser, key: string, value: string): Promise<void> {
  const result = await aibox(user, ['config', 'set', key, value]);
  assert.equal(result.code, 0, result.stderr);
}

function ssh(user: TestUser, command: string): string {
  const result = sshTo(user, command);
  assert.equal(result.code, 0, `${command}: ${result.stderr}`);
  return result.stdout;
}

/** Every kind of shell, started from an ssh command: NAME|fakejava|HTTPS_PROXY|EDITOR|alias ll|LAST|REPAIRED|bash's DEBUG trap. */
const MATRIX = [
  `p='printf "%s|%s|%s|%s|%s|%s|%s\\n" "$(command -v fakejava)" "\${HTTPS_PROXY-}" "\${EDITOR-}" "$(alias ll 2>/dev/null)" "\${AIBOX_ENV_LAST-}" "\${AIBOX_ENV_REPAIRED-}" "\${BASH_VERSION:+$(trap -p DEBUG)}"'`,
  `printf 'ssh|'; eval "$p"`,
  `for s in 'bash -lc' 'bash -ic' 'bash -lic' 'zsh -c' 'zsh -lc' 'zsh -ic' 'zsh -lic'; do printf '%s|' "$s"; eval "$s \\"\\$p\\"" </dev/null 2>/dev/null; done`,
].join('\n');

function matrix(user: TestUser): Map<string, string[]> {
  return new Map(ssh(user, MATRIX).trim().split('\n').map((line) => {
    const [name = '', ...fields] = line.split('|');
    return [name, fields];
  }));
}

/** Runs commands in an interactive shell (empty: the login shell) in a tmux session in the sandbox, as a developer types them. */
function typeInto(user: TestUser, shell: string, commands: string[]): void {
  const session = `h${Date.now()}`;
  const keys = commands.map((command) => `tmux send-keys -t ${session} '${command}' Enter; sleep 0.5`).join('; ');
  ssh(user, `tmux new-session -d -s ${session} -x 120 -y 30 ${shell ? `'${shell}'` : ''}; sleep 2; ${keys}; sleep 1`);
}

function killTmux(user: TestUser): void {
  sshTo(user, 'tmux kill-server');
}

const ORG_POLICY = '/etc/aibox/policy.yaml';

describe('shells, dotfiles and history in a real sandbox', () => {
  let user: TestUser;
  let remotes: Remotes;
  let savedOrgPolicy: string | undefined;
  before(async () => {
    user = await testUser('e2e-shell');
    remotes = new Remotes(await mkdtemp(join(tmpdir(), 'aibox-dotfiles-remote-')));
    await remotes.serve();
    await remotes.serveHttp();
    const gateway = host('podman', ['network', 'inspect', 'podman', '--format', '{{range .Subnets}}{{.Gateway}}{{end}}']).stdout.trim();
    savedOrgPolicy = existsSync(ORG_POLICY) ? await readFile(ORG_POLICY, 'utf8') : undefined;
    await mkdir('/etc/aibox', { recursive: true });
    const egress = [{ host: gateway, ports: [remotes.port], direct: true }, { host: 'host.containers.internal', ports: [remotes.httpPort] }];
    await writeFile(ORG_POLICY, stringify({ version: 1, network: { egress } }));
    await remotes.commit('private', { 'install.sh': 'echo private > "$HOME/private-ran"\n' }, ['install.sh']);
    await remotes.commit('install', { 'install.sh': 'echo "install.sh ran in $PWD"; echo run >> "$HOME/install-runs"\n', '.vimrc': 'not linked\n' }, ['install.sh']);
    await remotes.commit('make', { Makefile: 'all:\n\techo made > "$$HOME/made"\n' });
    await remotes.commit('failing', { 'install.sh': 'echo "about to fail" >&2\nexit 3\n' }, ['install.sh']);
    await remotes.commit('empty', { 'README.md': 'no dotfiles here\n' });
    await remotes.commit('links', { '.bashrc': HOSTILE, '.profile': HOSTILE, '.zshenv': HOSTILE, '.zshrc': HOSTILE, '.vimrc': 'set number\n', '.tmux.conf': 'set -g mouse off\n', 'README.md': 'x\n' });
    await set(user, 'ssh.port', String(await freePort()));
  });
  after(async () => {
    killTmux(user);
    await cleanup(user);
    remotes.stop();
    await rm(remotes.root, { recursive: true, force: true });
    if (savedOrgPolicy === undefined) await rm(ORG_POLICY, { force: true });
    else await writeFile(ORG_POLICY, savedOrgPolicy);
  });

  it('clones the repository inside the sandbox and runs install.sh once per commit, pulling on restart', async () => {
    await set(user, 'dotfiles.repo', remotes.url('install'));
    const first = await start(user);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual([first.shell?.status, first.shell?.fetch, first.shell?.script], ['installed', 'cloned', 'install.sh']);
    assert.match(ssh(user, 'cat ~/.aibox/dotfiles.log'), /install\.sh ran in \/home\/dev\/\.aibox\/dotfiles/);
    assert.equal(ssh(user, 'test -L ~/.vimrc && echo linked || echo not-linked').trim(), 'not-linked');
    const same = await restart(user);
    assert.deepEqual([same.shell?.status, same.shell?.fetch], ['up-to-date', 'pulled']);
    assert.equal((await aibox(user, ['stop'])).code, 0);
    const human = await aibox(user, ['start']);
    assert.match(human.stderr, /dotfiles: git:\/\/.*install\.git at [0-9a-f]{12}, install\.sh already ran for it/);
    await remotes.commit('install', { 'install.sh': 'echo run >> "$HOME/install-runs"; echo v2 > "$HOME/install-version"\n' }, ['install.sh']);
    const pulled = await restart(user);
    assert.deepEqual([pulled.shell?.status, pulled.shell?.fetch], ['installed', 'pulled']);
    assert.equal(ssh(user, 'cat ~/install-runs ~/install-version'), 'run\nrun\nv2\n');
  });

  it('moves the old clone aside when the URL changes, and runs make when there is only a Makefile', async () => {
    await set(user, 'dotfiles.repo', remotes.url('make'));
    assert.equal((await aibox(user, ['stop'])).code, 0);
    const human = await aibox(user, ['start']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stderr, /dotfiles: dotfiles\.repo changed; the previous clone is in \/home\/dev\/\.aibox\/dotfiles\.\d{8}-\d{6}/);
    assert.match(human.stderr, /dotfiles: ran make from git:\/\/.*make\.git; log: \/home\/dev\/\.aibox\/dotfiles\.log/);
    assert.equal(ssh(user, 'cat ~/made; for d in ~/.aibox/dotfiles.*/; do test -x "$d/install.sh" && echo old-clone-kept; done'), 'made\nold-clone-kept\n');
  });

  it('reports a failing install script in one line with its log, and the sandbox still starts', async () => {
    await set(user, 'dotfiles.repo', remotes.url('failing'));
    const report = await restart(user);
    assert.equal(report.code, 0, report.stderr);
    const warnings = report.stderr.split('\n').filter((line) => line.startsWith('warning:'));
    assert.deepEqual(warnings, ['warning: dotfiles: install.sh failed (exit 3); log: /home/dev/.aibox/dotfiles.log (read it: aibox exec -- cat /home/dev/.aibox/dotfiles.log)']);
    assert.match(ssh(user, 'cat ~/.aibox/dotfiles.log'), /about to fail[\s\S]*exited with 3/);
    const exec = await aibox(user, ['exec', '--', 'cat', '/home/dev/.aibox/dotfiles.log']);
    assert.match(exec.stdout, /about to fail/);
  });

  it('refuses a malformed URL, and reports an unreachable one or one without dotfiles while the sandbox starts', async () => {
    const malformed = await aibox(user, ['config', 'set', 'dotfiles.repo', 'not a url']);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /invalid value "not a url" for dotfiles\.repo: must be a git URL such as https:\/\/git\.example\.com/);
    await set(user, 'dotfiles.repo', `git://host.containers.internal:${await freePort()}/nothing.git`);
    const unreachable = await restart(user);
    assert.equal(unreachable.code, 0, unreachable.stderr);
    assert.equal(unreachable.shell?.status, 'clone-failed');
    const [warning, ...more] = unreachable.stderr.split('\n').filter((line) => line.startsWith('warning:'));
    assert.match(warning ?? '', /^warning: dotfiles: cannot clone git:\/\/host\.containers\.internal:\d+\/nothing\.git: .*(unable to connect|Connection refused|No route to host).*; log: \/home\/dev\/\.aibox\/dotfiles\.log/);
    assert.deepEqual(more, []);
    await set(user, 'dotfiles.repo', remotes.url('empty'));
    const empty = await restart(user);
    assert.equal(empty.shell?.status, 'empty');
    assert.match(empty.stderr, /warning: dotfiles: git:\/\/.*empty\.git has no install script, no Makefile and no dot files: nothing to install/);
    assert.equal(ssh(user, 'echo reachable').trim(), 'reachable');
  });

  it("authenticates an HTTP clone with the sandbox's git credential helper alone, and never prompts", async () => {
    await set(user, 'dotfiles.repo', remotes.httpUrl('private'));
    const denied = await restart(user);
    assert.equal(denied.code, 0, denied.stderr);
    assert.equal(denied.shell?.status, 'clone-failed');
    assert.match(denied.shell?.error ?? '', /terminal prompts disabled|could not read Username/);
    assert.equal(remotes.authorized, 0);
    // The sandbox's own helper (in dev's git config, where pushes look too) has the credentials.
    ssh(user, `git config --global credential.helper 'store --file=/home/dev/.git-test-credentials' && printf '%s\\n' 'http://${HTTP_USER}:${HTTP_PASSWORD}@host.containers.internal:${remotes.httpPort}' > ~/.git-test-credentials`);
    const cloned = await restart(user);
    assert.deepEqual([cloned.shell?.status, cloned.shell?.fetch], ['installed', 'cloned'], cloned.stderr);
    assert.equal(ssh(user, 'cat ~/private-ran').trim(), 'private');
    assert.ok(remotes.authorized > 0, 'the remote saw the credentials');
    ssh(user, 'git config --global --unset credential.helper; rm ~/.git-test-credentials ~/private-ran');
  });

  it('links the dot files, keeping replaced files as .aibox-bak, idempotently', async () => {
    ssh(user, 'echo "my own vimrc" > ~/.vimrc');
    await set(user, 'dotfiles.repo', remotes.url('links'));
    const linked = await restart(user);
    assert.deepEqual([linked.shell?.status, linked.shell?.linked], ['linked', 6]);
    assert.ok((linked.shell?.backups ?? 0) >= 2, 'at least .vimrc and .bashrc were regular files');
    assert.equal(ssh(user, 'readlink ~/.vimrc; cat ~/.vimrc.aibox-bak; test -e ~/README.md || echo no-readme'), '/home/dev/.aibox/dotfiles/.vimrc\nmy own vimrc\nno-readme\n');
    assert.match(ssh(user, 'cat ~/.bashrc.aibox-bak'), /~\/\.bashrc: aibox's default/);
    const again = await restart(user);
    assert.deepEqual([again.shell?.status, again.shell?.linked, again.shell?.backups], ['linked', 0, 0]);
    assert.equal(ssh(user, 'ls -d ~/.vimrc.aibox-bak*').trim().split('\n').length, 1);
  });

  it('keeps the packs on PATH and the proxy set in every bash and zsh, even with hostile dotfiles; the user wins elsewhere', async () => {
    // The packs' env.sh exactly as aibox writes it, and the proxy file, both root's (podman exec).
    const env = renderEnv({ version: 1, packs: { fake: { version: '1.0.0', digest: 'sha256:0', layer: 'sha256:0', registry: 'test', installedAt: '', path: ['/opt/toolpacks/fake/1.0.0/bin'], vars: { FAKE_HOME: '/opt/toolpacks/fake/1.0.0' }, caches: [], source: 'install' } } });
    const proxy = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].map((name) => `export ${name}=${PROXY}`).join('\n');
    const write = host('podman', ['exec', '-i', '--user', '0', user.name, 'sh', '-c', `mkdir -p /opt/toolpacks/fake/1.0.0/bin /opt/toolpacks/.aibox && printf '#!/bin/sh\\necho fake java\\n' > /opt/toolpacks/fake/1.0.0/bin/fakejava && chmod 755 /opt/toolpacks/fake/1.0.0/bin/fakejava && cat > /opt/toolpacks/.aibox/env.sh && printf '%s\\n' '${proxy}' > /opt/toolpacks/.aibox/proxy.sh`], env);
    assert.equal(write.code, 0, write.stderr);
    const rows = matrix(user);
    assert.deepEqual([...rows.keys()], ['ssh', 'bash -lc', 'bash -ic', 'bash -lic', 'zsh -c', 'zsh -lc', 'zsh -ic', 'zsh -lic']);
    for (const [name, [java, httpsProxy, editor, alias, last, , trap]] of rows) {
      assert.equal(java, '/opt/toolpacks/fake/1.0.0/bin/fakejava', `${name}: the tool pack is on PATH`);
      assert.equal(httpsProxy, PROXY, `${name}: the proxy is set`);
      assert.equal(last, '1', `${name}: aibox's environment ran last`);
      assert.equal(trap, '', `${name}: the last pass removed its DEBUG trap (it must not run before every command)`);
      if (name !== 'ssh') assert.equal(editor, 'nano', `${name}: the user's EDITOR wins`);
      if (name.includes('i')) assert.match(alias ?? '', /ll=/, `${name}: the user's alias is there`);
    }
    // What the issue names: a tool pack in a non-interactive ssh command, also as the only command.
    assert.equal(ssh(user, 'which fakejava').trim(), '/opt/toolpacks/fake/1.0.0/bin/fakejava');
    assert.equal(ssh(user, 'fakejava').trim(), 'fake java');
    const doctor = JSON.parse((await aibox(user, ['doctor', '--json'])).stdout) as { checks: { name: string; status: string; detail: string }[] };
    const shell = doctor.checks.find((check) => check.name === 'shell');
    assert.equal(shell?.status, 'warn');
    assert.match(shell?.detail ?? '', /a dotfile drops the tool packs' PATH entries \(.*bash -ic.*\)/);
    assert.match(shell?.detail ?? '', /a dotfile unsets or changes the proxy variables/);
    // Terminals (a prompt, no command): the last pass runs before the first prompt, not from a trap.
    for (const name of ['bash', 'zsh']) {
      typeInto(user, name, [`echo "$(command -v fakejava)|$HTTPS_PROXY|$AIBOX_ENV_LAST|$AIBOX_ENV_REPAIRED" > /tmp/term-${name}`]);
      assert.equal(ssh(user, `cat /tmp/term-${name}`).trim(), `/opt/toolpacks/fake/1.0.0/bin/fakejava|${PROXY}|1|PATH proxy`, `a ${name} terminal`);
    }
    killTmux(user);
  });

  it('uses the tmux defaults only without a ~/.tmux.conf of the user', () => {
    assert.equal(ssh(user, 'tmux -L a new-session -d; tmux -L a show -g mouse; tmux -L a kill-server').trim(), 'mouse off');
    assert.equal(ssh(user, 'mv ~/.tmux.conf ~/.tmux.conf.away; tmux -L b new-session -d; tmux -L b show -g mouse; tmux -L b show -g history-limit; tmux -L b kill-server; mv ~/.tmux.conf.away ~/.tmux.conf').trim(), 'mouse on\nhistory-limit 50000');
  });

  it('switches the login shell to zsh for ssh and tmux, with the same environment', async () => {
    await set(user, 'dotfiles.repo', '');
    await set(user, 'shell', 'zsh');
    const report = await restart(user);
    assert.equal(report.shell?.status, 'none');
    // The restart put aibox's own proxy file back: the sandbox's egress proxy.
    const proxy = `http://${host('podman', ['inspect', '--format', '{{.NetworkSettings.IPAddress}}', `${user.name}-egress`]).stdout.trim()}:3128`;
    assert.equal(ssh(user, 'echo "$ZSH_VERSION" | cut -c1; echo "$SHELL"; command -v fakejava; echo "$HTTPS_PROXY"').trim(), `5\n/bin/zsh\n/opt/toolpacks/fake/1.0.0/bin/fakejava\n${proxy}`);
    typeInto(user, '', ['echo "pane:$ZSH_NAME:$HTTPS_PROXY" > /tmp/pane']);
    assert.equal(ssh(user, 'cat /tmp/pane').trim(), `pane:zsh:${proxy}`);
    killTmux(user);
  });

  it('appends bash and zsh history after every command and keeps it across stop/start and re-creation', async () => {
    const marker = `m${Date.now()}`;
    typeInto(user, 'bash -l', [`echo bash-${marker}`]);
    typeInto(user, 'zsh -l', [`echo zsh-${marker}`]);
    // Still running (nothing exited): the commands are in the files already.
    assert.equal(ssh(user, `grep -h ${marker} ~/.bash_history ~/.zsh_history`), `echo bash-${marker}\necho zsh-${marker}\n`);
    killTmux(user);
    await restart(user);
    assert.match(ssh(user, `grep -h ${marker} ~/.bash_history ~/.zsh_history`), new RegExp(`bash-${marker}[\\s\\S]*zsh-${marker}`));
    assert.equal((await aibox(user, ['rm'])).code, 0);
    const recreated = await start(user);
    assert.equal(recreated.code, 0, recreated.stderr);
    assert.match(ssh(user, `grep -h ${marker} ~/.bash_history ~/.zsh_history`), new RegExp(`bash-${marker}[\\s\\S]*zsh-${marker}`));
  });
});
