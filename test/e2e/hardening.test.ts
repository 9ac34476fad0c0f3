import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aibox, cleanup, containerExists, freePort, host, sshTo, testUser, volumeExists, type TestUser } from '../helpers/cli.js';

const ORG_POLICY = '/etc/aibox/policy.yaml';

function instanceDir(user: TestUser): string {
  return join(user.home, '.local/share/aibox/instances', user.name);
}

async function start(user: TestUser): Promise<void> {
  const result = await aibox(user, ['start', '--port', String(await freePort())]);
  assert.equal(result.code, 0, result.stderr);
}

describe('build caches belong to one sandbox unless the org policy shares them', () => {
  let a: TestUser;
  let b: TestUser;
  let savedOrgPolicy: string | undefined;
  before(async () => {
    a = await testUser('e2e-cache-a');
    b = await testUser('e2e-cache-b');
    savedOrgPolicy = existsSync(ORG_POLICY) ? await readFile(ORG_POLICY, 'utf8') : undefined;
  });
  after(async () => {
    await cleanup(a);
    await cleanup(b);
    host('podman', ['volume', 'rm', 'aibox-shared-maven-cache']);
    if (savedOrgPolicy === undefined) await rm(ORG_POLICY, { force: true });
    else await writeFile(ORG_POLICY, savedOrgPolicy);
  });

  it("a jar planted in one sandbox's Maven cache never reaches another sandbox", async () => {
    await rm(ORG_POLICY, { force: true });
    await start(a);
    await start(b);
    assert.equal(sshTo(a, 'mkdir -p ~/.m2/repository/org/x && echo evil > ~/.m2/repository/org/x/x.jar').code, 0);
    assert.equal(sshTo(b, 'cat ~/.m2/repository/org/x/x.jar').code, 1, "b does not see a's cache");
    assert.ok(volumeExists(`${a.name}-maven-cache`));
    const removed = JSON.parse((await aibox(b, ['rm', '--volumes', '--json'])).stdout);
    assert.ok(removed.volumes.includes(`${b.name}-maven-cache`), 'rm --volumes removes the sandbox own caches');
    assert.ok(!volumeExists(`${b.name}-maven-cache`));
    assert.equal((await aibox(a, ['rm'])).code, 0);
  });

  it('the org policy opts into sharing one cache between sandboxes', async () => {
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY, 'version: 1\ncaches:\n  shared: [maven]\n');
    await start(a);
    await start(b);
    assert.equal(sshTo(a, 'mkdir -p ~/.m2/repository/org/y && echo shared > ~/.m2/repository/org/y/y.jar').code, 0);
    assert.equal(sshTo(b, 'cat ~/.m2/repository/org/y/y.jar').stdout, 'shared\n');
    assert.equal(sshTo(b, 'cat ~/.npm/z 2>/dev/null; touch ~/.npm/z').code, 0);
    const status = JSON.parse((await aibox(b, ['status', '--json'])).stdout).status;
    assert.ok(status.volumes.some((volume: { name: string }) => volume.name === 'aibox-shared-maven-cache'));
    assert.ok(status.volumes.some((volume: { name: string }) => volume.name === `${b.name}-npm-cache`));
    await aibox(b, ['rm', '--volumes']);
    assert.ok(volumeExists('aibox-shared-maven-cache'), 'a shared cache outlives one sandbox');
  });
});

describe('aibox acts only on what it made, and checks before it changes anything', () => {
  let user: TestUser;
  before(async () => {
    user = await testUser('e2e-own');
  });
  after(async () => {
    host('podman', ['rm', '--force', user.name]);
    host('podman', ['volume', 'rm', `${user.name}-home`]);
    await cleanup(user);
  });

  it('a malformed ssh config stops start before any container, volume or state exists', async () => {
    await mkdir(join(user.home, '.ssh'), { recursive: true });
    const config = join(user.home, '.ssh', 'config');
    const broken = `# ------------ START AIBOX ${user.name} ------------\nHost x\n`;
    await writeFile(config, broken);
    const result = await aibox(user, ['start', '--port', String(await freePort())]);
    assert.equal(result.code, 5, result.stderr);
    assert.match(result.stderr, /^error: malformed aibox block/);
    assert.ok(!containerExists(user.name));
    assert.ok(!volumeExists(`${user.name}-home`));
    assert.ok(!existsSync(join(instanceDir(user), 'state.json')));
    assert.equal(await readFile(config, 'utf8'), broken);
    await rm(config);
  });

  it('refuses a container or a volume with its name that aibox did not make', async () => {
    assert.equal(host('podman', ['create', '--name', user.name, 'localhost/aibox:latest']).code, 0);
    for (const args of [['start'], ['stop'], ['status'], ['rm'], ['rm', '--volumes'], ['rotate-host-key']]) {
      const result = await aibox(user, args);
      assert.equal(result.code, 5, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^error: container ${user.name} was not made by aibox`));
    }
    assert.ok(containerExists(user.name), 'the foreign container is untouched');
    assert.equal(host('podman', ['rm', user.name]).code, 0);

    assert.equal(host('podman', ['volume', 'create', `${user.name}-home`]).code, 0);
    const start = await aibox(user, ['start', '--port', String(await freePort())]);
    assert.equal(start.code, 5, start.stderr);
    assert.match(start.stderr, new RegExp(`^error: volume ${user.name}-home was not made by aibox`));
    assert.ok(!containerExists(user.name));
    const removed = await aibox(user, ['rm', '--volumes']);
    assert.equal(removed.code, 5);
    assert.ok(volumeExists(`${user.name}-home`), 'the foreign volume is untouched');
    assert.equal(host('podman', ['volume', 'rm', `${user.name}-home`]).code, 0);
  });

  it('doctor flags a hand-made container that carries aibox labels but not its hardening', async () => {
    const made = host('podman', [
      'create', '--name', user.name, '--runtime', 'runc', '--label', `dev.aibox.instance=${user.name}`, '--label', 'dev.aibox.runtime=runc',
      '--user', '0', '--security-opt', 'seccomp=unconfined', '--volume', '/etc:/hostetc', '--pids-limit', '-1', '--cap-add', 'NET_ADMIN',
      'localhost/aibox:latest',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const report = JSON.parse((await aibox(user, ['doctor', '--json'])).stdout);
    const sandbox = report.checks.find((check: { name: string }) => check.name === 'sandbox');
    assert.equal(sandbox.status, 'fail');
    for (const weakness of ['runs as user "0"', 'capabilities added: CAP_NET_ADMIN', 'seccomp=unconfined', 'no pids limit', 'unexpected mount of /etc at /hostetc', 'root file system is writable', 'no-new-privileges is off']) {
      assert.ok(sandbox.detail.includes(weakness), `${weakness} in: ${sandbox.detail}`);
    }
    assert.equal(host('podman', ['rm', user.name]).code, 0);
  });

  it('rm --volumes reports only the volumes it removed', async () => {
    const dir = instanceDir(user);
    await mkdir(dir, { recursive: true });
    const result = await aibox(user, ['rm', '--volumes', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).volumes, []);
  });
});

describe('odd homes, lost files and a rotated host key', () => {
  let user: TestUser;
  before(async () => {
    user = await testUser('e2e-keys');
    // A home whose path needs quoting and %-escaping in ssh_config.
    const odd = await mkdtemp(join(tmpdir(), 'aibox-50%"odd home-'));
    user.home = odd;
    user.env.HOME = odd;
  });
  after(() => cleanup(user));

  it('starts and connects from a $HOME with % and " in it', async () => {
    await start(user);
    const ssh = sshTo(user, 'id -un');
    assert.equal(ssh.code, 0, ssh.stderr);
    assert.equal(ssh.stdout, 'dev\n');
  });

  it('re-derives a missing id_ed25519.pub instead of failing', async () => {
    await rm(join(instanceDir(user), 'id_ed25519.pub'));
    const result = await aibox(user, ['setup', '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(await readFile(join(instanceDir(user), 'id_ed25519.pub'), 'utf8'), /^ssh-ed25519 /);
  });

  it('rotate-host-key replaces the key and the pin; ssh still connects without a prompt', async () => {
    const keyFile = join(instanceDir(user), 'sandbox-ssh', 'ssh_host_ed25519_key.pub');
    const before = await readFile(keyFile, 'utf8');
    const pinBefore = await readFile(join(instanceDir(user), 'known_hosts'), 'utf8');
    const result = await aibox(user, ['rotate-host-key', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.restarted, true);
    assert.match(report.fingerprint, /^SHA256:/);
    assert.notEqual(await readFile(keyFile, 'utf8'), before);
    assert.notEqual(await readFile(join(instanceDir(user), 'known_hosts'), 'utf8'), pinBefore);
    const ssh = host('ssh', ['-F', join(user.home, '.ssh', 'config'), '-o', 'BatchMode=yes', user.name, 'true']);
    assert.equal(ssh.code, 0, ssh.stderr);
    const served = host('ssh-keyscan', ['-t', 'ed25519', '-p', String(JSON.parse((await aibox(user, ['status', '--json'])).stdout).status.ssh.port), '127.0.0.1']);
    assert.ok(served.stdout.includes((await readFile(keyFile, 'utf8')).split(' ')[1] ?? 'missing'), 'the sandbox serves the new key');
  });
});
