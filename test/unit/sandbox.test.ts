import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AiboxError, exitCodeOf } from '../../src/core/errors.js';
import { resolvePaths } from '../../src/core/paths.js';
import { resolveInstance } from '../../src/sandbox/instance.js';
import { parseProfile, resolveResources } from '../../src/sandbox/profiles.js';
import { parseRuntime, resolveRuntime } from '../../src/sandbox/runtime.js';
import { instanceVolumes, podmanCreateArgs } from '../../src/sandbox/spec.js';
import { sandboxIdBase } from '../../src/sandbox/idmap.js';
import { readState, statePath, writeState } from '../../src/sandbox/state.js';
import { choosePort } from '../../src/sandbox/instances.js';
import { runscCheck } from '../../src/doctor/checks.js';
import { createServer } from 'node:net';
import { freePort } from '../helpers/cli.js';
import { shellQuote, sshArgs } from '../../src/ssh/client.js';
import { spawnSync } from 'node:child_process';
import { hardeningProblems } from '../../src/sandbox/hardening.js';
import { hostEntry, quotePath } from '../../src/ssh/entry.js';
import { instanceKeys } from '../../src/ssh/keys.js';
import type { ContainerInfo } from '../../src/sandbox/podman.js';

const spec = {
  instance: 'proj',
  image: 'localhost/aibox:abc',
  runtime: { kind: 'gvisor' as const, podmanRuntime: '/h/runsc-aibox', toolpacksHint: true },
  profile: 'default' as const,
  port: 2222,
  cpus: 2,
  memoryGiB: 4,
  sshDir: '/h/sandbox-ssh',
  ulimits: { nofile: 4096, nproc: 8192 },
  volumes: instanceVolumes('proj', ['maven']),
  toolpacksDir: '/var/lib/containers/storage/volumes/proj-toolpacks/_data',
  idBase: 0,
};

function flagValue(args: string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag ? [args[index + 1] ?? ''] : []));
}

describe('sandbox container spec', () => {
  const args = podmanCreateArgs(spec);
  it('is least privilege', () => {
    assert.deepEqual(flagValue(args, '--cap-drop'), ['ALL']);
    assert.ok(!args.includes('--cap-add'));
    assert.deepEqual(flagValue(args, '--security-opt'), ['no-new-privileges']);
    assert.ok(args.includes('--read-only'));
    assert.deepEqual(flagValue(args, '--user'), ['1000:1000']);
    assert.ok(!args.includes('--privileged'));
  });
  it('runs a runc sandbox in its own user namespace when podman runs as root: dev is not the host\'s uid 1000', () => {
    assert.equal(sandboxIdBase('runc', true), 1_000_000_000);
    assert.equal(sandboxIdBase('runc', false), 0, 'rootless podman maps into the user\'s subordinate ids already');
    assert.equal(sandboxIdBase('gvisor', true), 0);
    const runc = podmanCreateArgs({ ...spec, runtime: { kind: 'runc', podmanRuntime: 'runc', toolpacksHint: false }, idBase: sandboxIdBase('runc', true) });
    assert.deepEqual(flagValue(runc, '--uidmap'), ['0:1000000000:65536']);
    assert.deepEqual(flagValue(runc, '--gidmap'), ['0:1000000000:65536']);
    assert.ok(!args.includes('--uidmap') && !args.includes('--gidmap'));
  });
  it('gives gVisor guests a process limit well below the pids limit (a fork bomb meets EAGAIN), runc the host\'s', () => {
    assert.deepEqual(flagValue(args, '--pids-limit'), ['16384']);
    assert.ok(flagValue(args, '--ulimit').includes('nproc=4096:4096'));
    const runc = podmanCreateArgs({ ...spec, runtime: { kind: 'runc', podmanRuntime: 'runc', toolpacksHint: false } });
    assert.deepEqual(flagValue(runc, '--pids-limit'), ['4096']);
    assert.ok(flagValue(runc, '--ulimit').includes(`nproc=${spec.ulimits.nproc}:${spec.ulimits.nproc}`));
  });
  it('publishes SSH on loopback only', () => {
    assert.deepEqual(flagValue(args, '--publish'), ['127.0.0.1:2222:2222']);
  });
  it('mounts instance volumes, the caches the policy shares, and the SSH folder read-only', () => {
    const volumes = flagValue(args, '--volume');
    assert.ok(volumes.includes('/h/sandbox-ssh:/etc/aibox/ssh:ro'));
    assert.ok(volumes.includes('proj-home:/home/dev'));
    assert.ok(volumes.includes('proj-workspace:/workspace'));
    assert.ok(volumes.includes('proj-toolpacks:/opt/toolpacks'));
    assert.ok(volumes.includes('proj-npm-cache:/home/dev/.npm'));
    assert.ok(volumes.includes('aibox-shared-maven-cache:/home/dev/.m2/repository'));
  });
  it('asks gVisor before 20240729 to see the host\'s writes to the toolpacks volume, and only to it; no hint from 20240729 on', () => {
    assert.deepEqual(flagValue(args, '--annotation'), [
      `dev.gvisor.spec.mount.aibox-toolpacks.source=${spec.toolpacksDir}`,
      'dev.gvisor.spec.mount.aibox-toolpacks.type=bind',
      'dev.gvisor.spec.mount.aibox-toolpacks.share=shared',
    ]);
    assert.deepEqual(flagValue(podmanCreateArgs({ ...spec, runtime: { ...spec.runtime, toolpacksHint: false } }), '--annotation'), []);
  });
  it('gives each instance its own build caches unless the policy shares one', () => {
    const caches = (instance: string, shared: Parameters<typeof instanceVolumes>[1] = []) => instanceVolumes(instance, shared).filter((volume) => volume.name.endsWith('-cache'));
    assert.deepEqual(caches('aibox').map((volume) => volume.name), ['aibox-npm-cache', 'aibox-maven-cache', 'aibox-gradle-cache', 'aibox-pip-cache']);
    assert.ok(caches('proj').every((volume) => volume.labels['dev.aibox.instance'] === 'proj'));
    const shared = caches('proj', ['npm']).find((volume) => volume.target === '/home/dev/.npm');
    assert.deepEqual(shared?.labels, { 'dev.aibox.shared-cache': 'npm' });
    assert.throws(() => resolveInstance(resolvePaths({ HOME: '/h' }), 'aibox-shared'), /reserved/);
  });
});

describe('resource profiles', () => {
  it('jetbrains gets 4 cores and 12 GB on a big host', () => {
    assert.deepEqual(resolveResources('jetbrains', { cpus: 16, memoryGiB: 64 }), { profile: 'jetbrains', cpus: 4, memoryGiB: 12, warnings: [] });
  });
  it('shrinks to a small host with warnings', () => {
    const resources = resolveResources('jetbrains', { cpus: 2, memoryGiB: 8 });
    assert.deepEqual([resources.cpus, resources.memoryGiB], [2, 6]);
    assert.equal(resources.warnings.length, 2);
    assert.match(resources.warnings[0] ?? '', /needs 4 CPU cores; this host has 2/);
  });
  it('rejects an unknown profile', () => {
    assert.throws(() => parseProfile('huge'), (error: unknown) => error instanceof AiboxError && error.code === 'USAGE' && /unknown profile "huge"/.test(error.message) && /default, jetbrains/.test(error.hint ?? ''));
  });
});

describe('runtime', () => {
  it('prefers gVisor when runsc is installed, and writes its wrapper with the flags of its release', async () => {
    const bin = await mkdtemp(join(tmpdir(), 'aibox-bin-'));
    const data = await mkdtemp(join(tmpdir(), 'aibox-data-'));
    const expected: [string, string, boolean][] = [
      ['0.0~20221219.0', '--network=host --oci-seccomp --file-access-mounts=exclusive', true],
      ['0.0~20240729.0', '--network=host --oci-seccomp', false],
      ['release-20250101.0', '--network=host --oci-seccomp', false],
    ];
    for (const [version, flags, toolpacksHint] of expected) {
      await writeFile(join(bin, 'runsc'), `#!/bin/sh\necho "runsc version ${version}"\n`, { mode: 0o755 });
      const runtime = await resolveRuntime('auto', { PATH: bin }, data);
      assert.equal(runtime.kind, 'gvisor');
      assert.equal(runtime.toolpacksHint, toolpacksHint, version);
      assert.equal(await readFile(runtime.podmanRuntime, 'utf8'), `#!/bin/sh\n# Written by aibox: runsc with the flags aibox sandboxes need.\nexec ${bin}/runsc ${flags} "$@"\n`);
    }
  });
  it('falls back to runc with a warning, or fails when gvisor is demanded', async () => {
    const data = await mkdtemp(join(tmpdir(), 'aibox-data-'));
    const fallback = await resolveRuntime('auto', { PATH: '/nonexistent' }, data);
    assert.equal(fallback.kind, 'runc');
    assert.match(fallback.warnings[0] ?? '', /weaker isolation/);
    await assert.rejects(resolveRuntime('gvisor', { PATH: '/nonexistent' }, data), /gVisor \(runsc\) is not installed/);
    assert.equal(parseRuntime('runsc'), 'gvisor');
    assert.throws(() => parseRuntime('kata'), /unknown runtime "kata"/);
  });
});

describe('instance state', () => {
  it('a corrupted state file gives one clear error with the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-state-'));
    await mkdir(dir, { recursive: true });
    await writeFile(statePath(dir), '{"version": 1, "port": ');
    await assert.rejects(readState(dir), (error: unknown) => {
      assert.ok(error instanceof AiboxError);
      assert.match(error.message, /state file .*state.json is corrupted/);
      assert.match(error.hint ?? '', /rm .*state.json/);
      assert.equal(exitCodeOf(error), 3);
      return true;
    });
    await writeFile(statePath(dir), '{"version": 1, "port": "x"}');
    await assert.rejects(readState(dir), /corrupted/);
  });
  it('validates instance names', () => {
    const paths = resolvePaths({ HOME: '/h' });
    assert.equal(resolveInstance(paths, 'my-proj').sshConfig, '/h/.local/share/aibox/instances/my-proj/ssh_config');
    for (const bad of ['', 'UPPER', '../x', 'a b', '-x']) assert.throws(() => resolveInstance(paths, bad), /invalid sandbox name/);
  });
});

describe('ssh command lines', () => {
  it('quotes remote arguments for the sandbox shell', () => {
    assert.equal(shellQuote('plain-arg_1.txt'), 'plain-arg_1.txt');
    assert.equal(shellQuote("it's a $HOME"), `'it'\\''s a $HOME'`);
    assert.deepEqual(sshArgs('/c', 'box', ['echo', 'a b'], false), ['-F', '/c', 'box', '--', "echo 'a b'"]);
    assert.deepEqual(sshArgs('/c', 'box', [], true), ['-F', '/c', '-t', 'box']);
  });
});

describe('doctor hardening check', () => {
  const expected = { ociRuntime: '/h/runsc-aibox', volumes: instanceVolumes('proj'), sshDir: '/h/sandbox-ssh', pidsLimit: 16384, idBase: 1_000_000_000 };
  const hardened: ContainerInfo = {
    Id: 'x',
    Name: 'proj',
    ImageName: 'localhost/aibox:x',
    OCIRuntime: '/h/runsc-aibox',
    EffectiveCaps: null,
    BoundingCaps: null,
    State: { Status: 'running', Running: true },
    Config: { User: '1000:1000', Labels: { 'dev.aibox.instance': 'proj' } },
    HostConfig: {
      CapAdd: [],
      CapDrop: ['CAP_CHOWN', 'CAP_NET_RAW'],
      Privileged: false,
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges'],
      PidsLimit: 4096,
      NetworkMode: 'bridge',
      PidMode: 'private',
      IpcMode: 'shareable',
      UTSMode: 'private',
      UsernsMode: 'private',
      IDMappings: { UidMap: ['0:1000000000:65536'], GidMap: ['0:1000000000:65536'] },
      Devices: [],
      PortBindings: { '2222/tcp': [{ HostIp: '127.0.0.1', HostPort: '2222' }] },
    },
    Mounts: [
      ...instanceVolumes('proj').map((volume) => ({ Type: 'volume', Name: volume.name, Destination: volume.target, RW: !volume.readOnly })),
      { Type: 'bind', Source: '/h/sandbox-ssh', Destination: '/etc/aibox/ssh', RW: false },
    ],
  };
  it('accepts the container aibox creates', () => {
    assert.deepEqual(hardeningProblems(hardened, expected), []);
  });
  it('names each weakening', () => {
    const weak: ContainerInfo = {
      ...hardened,
      OCIRuntime: 'runc',
      EffectiveCaps: ['CAP_NET_ADMIN'],
      Config: { User: '0', Labels: hardened.Config.Labels },
      HostConfig: {
        ...hardened.HostConfig,
        CapAdd: ['CAP_NET_ADMIN'],
        Privileged: true,
        ReadonlyRootfs: false,
        SecurityOpt: ['seccomp=unconfined'],
        PidsLimit: 0,
        PidMode: 'host',
        IDMappings: null,
        Devices: [{ PathOnHost: '/dev/fuse' }],
        PortBindings: { '2222/tcp': [{ HostIp: '', HostPort: '2222' }], '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] },
      },
      Mounts: [
        ...hardened.Mounts.filter((mount) => mount.Destination !== '/workspace').map((mount) => ({ ...mount, RW: true })),
        { Type: 'bind', Source: '/etc', Destination: '/hostetc', RW: true },
      ],
    };
    assert.deepEqual(hardeningProblems(weak, expected), [
      'runs as user "0" instead of 1000:1000',
      'privileged',
      'capabilities added: CAP_NET_ADMIN',
      'capabilities not dropped: CAP_NET_ADMIN',
      'no-new-privileges is off',
      'security options changed: seccomp=unconfined',
      'root file system is writable',
      'no pids limit',
      "shares the host's namespaces: PidMode",
      "runs without aibox's user namespace: its dev is uid 1000 on the host too (expected 1000001000)",
      'host devices: /dev/fuse',
      'runtime is runc, not /h/runsc-aibox',
      '/etc/aibox/ssh is writable',
      'unexpected mount of /etc at /hostetc',
      'missing mount of proj-workspace at /workspace',
      'ports published beyond loopback: 0.0.0.0:2222',
      'port 80/tcp published',
    ]);
  });
});

describe('ssh config values', () => {
  it('quotes paths so ssh reads back exactly the path, even with % " \\ and spaces', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-we%ir"d \\x-'));
    const keys = instanceKeys(dir, 'proj');
    const config = join(dir, 'ssh_config');
    await writeFile(config, `${hostEntry({ instance: 'proj', port: 2222, keys, controlDir: join(dir, 'c') }).join('\n')}\n`);
    const result = spawnSync('ssh', ['-G', '-F', config, 'proj'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const value = (key: string) => result.stdout.split('\n').find((line) => line.startsWith(`${key} `))?.slice(key.length + 1);
    assert.equal(value('userknownhostsfile'), keys.knownHosts);
    assert.equal(value('hostkeyalias'), 'aibox.proj');
    assert.throws(() => quotePath('/h/a\nb'), /line break/);
  });
});

describe('ports of several sandboxes', () => {
  it('gives a new sandbox the first port that is free and not kept by another sandbox', async () => {
    const paths = resolvePaths({ HOME: await mkdtemp(join(tmpdir(), 'aibox-ports-')) });
    const base = await freePort();
    await writeState(paths.instanceDir('other'), { version: 1, instance: 'other', port: base, runtime: 'gvisor', profile: 'default', image: 'i', createdAt: '' });
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen({ port: base + 1, host: '127.0.0.1' }, resolve));
    try {
      const chosen = await choosePort(paths, resolveInstance(paths, 'mine'), base);
      assert.ok(chosen >= base + 2, `${chosen}: not the kept ${base} nor the bound ${base + 1}`);
      assert.equal(await choosePort(paths, resolveInstance(paths, 'other'), base), base, 'its own kept port is not in its way');
    } finally {
      busy.close();
    }
  });
});

describe('doctor: the gVisor release', () => {
  it('warns about a runsc without directfs and says how to get a newer one', () => {
    const old = runscCheck('/usr/bin/runsc', 'runsc version 0.0~20221219.0\nspec: 1.0.2-dev\n');
    assert.equal(old.status, 'warn');
    assert.match(old.detail, /^gVisor 20221219 at \/usr\/bin\/runsc is old: no directfs/);
    assert.match(old.fix ?? '', /-t bookworm-backports runsc/);
    assert.deepEqual(runscCheck('/usr/bin/runsc', 'runsc version release-20240729.0\n'), { name: 'runtime', status: 'ok', detail: 'gVisor 20240729 at /usr/bin/runsc' });
    assert.equal(runscCheck('/x/runsc', 'something else').status, 'ok');
  });
});
