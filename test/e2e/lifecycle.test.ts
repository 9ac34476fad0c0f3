import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SANDBOX_ID_BASE } from '../../src/sandbox/idmap.js';
import { AIBOX, aibox, cleanup, freePort, host, sshTo, testUser, volumeExists, type TestUser } from '../helpers/cli.js';

function volumePath(name: string): string {
  return host('podman', ['volume', 'inspect', '--format', '{{.Mountpoint}}', name]).stdout.trim();
}

interface Inspect {
  OCIRuntime: string;
  HostConfig: { CapAdd: string[] | null; CapDrop: string[]; ReadonlyRootfs: boolean; SecurityOpt: string[]; PortBindings: Record<string, { HostIp: string; HostPort: string }[]> };
  Config: { User: string };
}

function inspect(name: string): Inspect {
  const result = host('podman', ['container', 'inspect', name]);
  assert.equal(result.code, 0, result.stderr);
  const [info] = JSON.parse(result.stdout) as Inspect[];
  assert.ok(info);
  return info;
}

// The runc sandbox also exercises the jetbrains profile on this small host.
for (const runtime of ['gvisor', 'runc'] as const) {
  const profile = runtime === 'runc' ? 'jetbrains' : 'default';
  describe(`sandbox lifecycle under ${runtime}`, () => {
    let user: TestUser;
    let port: number;
    before(async () => {
      user = await testUser(`e2e-${runtime}`);
      port = await freePort();
    });
    after(() => cleanup(user));

    it('starts and prints how to connect', async () => {
      const project = join(user.home, 'project');
      await mkdir(join(project, '.idea'), { recursive: true });
      const result = await aibox(user, ['start', '--runtime', runtime, '--port', String(port), '--profile', profile], { cwd: project });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`Created and started ${user.name} \\(${runtime}, profile ${profile}`));
      assert.match(result.stdout, new RegExp(`ssh ${user.name}`));
      if (runtime === 'runc') {
        assert.match(result.stderr, /weaker isolation/);
        assert.match(result.stderr, /the jetbrains profile needs 4 CPU cores; this host has \d+/);
      } else {
        assert.match(result.stderr, /This project has \.idea\/: .*aibox start --profile jetbrains/);
      }
    });

    it('accepts plain ssh and sftp with strict host-key checking', async () => {
      const ssh = sshTo(user, 'id -un; echo "$LANG"');
      assert.equal(ssh.code, 0, ssh.stderr);
      assert.deepEqual(ssh.stdout.trim().split('\n'), ['dev', 'en_US.UTF-8']);
      const config = await readFile(join(user.home, '.ssh', 'config'), 'utf8');
      assert.match(config, /StrictHostKeyChecking yes/);
      const sftp = host('sftp', ['-q', '-F', join(user.home, '.ssh', 'config'), '-b', '-', user.name], 'ls /workspace\n');
      assert.equal(sftp.code, 0, sftp.stderr);
      const key = await stat(join(user.home, '.local/share/aibox/instances', user.name, 'id_ed25519'));
      assert.equal(key.mode & 0o777, 0o600);
    });

    it('has the developer tools, the org CA and aibox itself inside', { skip: runtime !== 'gvisor' && 'same image under runc' }, async () => {
      const result = sshTo(user, 'for tool in bash zsh tmux git less vi ps curl; do command -v $tool >/dev/null || echo "missing $tool"; done; aibox --version; ls -l /etc/ssl/certs/ca-certificates.crt >/dev/null && grep -c BEGIN /usr/local/share/ca-certificates/aibox-org.crt; locale charmap; echo "$AIBOX_SANDBOX"');
      assert.equal(result.code, 0, result.stderr);
      const [version, caCount, charmap, marker] = result.stdout.trim().split('\n');
      assert.doesNotMatch(result.stdout, /missing/);
      assert.match(version ?? '', /^\d+\.\d+\.\d+$/);
      assert.ok(Number(caCount) > 0, 'the org CA bundle is installed');
      assert.equal(charmap, 'UTF-8');
      assert.equal(marker, '1');
      const shell = spawnSync(process.execPath, [AIBOX, 'shell'], { env: user.env, input: 'echo "shell as $(id -un) in $PWD"\n', encoding: 'utf8' });
      assert.equal(shell.stdout.trim(), 'shell as dev in /home/dev');
    });

    it('lists the root and every volume with no error (the gVisor shim; test/e2e/gvisor-runtime.test.ts)', async () => {
      const result = sshTo(user, 'ln -sf /etc/hostname ~/link && ls -la / /home/dev /workspace /opt /opt/toolpacks 2>&1 >/dev/null; find -L / -xdev -maxdepth 1 2>&1 >/dev/null; stat ~/link >/dev/null');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '');
    });

    it('a fork bomb meets EAGAIN and the sandbox and its sessions survive (the guest process limit under gVisor)', { skip: runtime !== 'gvisor' && 'runc: the pids cgroup refuses the forks' }, () => {
      assert.equal(sshTo(user, 'ulimit -u').stdout.trim(), '4096', 'well below the pids limit of 16384 (spec.ts, GVISOR_GUEST_NPROC)');
      // All 4096 take minutes of forks here (docs/performance.md, "Process limits under gVisor"); a lower soft limit takes the same path.
      const forks = "my @kids; while (1) { my $pid = fork(); if (!defined $pid) { print q{fork failed after } . scalar(@kids) . \": $!\\n\"; last } if (!$pid) { sleep 600; exit 0 } push @kids, $pid } kill 9, @kids; waitpid($_, 0) for @kids";
      const bomb = sshTo(user, `ulimit -u 150; perl -e '${forks}'`);
      assert.equal(bomb.code, 0, bomb.stderr);
      assert.match(bomb.stdout, /^fork failed after 1[0-4]\d: Resource temporarily unavailable$/m);
      assert.equal(sshTo(user, 'echo alive').stdout, 'alive\n', 'the sandbox and new sessions survive');
    });

    it('runs hardened: runtime, no capabilities, no-new-privileges, read-only root, loopback-only port', async () => {
      const info = inspect(user.name);
      if (runtime === 'gvisor') assert.match(info.OCIRuntime, /runsc/);
      else assert.equal(info.OCIRuntime, 'runc');
      assert.ok(info.HostConfig.CapDrop.includes('CAP_NET_RAW') && info.HostConfig.CapDrop.includes('CAP_SYS_CHROOT'));
      assert.deepEqual(info.HostConfig.CapAdd ?? [], []);
      assert.ok(info.HostConfig.SecurityOpt.includes('no-new-privileges'));
      assert.equal(info.HostConfig.ReadonlyRootfs, true);
      assert.deepEqual(Object.values(info.HostConfig.PortBindings).flat(), [{ HostIp: '127.0.0.1', HostPort: String(port) }]);
      const doctor = JSON.parse((await aibox(user, ['doctor', '--json'])).stdout);
      const sandbox = doctor.checks.find((check: { name: string }) => check.name === 'sandbox');
      assert.equal(sandbox.status, 'ok', sandbox.detail);
      const proc = sshTo(user, 'grep -E "^(Cap(Eff|Prm|Bnd)|Seccomp):" /proc/self/status; touch /etc/x 2>&1 || true; touch /opt/toolpacks/x 2>&1 || true');
      assert.match(proc.stdout, /CapEff:\s+0000000000000000/);
      assert.match(proc.stdout, /Seccomp:\s+2/, 'podman\'s seccomp profile (gVisor: --oci-seccomp)');
      assert.match(proc.stdout, /touch: cannot touch '\/etc\/x'/);
      assert.match(proc.stdout, /touch: cannot touch '\/opt\/toolpacks\/x'/);
    });

    it('under runc: its own user namespace (dev is not the host\'s uid 1000) and podman\'s seccomp profile', { skip: runtime !== 'runc' && 'gVisor\'s own kernel is the boundary' }, async () => {
      const inside = sshTo(user, 'id -u; grep "^Seccomp:" /proc/self/status; echo x > ~/owned');
      assert.equal(inside.code, 0, inside.stderr);
      assert.match(inside.stdout, /^1000\nSeccomp:\s+2\n/);
      const pid = host('podman', ['inspect', '--format', '{{.State.Pid}}', user.name]).stdout.trim();
      assert.equal(host('ps', ['-o', 'uid=', '-p', pid]).stdout.trim(), String(SANDBOX_ID_BASE + 1000), 'sshd, the agent\'s parent, on the host');
      assert.equal((await stat(join(volumePath(`${user.name}-home`), 'owned'))).uid, SANDBOX_ID_BASE + 1000);
    });

    it('keeps home and workspace files, and the pinned host key, across stop/start and re-creation', async () => {
      assert.equal(sshTo(user, 'echo kept > ~/home-file && echo kept > /workspace/ws-file && ls -l ~/home-file').code, 0);
      assert.equal((await aibox(user, ['stop'])).code, 0);
      assert.match((await aibox(user, ['status'])).stdout, /stopped/);
      const execStopped = await aibox(user, ['exec', '--', 'true']);
      assert.equal(execStopped.code, 7);
      assert.match(execStopped.stderr, new RegExp(`error: ${user.name} is not running\nhint: start it: aibox start`));
      assert.equal((await aibox(user, ['start'])).code, 0);
      assert.equal(sshTo(user, 'cat ~/home-file /workspace/ws-file').stdout, 'kept\nkept\n');
      const removed = await aibox(user, ['rm']);
      assert.equal(removed.code, 0, removed.stderr);
      assert.ok(volumeExists(`${user.name}-home`));
      const recreated = await aibox(user, ['start']);
      assert.equal(recreated.code, 0, recreated.stderr);
      assert.match(recreated.stdout, /Created and started/);
      const after = sshTo(user, 'cat ~/home-file /workspace/ws-file');
      assert.equal(after.code, 0, `strict host-key checking after re-creation: ${after.stderr}`);
      assert.equal(after.stdout, 'kept\nkept\n');
    });

    it('is idempotent: starting a running sandbox changes nothing', async () => {
      const before = inspect(user.name);
      const other = profile === 'default' ? 'jetbrains' : 'default';
      const again = await aibox(user, ['start', '--json', '--profile', other]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(JSON.parse(again.stdout).outcome, 'already-running');
      assert.match(again.stderr, new RegExp(`already exists .*to apply --profile ${other}: aibox rm --name ${user.name} && aibox start --profile ${other}`));
      assert.deepEqual(inspect(user.name), before);
    });

    it('reports status as JSON and exec returns the command exit code', async () => {
      const status = JSON.parse((await aibox(user, ['status', '--json'])).stdout).status;
      assert.equal(status.state, 'running');
      assert.equal(status.runtime, runtime);
      assert.equal(status.profile, profile);
      const expectedMemory = profile === 'jetbrains' ? Math.min(12, Math.floor(totalmem() / 1024 ** 3 - 2)) : 4;
      assert.deepEqual(status.resources, { cpus: Math.min(profile === 'jetbrains' ? 4 : 2, cpus().length), memoryGiB: expectedMemory });
      assert.equal(status.ssh.port, port);
      assert.deepEqual(status.ports, [{ host: `127.0.0.1:${port}`, container: 2222 }]);
      assert.ok(status.volumes.some((volume: { name: string }) => volume.name === `${user.name}-workspace`));
      const exec = await aibox(user, ['exec', '--', 'sh', '-c', 'echo "$1"; exit 7', 'sh', "it's quoted"]);
      assert.equal(exec.code, 7);
      assert.equal(exec.stdout, "it's quoted\n");
      const ssh255 = await aibox(user, ['exec', '--', 'sh', '-c', 'echo run >> /tmp/runs; exit 255']);
      assert.equal(ssh255.code, 255);
      assert.equal(sshTo(user, 'wc -l < /tmp/runs').stdout.trim(), '1', 'a command exiting 255 runs once');
    });

    it('re-created with the other runtime, it moves its volumes into that runtime\'s ids once and keeps every file usable', { skip: runtime !== 'runc' && 'one switch each way, from runc' }, async () => {
      const before = sshTo(user, 'echo before > ~/switch && mkdir -p /workspace/deep/er && echo f > /workspace/deep/er/f');
      assert.equal(before.code, 0, `stdout: ${before.stdout}; stderr: ${before.stderr}`);
      for (const [to, uid] of [['gvisor', 1000], ['runc', SANDBOX_ID_BASE + 1000]] as const) {
        assert.equal((await aibox(user, ['rm'])).code, 0);
        const started = await aibox(user, ['start', '--runtime', to, '--profile', profile]);
        assert.equal(started.code, 0, started.stderr);
        assert.match(started.stderr, new RegExp(`moving volume ${user.name}-home into the sandbox's user namespace`));
        const check = sshTo(user, `cat ~/switch /workspace/deep/er/f && echo ${to} >> ~/switch && touch /workspace/deep/er/g`);
        assert.equal(check.code, 0, check.stderr);
        assert.equal((await stat(join(volumePath(`${user.name}-workspace`), 'deep', 'er', 'g'))).uid, uid);
      }
      assert.equal(sshTo(user, 'cat ~/switch').stdout, 'before\ngvisor\nrunc\n');
    });

    it('rm --volumes removes the container, its volumes and its SSH block', async () => {
      const result = await aibox(user, ['rm', '--volumes']);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!volumeExists(`${user.name}-home`));
      assert.doesNotMatch(await readFile(join(user.home, '.ssh', 'config'), 'utf8'), new RegExp(user.name));
      assert.equal((await aibox(user, ['stop'])).code, 7, 'stop of an absent sandbox is not-found');
    });
  });
}
