import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cliSocketPath, parseRequest, serveCli, servedByServer } from '../../src/cli/server.js';

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
      const first = serveCli(async () => undefined, path, 400);
      await until(() => existsSync(path), 'the socket');
      await serveCli(async () => undefined, path, 400); // returns at once: the first answers
      assert.equal(existsSync(path), true);
      await first;
      assert.equal(existsSync(path), false);
      assert.equal(((await stat(dirname(path))).mode & 0o777).toString(8), '700');
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
      await assert.rejects(serveCli(async () => undefined, path, 400), /not a private folder of this user/);
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
    assert.equal(served.stdout, `served: --json mcp list cwd=${work} var=v2 tty=false\n`, 'the caller\'s own cwd and environment');
    assert.equal(served.stderr, 'to stderr\n');
    assert.match(run(['install', 'node@20']).stdout, /^served: install node@20 /);
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
    assert.match(run(['mcp', 'list']).stdout, /^served: /);
  });
  it('starts again after its server is gone (a stale socket)', async () => {
    const pid = Number(await readFile(join(root, 'server.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await until(() => new Promise((done) => connect(cliSocketPath(uid, root)).once('error', () => done(true)).once('connect', function (this: ReturnType<typeof connect>) { this.destroy(); done(false); })), 'the server to be gone');
    assert.equal(run(['mcp', 'list']).stdout, 'node: mcp list\n');
    await until(async () => Number(await readFile(join(root, 'server.pid'), 'utf8')) !== pid && run(['mcp', 'list']).stdout.startsWith('served: '), 'a new server');
  });
});
