/**
 * Several sandboxes on one host: each gets its own SSH port, chosen free and kept
 * in its state, and its own alias; `aibox ls` lists them; two `aibox start` of a
 * new sandbox at once create it once (the per-instance lock), and a lock left by
 * a killed command does not block the next; `aibox upgrade` re-creates a sandbox
 * keeping its data, and one killed midway leaves a working sandbox.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ORG_POLICY_PATH } from '../../src/policy/load.js';
import { AIBOX, aibox, aiboxOk, freePort, host, testUser, type TestUser } from '../helpers/cli.js';

describe('many sandboxes: a port each, aibox ls, one command per sandbox at a time', { timeout: 10 * 60_000 }, () => {
  let user: TestUser;
  let second: TestUser;
  let first: number;

  const ssh = (who: TestUser) => host('ssh', ['-F', join(user.home, '.ssh', 'config'), who.name, 'hostname']);

  before(async () => {
    user = await testUser('e2e-many');
    second = { ...user, name: `${user.name}-b`, env: { ...user.env, AIBOX_INSTANCE: `${user.name}-b` } };
    first = await freePort();
    await aiboxOk(user, ['config', 'set', 'ssh.port', String(first)]);
  });

  after(async () => {
    await aibox(user, ['rm', '--volumes']);
    await aibox(second, ['rm', '--volumes']);
  });

  it('two sandboxes started with no --port get a port each, both reachable by their alias, both listed', async () => {
    const one = JSON.parse((await aiboxOk(user, ['start', '--json'])).stdout);
    assert.equal(one.port, first, 'the first takes the setting ssh.port');
    // Two starts of the second, new sandbox at once: created once, the other finds it running.
    const results = await Promise.all([aibox(second, ['start', '--json']), aibox(second, ['start', '--json'])]);
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const outcomes = results.map((result) => JSON.parse(result.stdout));
    assert.deepEqual(outcomes.map((outcome) => outcome.outcome).sort(), ['already-running', 'created']);
    const two = outcomes[0];
    assert.notEqual(two.port, first, 'the second gets another port');
    assert.equal(ssh(user).stdout, `${user.name}\n`);
    assert.equal(ssh(second).stdout, `${second.name}\n`);

    const listed: { instances: { name: string; state: string; port: number; ssh: string }[] } = JSON.parse((await aiboxOk(user, ['ls', '--json'])).stdout);
    const ours = listed.instances.filter((instance) => [user.name, second.name].includes(instance.name));
    assert.deepEqual(ours.map(({ name, state, port, ssh: alias }) => ({ name, state, port, ssh: alias })), [
      { name: user.name, state: 'running', port: first, ssh: `ssh ${user.name}` },
      { name: second.name, state: 'running', port: two.port, ssh: `ssh ${second.name}` },
    ]);
    const table = (await aiboxOk(user, ['ls'])).stdout;
    assert.match(table, /^NAME +STATE +RUNTIME +SSH PORT +CONNECT$/m);
    assert.match(table, new RegExp(`^${second.name} +running +gvisor +127\\.0\\.0\\.1:${two.port} +ssh ${second.name}$`, 'm'));
  });

  it('a stopped or removed sandbox keeps its port; the other does not take it', async () => {
    const before = JSON.parse((await aiboxOk(second, ['status', '--json'])).stdout).status.ssh.port;
    await aiboxOk(second, ['rm']); // state and volumes are kept
    const listed = JSON.parse((await aiboxOk(user, ['ls', '--json'])).stdout).instances.find((instance: { name: string }) => instance.name === second.name);
    assert.deepEqual({ state: listed.state, port: listed.port }, { state: 'absent', port: before });
    const again = JSON.parse((await aiboxOk(second, ['start', '--json'])).stdout);
    assert.equal(again.port, before, 're-created on the same port');
    assert.equal(ssh(second).stdout, `${second.name}\n`);
  });

  it('a lock left by a killed command does not block the next; a held one makes it wait and say so', async () => {
    const locks = join(user.home, '.local', 'state', 'aibox', 'locks');
    await mkdir(locks, { recursive: true });
    // A holder that died (kill -9 leaves its pid in the lock file): taken over at once.
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    await writeFile(join(locks, `${user.name}.lifecycle`), String(dead.pid));
    const started = Date.now();
    assert.match((await aiboxOk(user, ['stop'])).stdout, new RegExp(`Stopped ${user.name}`));
    assert.ok(Date.now() - started < 30_000);
    // A live holder: the next command waits, says so, and runs once it is gone.
    const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 3000)']);
    await writeFile(join(locks, `${user.name}.lifecycle`), String(holder.pid));
    const waiting = aibox(user, ['start']);
    const result = await waiting;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`waiting for another aibox command on ${user.name} \\(process ${holder.pid}\\)`));
    assert.equal(ssh(user).stdout, `${user.name}\n`);
  });

  it('runc is refused when the org policy allows only gVisor, before anything is created', async () => {
    const saved = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
    const third: TestUser = { ...user, name: `${user.name}-c`, env: { ...user.env, AIBOX_INSTANCE: `${user.name}-c` } };
    try {
      await mkdir('/etc/aibox', { recursive: true });
      await writeFile(ORG_POLICY_PATH, 'version: 1\nsandbox:\n  runtimes: [gvisor]\n');
      const refused = await aibox(third, ['start', '--runtime', 'runc']);
      assert.equal(refused.code, 8, refused.stderr);
      assert.match(refused.stderr, /^error: the runc runtime is not allowed: sandbox\.runtimes in \/etc\/aibox\/policy\.yaml allows only gvisor$/m);
      assert.notEqual(host('podman', ['container', 'exists', third.name]).code, 0, 'no container');
      assert.match((await aiboxOk(user, ['policy', 'show'])).stdout, /# sandbox\.runtimes from \/etc\/aibox\/policy\.yaml\nsandbox:\n {2}runtimes:\n {4}- gvisor/);
    } finally {
      if (saved === undefined) await rm(ORG_POLICY_PATH, { force: true });
      else await writeFile(ORG_POLICY_PATH, saved);
      await aibox(third, ['rm', '--volumes']);
    }
  });

  it('aibox upgrade re-creates the container keeping home, workspace and the host key pin; one killed midway leaves a working sandbox', async () => {
    const id = () => host('podman', ['container', 'inspect', '--format', '{{.Id}}', user.name]).stdout.trim();
    const previous = `${user.name}-aibox-previous`;
    assert.equal(JSON.parse((await aiboxOk(user, ['upgrade', '--json'])).stdout).outcome, 'up-to-date');
    assert.equal(host('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, 'echo kept > ~/upgrade-home; echo kept > /workspace/upgrade-ws']).code, 0);
    const before = id();
    const upgraded = JSON.parse((await aiboxOk(user, ['upgrade', '--force', '--json'])).stdout);
    assert.equal(upgraded.outcome, 'upgraded');
    assert.notEqual(id(), before, 'a new container');
    const kept = () => host('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, 'cat ~/upgrade-home /workspace/upgrade-ws']);
    assert.deepEqual({ code: kept().code, out: kept().stdout }, { code: 0, out: 'kept\nkept\n' }, 'files kept; the pinned host key still matches (strict checking)');

    // Killed while the previous container is set aside: the next command puts things right.
    const child = spawn(process.execPath, [AIBOX, 'upgrade', '--force'], { cwd: user.home, env: user.env, detached: true, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    for (let tries = 0; host('podman', ['container', 'exists', previous]).code !== 0; tries++) {
      assert.ok(tries < 1200, 'the upgrade never set the previous container aside');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(child.pid);
    process.kill(-child.pid, 'SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    await aiboxOk(user, ['start']);
    assert.deepEqual({ code: kept().code, out: kept().stdout }, { code: 0, out: 'kept\nkept\n' }, 'a working sandbox, old or new');
    await aiboxOk(user, ['upgrade']);
    assert.notEqual(host('podman', ['container', 'exists', previous]).code, 0, 'no container left aside after the next upgrade');
  });
});
