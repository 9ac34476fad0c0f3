import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { describeSetup, parseSetupReport, type SetupReport } from '../../src/shell/setup.js';
import { SETUP_SCRIPT, setupScriptArgs } from '../../src/shell/setup-script.js';

// The setup script runs here exactly as in the sandbox (sh, real git, a bare repository as the remote), in a throwaway HOME.

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd, encoding: 'utf8' });
}

/** A bare repository with these files committed (path → content; mode 755 when the name says so). */
async function dotfilesRepo(files: Record<string, string>, executable: string[] = []): Promise<{ url: string; work: string }> {
  const root = await mkdtemp(join(tmpdir(), 'aibox-dotfiles-'));
  const work = join(root, 'work');
  await mkdir(work);
  git(work, 'init', '-q', '-b', 'main');
  await commit(work, files, executable);
  git(root, 'clone', '-q', '--bare', work, 'remote.git');
  git(work, 'remote', 'add', 'origin', join(root, 'remote.git'));
  return { url: join(root, 'remote.git'), work };
}

async function commit(work: string, files: Record<string, string>, executable: string[] = []): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(work, path, '..'), { recursive: true });
    await writeFile(join(work, path), content);
    if (executable.includes(path)) await chmod(join(work, path), 0o755);
  }
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'dotfiles');
}

function runSetup(home: string, repo: string, options: { script?: string; branch?: string; timeout?: number; shell?: string } = {}): SetupReport {
  const args = setupScriptArgs({ loginShell: options.shell ?? '/bin/bash', repo, branch: options.branch ?? '', script: options.script ?? '', timeoutSeconds: options.timeout ?? 30 });
  const result = spawnSync('sh', ['-c', SETUP_SCRIPT, 'sh', ...args], { env: { PATH: process.env.PATH, HOME: home }, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return parseSetupReport(result.stdout, repo);
}

const newHome = () => mkdtemp(join(tmpdir(), 'aibox-home-'));

describe('shell setup script', () => {
  it('points the login-shell link at the chosen shell and does nothing else without a repository', async () => {
    const home = await newHome();
    const report = runSetup(home, '', { shell: '/bin/sh' });
    assert.equal(report.status, 'none');
    assert.equal(await readlink(join(home, '.aibox/login-shell')), '/bin/sh');
    assert.equal(runSetup(home, '', { shell: '/bin/bash' }).shell, '/bin/bash');
    assert.equal(await readlink(join(home, '.aibox/login-shell')), '/bin/bash');
  });

  it('runs the first install script once per commit, logging its output', async () => {
    const { url, work } = await dotfilesRepo({ 'install.sh': 'echo ran >> "$HOME/install-count"; echo "from install.sh in $PWD"\n', 'setup.sh': 'exit 9\n', '.bashrc': 'x\n' }, ['install.sh']);
    const home = await newHome();
    const first = runSetup(home, url);
    assert.deepEqual([first.status, first.fetch, first.script], ['installed', 'cloned', 'install.sh']);
    assert.match(await readFile(join(home, '.aibox/dotfiles.log'), 'utf8'), /from install.sh in .*\.aibox\/dotfiles/);
    await assert.rejects(lstat(join(home, '.bashrc')), 'a repository with an install script is not linked');
    const again = runSetup(home, url);
    assert.deepEqual([again.status, again.fetch], ['up-to-date', 'pulled']);
    await commit(work, { 'install.sh': 'echo ran >> "$HOME/install-count"\necho v2\n' }, ['install.sh']);
    git(work, 'push', '-q', 'origin', 'main');
    const pulled = runSetup(home, url);
    assert.deepEqual([pulled.status, pulled.fetch], ['installed', 'pulled']);
    assert.equal(await readFile(join(home, 'install-count'), 'utf8'), 'ran\nran\n');
  });

  it('runs a script that is not executable with bash, dotfiles.script first, make with only a Makefile', async () => {
    const scripts = await dotfilesRepo({ 'bootstrap': 'echo boot > "$HOME/ran"\n', 'tools/mine.sh': 'echo mine > "$HOME/ran"\n' });
    const home = await newHome();
    assert.equal(runSetup(home, scripts.url).script, 'bootstrap');
    assert.equal(await readFile(join(home, 'ran'), 'utf8'), 'boot\n');
    const custom = runSetup(await newHome(), scripts.url, { script: 'tools/mine.sh' });
    assert.deepEqual([custom.status, custom.script], ['installed', 'tools/mine.sh']);
    assert.equal(runSetup(await newHome(), scripts.url, { script: 'nope.sh' }).status, 'script-missing');
    const make = await dotfilesRepo({ Makefile: 'all:\n\techo made > "$$HOME/ran"\n' });
    const makeHome = await newHome();
    assert.deepEqual([runSetup(makeHome, make.url).status, runSetup(makeHome, make.url).status], ['installed', 'up-to-date']);
    assert.equal(await readFile(join(makeHome, 'ran'), 'utf8'), 'made\n');
  });

  it('reports a failing or hanging script and runs it again next time', async () => {
    const { url } = await dotfilesRepo({ 'install.sh': 'echo broken >&2; exit 3\n' });
    const home = await newHome();
    const failed = runSetup(home, url);
    assert.deepEqual([failed.status, failed.exit], ['script-failed', 3]);
    assert.match(await readFile(join(home, '.aibox/dotfiles.log'), 'utf8'), /broken[\s\S]*exited with 3/);
    assert.equal(runSetup(home, url).status, 'script-failed');
    const slow = await dotfilesRepo({ 'install.sh': 'sleep 30\n' });
    assert.equal(runSetup(await newHome(), slow.url, { timeout: 1 }).status, 'timed-out');
  });

  it('links top-level dot entries, keeps replaced files as .aibox-bak, merges folders, and is idempotent', async () => {
    const { url } = await dotfilesRepo({ '.bashrc': 'mine\n', '.vimrc': 'set nu\n', '.config/nvim/init.vim': 'x\n', '.gitignore': 'x\n', 'README.md': 'x\n' });
    const home = await newHome();
    await writeFile(join(home, '.bashrc'), 'original\n');
    await mkdir(join(home, '.config/aibox'), { recursive: true });
    await writeFile(join(home, '.config/aibox/mcp.json'), '{}\n');
    const report = runSetup(home, url);
    assert.deepEqual([report.status, report.linked, report.backups], ['linked', 3, 1]);
    assert.equal(await readFile(join(home, '.bashrc'), 'utf8'), 'mine\n');
    assert.equal(await readFile(join(home, '.bashrc.aibox-bak'), 'utf8'), 'original\n');
    assert.equal(await readlink(join(home, '.vimrc')), join(home, '.aibox/dotfiles/.vimrc'));
    assert.equal(await readlink(join(home, '.config/nvim')), join(home, '.aibox/dotfiles/.config/nvim'));
    assert.equal(await readFile(join(home, '.config/aibox/mcp.json'), 'utf8'), '{}\n', 'a folder of the user is merged, not replaced');
    await assert.rejects(lstat(join(home, '.gitignore')));
    await assert.rejects(lstat(join(home, 'README.md')));
    const again = runSetup(home, url);
    assert.deepEqual([again.status, again.linked, again.backups], ['linked', 0, 0]);
    assert.equal(await readFile(join(home, '.bashrc.aibox-bak'), 'utf8'), 'original\n');
  });

  it('moves the old clone aside when the URL changes and drops links that point nowhere', async () => {
    const first = await dotfilesRepo({ '.vimrc': 'one\n', '.inputrc': 'x\n' });
    const second = await dotfilesRepo({ '.vimrc': 'two\n' });
    const home = await newHome();
    runSetup(home, first.url);
    const report = runSetup(home, second.url);
    assert.equal(report.fetch, 'cloned');
    assert.match(report.moved ?? '', /\.aibox\/dotfiles\.\d{8}-\d{6}$/);
    assert.equal(await readFile(join(home, '.vimrc'), 'utf8'), 'two\n');
    assert.equal(await readFile(join(report.moved ?? '', '.inputrc'), 'utf8'), 'x\n');
    await assert.rejects(lstat(join(home, '.inputrc')));
  });

  it('reports bad repositories in one line and leaves the home as it was', async () => {
    const home = await newHome();
    await writeFile(join(home, '.bashrc'), 'original\n');
    const missing = runSetup(home, join(home, 'no-such-repo.git'));
    assert.equal(missing.status, 'clone-failed');
    assert.match(missing.error ?? '', /no-such-repo|does not exist/);
    assert.equal(await readFile(join(home, '.bashrc'), 'utf8'), 'original\n');
    const empty = await dotfilesRepo({ 'README.md': 'nothing here\n' });
    assert.equal(runSetup(home, empty.url).status, 'empty');
    const [warning] = describeSetup(missing).warnings;
    assert.match(warning ?? '', /^dotfiles: cannot clone .*no-such-repo.*; log: \/home\/dev\/\.aibox\/dotfiles\.log/);
    assert.equal(describeSetup(missing).warnings.length, 1);
  });

  it('turns unexpected output into a setup failure', () => {
    assert.equal(parseSetupReport('aibox-setup:status=weird\n', 'r').status, 'setup-failed');
    assert.equal(parseSetupReport('', 'r').status, 'setup-failed');
    assert.equal(parseSetupReport('hello from a .bashrc\nFOO=bar\naibox-setup:shell=/bin/bash\naibox-setup:status=none\n', '').status, 'none');
  });
});
