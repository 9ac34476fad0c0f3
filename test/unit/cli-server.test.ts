import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseRequest, serveCli } from '../../src/cli/server.js';
import { cliSocketPath, hostSocketPath, servedByServer } from '../../src/cli/server-protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
const source = resolve(here, '../../../images/base/client/aibox.c');
const entry = resolve(here, '../helpers/cli-server-entry.js');
const uid = process.getuid?.() ?? 0;
const hasGcc = spawnSync('gcc', ['--version']).status === 0;

const until = async (check: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((done) => setTimeout(done, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
};

describe('in-sandbox command server: which commands it takes, and its request', () => {
  it('takes install and the aibox mcp commands that start no program, whatever global options come first', () => {
    assert.equal(servedByServer(['mcp', 'regenerate']), true);
    assert.equal(servedByServer(['--json', 'mcp', 'enable', 'x']), true);
    assert.equal(servedByServer(['--name', 'mcp', 'status']), false, "the value of --name is not the command");
    assert.equal(servedByServer(['mcp', 'run', 'git']), false);
    assert.equal(servedByServer(['mcp', '--json', 'run', 'git']), false);
    assert.equal(servedByServer(['mcp', 'import', 'server.json']), false, 'it runs npm: the caller\'s environment matters');
    assert.equal(servedByServer(['mcp']), false);
    assert.equal(servedByServer(['install', 'node@20']), true, 'install asks the host: no program started here');
    assert.equal(servedByServer(['list', 'mcp']), false);
    assert.equal(servedByServer(['--help', 'mcp']), false, 'help is Node\'s: the server knows the mcp command only');
    assert.equal(servedByServer(['mcp', 'enable', '-h']), false);
    assert.equal(servedByServer([]), false);
  });
  it('on the host, takes install and uninstall only', () => {
    assert.equal(servedByServer(['--name', 'dev', 'install', 'java@21'], 'host'), true);
    assert.equal(servedByServer(['uninstall', 'java', '--json'], 'host'), true);
    assert.equal(servedByServer(['mcp', 'list'], 'host'), false, 'on the host, mcp commands run ssh and prompt: Node runs them');
    assert.equal(servedByServer(['install', '--help'], 'host'), false);
    assert.equal(servedByServer(['start'], 'host'), false);
  });
  it('names the host server by bundle, umask and environment: not by the folder or shell level of the call', () => {
    const bundle = { path: '/opt/aibox/dist/aibox-cli.mjs', size: 100, mtimeMs: 1 };
    const env = { HOME: '/home/a', PATH: '/usr/bin', PWD: '/work', SHLVL: '1' };
    const caller = { uid: 1000, umask: 0o022, env };
    const path = hostSocketPath(caller, bundle);
    assert.match(path, /^\/tmp\/aibox-cli-1000\/host-[0-9a-f]{16}\.sock$/);
    assert.equal(hostSocketPath({ ...caller, env: { ...env, PWD: '/elsewhere', OLDPWD: '/work', SHLVL: '3' } }, bundle), path);
    assert.notEqual(hostSocketPath({ ...caller, env: { ...env, PATH: '/opt/bin:/usr/bin' } }, bundle), path, 'another environment: the programs it starts would see another');
    assert.notEqual(hostSocketPath({ ...caller, env: { ...env, REGISTRY_AUTH_FILE: '/a' } }, bundle), path);
    assert.notEqual(hostSocketPath({ ...caller, umask: 0o077 }, bundle), path, 'the files it makes would get other modes');
    assert.notEqual(hostSocketPath(caller, { ...bundle, mtimeMs: 2 }), path, 'an upgraded aibox never meets the old server');
    assert.notEqual(hostSocketPath({ ...caller, uid: 1001 }, bundle), path);
  });
  it('reads a request, and refuses what is not one', () => {
    const fields = ['aibox-cli/1', '/w', '1', '0', '120', '2', 'mcp', 'list', 'A=1', 'B=x=y', 'junk'];
    const request = parseRequest(Buffer.from(`${fields.join('\0')}\0`));
    assert.deepEqual(request, { cwd: '/w', args: ['mcp', 'list'], env: { A: '1', B: 'x=y' }, stdoutTty: true, stderrTty: false, columns: 120 });
    for (const bad of ['', 'GET / HTTP/1.1\r\n', `aibox-cli/1\0/w\x000\x000\x0080\x009\0mcp\0`, `aibox-cli/1\0relative\x000\x000\x0080\x000\0`, `aibox-cli/2\0/w\x000\x000\x0080\x000\0`]) {
      assert.throws(() => parseRequest(Buffer.from(bad)), /not a request of the aibox client/);
    }
  });
  it('leaves after its idle time and removes its socket; a second one leaves the first in place', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aibox-cli-'));
    const path = cliSocketPath(uid, root);
    try {
      const first = serveCli(async () => undefined, path, 'sandbox', 400);
      await until(() => existsSync(path), 'the socket');
      await serveCli(async () => undefined, path, 'sandbox', 400); // returns at once: the first answers
      assert.equal(existsSync(path), true);
      await first;
      assert.equal(existsSync(path), false);
      assert.equal(((await stat(dirname(path))).mode & 0o777).toString(8), '700');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  it('of two servers started at once, one serves and the other leaves at once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aibox-cli-'));
    const path = cliSocketPath(uid, root);
    try {
      const ended: number[] = [];
      const both = [0, 1].map((index) => serveCli(async () => undefined, path, 'sandbox', 1500).then(() => ended.push(index)));
      await until(() => ended.length === 1, 'the second server to leave');
      assert.equal(existsSync(path), true, 'the first one\'s socket stays');
      assert.deepEqual((await readdir(dirname(path))).sort(), ['cli.sock'], 'no temp socket left');
      await Promise.all(both);
      assert.equal(existsSync(path), false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
  it('does not start in a socket folder that others can enter', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aibox-cli-'));
    const path = cliSocketPath(uid, root);
    try {
      await mkdir(dirname(path), { mode: 0o755 });
      await chmod(dirname(path), 0o755);
      await assert.rejects(serveCli(async () => undefined, path, 'sandbox', 400), /not a private folder of this user/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('the aibox client (images/base/client/aibox.c) against the server', { skip: !hasGcc && 'needs gcc' }, () => {
  let root = '';
  let client = '';
  let work = '';
  const run = (args: string[], options: { input?: string; env?: Record<string, string> } = {}): SpawnSyncReturns<string> =>
    spawnSync(client, args, { cwd: work, input: options.input ?? '', encoding: 'utf8', env: { PATH: process.env.PATH ?? '', TEST_SOCKET_ROOT: root, TEST_VAR: 'v1', TEST_IDLE_MS: '60000', ...options.env } });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'aibox-cli-'));
    work = join(root, 'work');
    await mkdir(work);
    client = join(root, 'aibox');
    const defines = [`-DNODE="${process.execPath}"`, `-DBUNDLE="${entry}"`, `-DSOCKET_ROOT="${root}"`];
    const built = spawnSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', ...defines, '-o', client, source], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
  });
  after(async () => {
    const pid = await readFile(join(root, 'server.pid'), 'utf8').catch(() => '');
    if (pid) process.kill(Number(pid), 'SIGTERM');
    await rm(root, { recursive: true, force: true });
  });

  it('runs the first call with Node and starts the server; the next calls are served, output and exit codes intact', async () => {
    const first = run(['mcp', 'list']);
    assert.equal(first.stdout, 'node: mcp list\n');
    const path = cliSocketPath(uid, root);
    await until(() => existsSync(path), 'the server the first call started');

    const served = run(['--json', 'mcp', 'list'], { env: { TEST_VAR: 'v2' } });
    assert.equal(served.status, 0, served.stderr);
    assert.equal(served.stdout, `served (sandbox): --json mcp list cwd=${work} var=v2 tty=false\n`, 'the caller\'s own cwd and environment');
    assert.equal(served.stderr, 'to stderr\n');
    assert.match(run(['install', 'node@20']).stdout, /^served \(sandbox\): install node@20 /);
    assert.equal(run(['mcp', 'apply', 'fail']).status, 5);
    assert.equal(run(['mcp', 'apply', 'stdin'], { input: 'hello\nthere' }).stdout, 'got: hello\nthere');
    assert.equal(run(['mcp', 'apply', 'big']).stdout.length, 300_000);
  });
  it('runs with Node what the server does not take, and everything when asked to or when the folder is not private', async () => {
    await until(() => existsSync(cliSocketPath(uid, root)), 'the server');
    assert.equal(run(['mcp', 'run', 'git']).stdout, 'node: mcp run git\n');
    assert.equal(run(['mcp', 'import', 'x.json']).stdout, 'node: mcp import x.json\n', 'the server declines it; the client runs Node');
    assert.equal(run(['status']).stdout, 'node: status\n');
    assert.equal(run(['mcp', 'list'], { env: { AIBOX_NO_SERVER: '1' } }).stdout, 'node: mcp list\n');
    const dir = dirname(cliSocketPath(uid, root));
    await chmod(dir, 0o750);
    try {
      assert.equal(run(['mcp', 'list']).stdout, 'node: mcp list\n', 'the request carries the environment: never to a folder others can enter');
    } finally {
      await chmod(dir, 0o700);
    }
    assert.match(run(['mcp', 'list']).stdout, /^served \(sandbox\): /);
  });
  it('starts again after its server is gone (a stale socket)', async () => {
    const pid = Number(await readFile(join(root, 'server.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await until(() => new Promise((done) => connect(cliSocketPath(uid, root)).once('error', () => done(true)).once('connect', function (this: ReturnType<typeof connect>) { this.destroy(); done(false); })), 'the server to be gone');
    assert.equal(run(['mcp', 'list']).stdout, 'node: mcp list\n');
    await until(async () => Number(await readFile(join(root, 'server.pid'), 'utf8')) !== pid && run(['mcp', 'list']).stdout.startsWith('served (sandbox): '), 'a new server');
  });
});

describe('the host launcher (host-client.ts launch) against the server', () => {
  let root = '';
  let launcher = '';
  let work = '';
  const run = (args: string[], options: { input?: string; env?: Record<string, string> } = {}): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [launcher, ...args], { cwd: work, input: options.input ?? '', encoding: 'utf8', env: { PATH: process.env.PATH ?? '', TEST_SOCKET_ROOT: root, TEST_VAR: 'v1', TEST_IDLE_MS: '60000', ...options.env } });
  const serverPid = () => readFile(join(root, 'server.pid'), 'utf8').then(Number, () => 0);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'aibox-launch-'));
    work = join(root, 'work');
    await mkdir(work);
    // The bundle beside the launcher, as in dist/: here the fake one.
    await writeFile(join(root, 'aibox-cli.mjs'), `import ${JSON.stringify(pathToFileURL(entry).href)};\n`);
    launcher = join(root, 'aibox.mjs');
    const launch = pathToFileURL(resolve(here, '../../src/cli/host-client.js')).href;
    await writeFile(launcher, `import { launch } from ${JSON.stringify(launch)};\nawait launch(${JSON.stringify(join(root, 'aibox-cli.mjs'))}, ${JSON.stringify(root)});\n`);
  });
  after(async () => {
    try {
      process.kill(await serverPid(), 'SIGKILL');
    } catch {
      // gone already: the last test ends it
    }
    await rm(root, { recursive: true, force: true });
  });

  it('runs the first install with Node and starts the server; the next ones are served, output, cwd and exit codes intact', async () => {
    assert.equal(run(['install', 'java@21']).stdout, 'node: install java@21\n');
    await until(async () => (await serverPid()) > 0 && run(['install', 'x']).stdout.startsWith('served (host): '), 'the server the first call started');
    const served = run(['--json', 'install', 'java@21']);
    assert.equal(served.status, 0, served.stderr);
    assert.equal(served.stdout, `served (host): --json install java@21 cwd=${work} var=v1 tty=false\n`);
    assert.equal(served.stderr, 'to stderr\n');
    assert.equal(run(['uninstall', 'fail']).status, 5);
    assert.equal(run(['install', 'stdin'], { input: 'hello' }).stdout, 'got: hello');
    assert.equal(run(['install', 'big']).stdout.length, 300_000);
  });
  it('runs everything else with Node, and everything when asked to, or for a trace or crash test', async () => {
    assert.equal(run(['status']).stdout, 'node: status\n');
    assert.equal(run(['install', '--help']).stdout, 'node: install --help\n');
    for (const name of ['AIBOX_NO_SERVER', 'AIBOX_TRACE', 'AIBOX_CRASH_AT']) {
      assert.equal(run(['install', 'x'], { env: { [name]: '1' } }).stdout, 'node: install x\n', name);
    }
  });
  it('never sends its environment into a socket folder others can enter', async () => {
    const dir = join(root, `aibox-cli-${uid}`);
    await chmod(dir, 0o750);
    try {
      assert.equal(run(['install', 'x']).stdout, 'node: install x\n');
    } finally {
      await chmod(dir, 0o700);
    }
    assert.match(run(['install', 'x']).stdout, /^served \(host\): /);
  });
  it('says so when the server dies mid-command, and starts a new one after', async () => {
    const pid = await serverPid();
    const slow = spawnSync('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(launcher)} install sleep & sleep 0.5; kill -9 ${pid}; wait`], { cwd: work, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', TEST_SOCKET_ROOT: root, TEST_VAR: 'v1', TEST_IDLE_MS: '60000' } });
    assert.match(slow.stderr, /the aibox command server ended without an answer/);
    assert.equal(run(['install', 'x']).stdout, 'node: install x\n');
    await until(async () => (await serverPid()) !== pid && run(['install', 'x']).stdout.startsWith('served (host): '), 'a new server');
    process.kill(await serverPid(), 'SIGTERM');
  });
});
