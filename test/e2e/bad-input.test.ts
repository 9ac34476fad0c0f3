import assert from 'node:assert/strict';
import { chown, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aibox, cleanup, containerExists, freePort, host, testUser, volumeExists, type CliResult, type TestUser } from '../helpers/cli.js';

/** One clear line (plus an optional hint line), a non-zero exit, and nothing half-made. */
function assertCleanFailure(user: TestUser, result: CliResult, code: number, message: RegExp): void {
  assert.equal(result.code, code, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.match(lines[0] ?? '', /^error: /);
  assert.match(lines[0] ?? '', message);
  assert.ok(lines.length <= 2 && (lines[1] === undefined || lines[1].startsWith('hint: ')), result.stderr);
  assert.ok(!containerExists(user.name), 'no container was created');
  assert.ok(!volumeExists(`${user.name}-home`), 'no volume was created');
}

describe('bad input gives one clear line, a non-zero exit and leaves nothing half-made', () => {
  let user: TestUser;
  before(async () => {
    user = await testUser('e2e-bad');
  });
  after(() => cleanup(user));

  it('unknown profile', async () => {
    assertCleanFailure(user, await aibox(user, ['start', '--profile', 'huge']), 2, /unknown profile "huge"/);
  });

  it('bad flag values and unknown commands', async () => {
    assert.equal((await aibox(user, ['start', '--port', '80'])).code, 2);
    assert.equal((await aibox(user, ['strat'])).code, 2);
    assertCleanFailure(user, await aibox(user, ['start', '--runtime', 'kata']), 2, /unknown runtime "kata"/);
    assertCleanFailure(user, await aibox(user, ['--name', 'Bad Name', 'start']), 2, /invalid sandbox name "Bad Name"/);
    assertCleanFailure(user, await aibox(user, ['start', '--image', 'rust']), 2, /unknown image variant "rust"/);
    assertCleanFailure(user, await aibox(user, ['image', 'build', '--variant', 'rust']), 2, /unknown image variant "rust"/);
    assertCleanFailure(user, await aibox(user, ['upgrade']), 7, new RegExp(`no sandbox named ${user.name}`));
    assert.match((await aibox(user, ['ls'])).stdout, /NAME|No sandboxes yet/);
  });

  it('port already in use', async () => {
    const port = await freePort();
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      const result = await aibox(user, ['start', '--port', String(port)]);
      assertCleanFailure(user, result, 5, new RegExp(`port ${port} on 127.0.0.1 is already in use`));
      assert.match(result.stderr, /hint: choose another: aibox start --port/);
    } finally {
      server.close();
    }
  });

  it('podman missing', async () => {
    const result = await aibox(user, ['start'], { env: { ...user.env, PATH: '/nonexistent' } });
    assertCleanFailure(user, result, 4, /podman is not installed/);
    assert.match(result.stderr, /hint: apt-get install -y podman/);
  });

  it('a corrupted state file', async () => {
    const dir = join(user.home, '.local/share/aibox/instances', user.name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'state.json'), '{"version": 1, "po');
    const result = await aibox(user, ['start']);
    assertCleanFailure(user, result, 3, /state file .*state.json is corrupted/);
    assert.match(result.stderr, /hint: delete it and start again: rm /);
    await writeFile(join(dir, 'state.json'), '');
    assertCleanFailure(user, await aibox(user, ['start']), 3, /corrupted/);
    await writeFile(join(dir, 'state.json'), '{}');
    assertCleanFailure(user, await aibox(user, ['start']), 3, /corrupted \(version/);
    await rm(join(dir, 'state.json'));
  });

  it('a policy file with a syntax error, and a lower layer that tries to loosen', async () => {
    const project = join(user.home, 'project');
    await mkdir(join(project, '.aibox'), { recursive: true });
    await writeFile(join(project, '.aibox', 'policy.yaml'), 'network:\n  egress: [\n');
    const broken = await aibox(user, ['start'], { cwd: project });
    assertCleanFailure(user, broken, 3, /policy.yaml(:\d+)? is not valid YAML/);
    await writeFile(join(project, '.aibox', 'policy.yaml'), 'network:\n  egress:\n    - host: evil.example.com\n      ports: [443]\n');
    const loosen = await aibox(user, ['start'], { cwd: project });
    assertCleanFailure(user, loosen, 3, /the project policy tries to loosen network.egress: evil.example.com:443 is not allowed by built-in default/);
    const show = await aibox(user, ['policy', 'show'], { cwd: project });
    assert.equal(show.code, 3);
  });

  it('a policy file that is a directory, a FIFO, a link to /dev/zero or an alias bomb', { timeout: 30_000 }, async () => {
    const project = join(user.home, 'odd-policies');
    const policy = join(project, '.aibox', 'policy.yaml');
    const cases: [string, () => Promise<void>, RegExp][] = [
      ['directory', async () => void (await mkdir(policy, { recursive: true })), /policy.yaml is a directory, not a regular file/],
      ['fifo', async () => void host('mkfifo', [policy]), /policy.yaml is a FIFO, not a regular file/],
      ['/dev/zero', () => symlink('/dev/zero', policy), /policy.yaml is a device, not a regular file/],
      ['alias bomb', () => writeFile(policy, `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\n`), /policy.yaml is not valid YAML: .*alias/i],
    ];
    for (const [what, make, message] of cases) {
      await rm(join(project, '.aibox'), { recursive: true, force: true });
      await mkdir(join(project, '.aibox'), { recursive: true });
      await make();
      assertCleanFailure(user, await aibox(user, ['start'], { cwd: project }), 3, message);
      assert.equal((await aibox(user, ['policy', 'show'], { cwd: project })).code, 3, what);
    }
  });

  it('a project policy above the repository root, or owned by another user, is ignored', async () => {
    const above = join(user.home, 'above');
    const repo = join(above, 'repo');
    await mkdir(join(above, '.aibox'), { recursive: true });
    await mkdir(join(repo, '.git'), { recursive: true });
    await writeFile(join(above, '.aibox', 'policy.yaml'), 'filesystem:\n  expose: [/workspace]\n');
    const outside = JSON.parse((await aibox(user, ['policy', 'show', '--json'], { cwd: repo })).stdout).policy;
    assert.deepEqual(outside.layers.map((layer: { name: string }) => layer.name), ['org']);
    await mkdir(join(repo, '.aibox'));
    await writeFile(join(repo, '.aibox', 'policy.yaml'), 'filesystem:\n  expose: [/workspace]\n');
    const inside = JSON.parse((await aibox(user, ['policy', 'show', '--json'], { cwd: repo })).stdout).policy;
    assert.deepEqual(inside.layers.map((layer: { name: string }) => layer.name), ['org', 'project']);
    await chown(join(repo, '.aibox', 'policy.yaml'), 12345, 12345);
    const foreign = await aibox(user, ['policy', 'show', '--json'], { cwd: repo });
    assert.deepEqual(JSON.parse(foreign.stdout).policy.layers.map((layer: { name: string }) => layer.name), ['org']);
    assert.match(foreign.stderr, /ignoring the project policy .* belongs to uid 12345/);
  });

  it('a config file with a bad value, and config set of garbage', async () => {
    const configFile = join(user.home, '.config', 'aibox', 'config.yaml');
    assert.equal((await aibox(user, ['config', 'set', 'ssh.port', '99999'])).code, 2);
    assert.equal((await aibox(user, ['config', 'set', 'ssh.port', '2400'])).code, 0);
    assert.equal((await aibox(user, ['config', 'get', 'ssh.port'])).stdout.trim(), '2400');
    await writeFile(configFile, 'runtime: kata\n');
    assertCleanFailure(user, await aibox(user, ['start']), 3, /config.yaml:1: runtime: /);
    assert.equal(await readFile(configFile, 'utf8'), 'runtime: kata\n');
    await writeFile(configFile, '');
  });

  it('--json errors have a stable shape', async () => {
    const result = await aibox(user, ['start', '--profile', 'huge', '--json']);
    assert.equal(result.code, 2);
    assert.deepEqual(JSON.parse(result.stdout), { ok: false, error: { code: 'USAGE', message: 'unknown profile "huge"', hint: 'use one of: default, jetbrains' } });
  });
});
