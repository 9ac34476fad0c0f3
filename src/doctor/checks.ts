import { readFile, stat, statfs } from 'node:fs/promises';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { readRegularFile } from '../core/files.js';
import { planCurrentImage } from '../image/build.js';
import { checkKeyring } from '../image/keyring.js';
import { loadPolicyFor } from '../policy/load.js';
import { isPortFree } from '../sandbox/host.js';
import { RUNSC_DIRECTFS_RELEASE, runscRelease } from '../sandbox/runtime.js';
import type { Instance } from '../sandbox/instance.js';
import { hardeningProblems } from '../sandbox/hardening.js';
import { sandboxIdBase } from '../sandbox/idmap.js';
import { ownContainer } from '../sandbox/ownership.js';
import { Podman } from '../sandbox/podman.js';
import { LABEL_RUNTIME, SANDBOX_PIDS_LIMIT, instanceVolumes } from '../sandbox/spec.js';
import { findOnPath } from '../core/runner.js';
import { gvisorWrapperPath } from '../sandbox/runtime.js';
import { readState } from '../sandbox/state.js';
import { parseBlocks } from '../ssh/config-block.js';
import { findShellConflicts } from '../shell/index.js';
import { egressCheck } from '../egress/index.js';

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** What to do when not ok. */
  fix?: string;
}

const INOTIFY_WATCHES = 524288;
const MIN_FREE_GIB = 10;

type Probe = () => Promise<Check>;

/**
 * What `runsc --version` says about the gVisor in use. An old release (Debian bookworm's
 * 20221219) works, with the statx half of the image's gVisor shim, but has no directfs: file-heavy builds cost
 * about twice as much (docs/performance.md; issue 12's measurement).
 */
export function runscCheck(path: string, versionOutput: string): Check {
  const release = runscRelease(versionOutput);
  if (release === undefined) return { name: 'runtime', status: 'ok', detail: `gVisor at ${path} (version unknown: ${versionOutput.split('\n')[0] ?? ''})` };
  if (release >= RUNSC_DIRECTFS_RELEASE) return { name: 'runtime', status: 'ok', detail: `gVisor ${release} at ${path}` };
  return {
    name: 'runtime',
    status: 'warn',
    detail: `gVisor ${release} at ${path} is old: no directfs, so a file-heavy build (npm ci) ran 4.9x the host here against 2.4x with release ${RUNSC_DIRECTFS_RELEASE} (docs/performance.md)`,
    fix: "on Debian bookworm: stop the running sandboxes, add the bookworm-backports suite of your mirror to apt's sources, then apt-get install -y -t bookworm-backports runsc (scripts/install-host-deps.sh does all of it)",
  };
}

const INOTIFY_FIX = `sudo sysctl -w fs.inotify.max_user_watches=${INOTIFY_WATCHES} && echo fs.inotify.max_user_watches=${INOTIFY_WATCHES} | sudo tee /etc/sysctl.d/60-aibox-inotify.conf`;

/**
 * The inotify watch limit, on the host and as the running sandbox sees it
 * (`inside`: its /proc/sys/fs/inotify/max_user_watches, undefined when not
 * asked). runc shares the host kernel's limit; gVisor implements inotify
 * itself and shows its own value. Watchers of big trees (webpack, Vite,
 * Gradle, IDE indexers) fail with ENOSPC below the limit.
 */
export function inotifyCheck(hostWatches: number, inside?: string): Check {
  const sandbox = inside === undefined ? '' : /^\d+$/.test(inside) ? `; the sandbox sees ${inside}` : '; the sandbox shows no limit (gVisor has its own inotify)';
  if (hostWatches >= INOTIFY_WATCHES) {
    if (inside !== undefined && /^\d+$/.test(inside) && Number(inside) < INOTIFY_WATCHES) {
      return { name: 'inotify', status: 'warn', detail: `fs.inotify.max_user_watches = ${hostWatches} on the host, but the sandbox sees ${inside}: file watchers of large projects will fail inside`, fix: `recreate the sandbox after raising it: ${INOTIFY_FIX}` };
    }
    return { name: 'inotify', status: 'ok', detail: `fs.inotify.max_user_watches = ${hostWatches}${sandbox}` };
  }
  return {
    name: 'inotify',
    status: 'warn',
    detail: `fs.inotify.max_user_watches = ${hostWatches}${sandbox}: file watchers (webpack, Vite, Gradle) of large projects will fail`,
    fix: INOTIFY_FIX,
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs every check; a check that throws is reported as failed, never aborts the others. */
export async function runChecks(ctx: Context, instance: Instance): Promise<Check[]> {
  const podman = new Podman(ctx.run);
  // Read once, shared by the checks; each check that awaits them reports their failure.
  const config = loadConfig(ctx.paths);
  const container = ownContainer(podman, instance);
  const policy = config.then((settings) => loadPolicyFor(ctx, settings));
  for (const shared of [config, container, policy]) shared.catch(() => undefined);
  const probes: [string, Probe][] = [
    ['podman', async () => {
      const version = (await ctx.run('podman', ['version', '--format', '{{.Client.Version}}'])).stdout.trim();
      return { name: 'podman', status: 'ok', detail: `podman ${version}` };
    }],
    ['runtime', async () => {
      const runsc = await findOnPath('runsc', ctx.env);
      if (!runsc) return { name: 'runtime', status: 'warn', detail: 'gVisor (runsc) not installed: sandboxes fall back to runc, a weaker isolation', fix: 'sudo apt-get install -y runsc' };
      return runscCheck(runsc, (await ctx.run(runsc, ['--version'], { allowFailure: true })).stdout);
    }],
    ['port', async () => {
      const info = await container;
      const port = (await readState(instance.dir))?.port ?? (await config)['ssh.port'];
      if (info?.State.Running) return { name: 'port', status: 'ok', detail: `127.0.0.1:${port} is the running sandbox's SSH port` };
      return (await isPortFree(port))
        ? { name: 'port', status: 'ok', detail: `127.0.0.1:${port} is free` }
        : { name: 'port', status: 'fail', detail: `127.0.0.1:${port} is in use by another program`, fix: `aibox config set ssh.port ${port + 1} (or stop what listens there)` };
    }],
    ['keys', async () => {
      const key = instance.keys.clientKey;
      const info = await stat(key).catch(() => undefined);
      if (!info) return { name: 'keys', status: 'fail', detail: `no sandbox key at ${key}`, fix: 'aibox setup' };
      const mode = info.mode & 0o777;
      return mode & 0o077
        ? { name: 'keys', status: 'fail', detail: `${key} has mode ${mode.toString(8)}; ssh refuses keys others can read`, fix: `chmod 600 ${key}` }
        : { name: 'keys', status: 'ok', detail: `${key} (mode 600)` };
    }],
    ['ssh-config', async () => {
      const path = ctx.paths.sshConfig;
      const text = (await readRegularFile(path)) ?? '';
      const block = parseBlocks(text, path).find((candidate) => candidate.name === instance.name);
      return block
        ? { name: 'ssh-config', status: 'ok', detail: `Host ${instance.name} in ${path}` }
        : { name: 'ssh-config', status: 'fail', detail: `no aibox block for ${instance.name} in ${path}`, fix: 'aibox setup' };
    }],
    ['inotify', async () => {
      const hostWatches = Number((await readFile('/proc/sys/fs/inotify/max_user_watches', 'utf8')).trim());
      const info = await container.catch(() => undefined);
      if (!info?.State.Running) return inotifyCheck(hostWatches);
      const inside = await ctx.run('ssh', ['-F', instance.sshConfig, '-o', 'ConnectTimeout=5', instance.name, 'cat /proc/sys/fs/inotify/max_user_watches 2>/dev/null || true'], { allowFailure: true, timeoutMs: 15_000 });
      return inotifyCheck(hostWatches, inside.exitCode === 0 ? inside.stdout.trim() : undefined);
    }],
    ['disk', async () => {
      const where = '/var/lib/containers';
      const info = await statfs(where).catch(() => statfs('/'));
      const freeGiB = (info.bavail * info.bsize) / 1024 ** 3;
      return freeGiB >= MIN_FREE_GIB
        ? { name: 'disk', status: 'ok', detail: `${freeGiB.toFixed(0)} GB free for images and volumes` }
        : { name: 'disk', status: 'warn', detail: `only ${freeGiB.toFixed(1)} GB free for images and volumes`, fix: 'free space, e.g. podman image prune' };
    }],
    ['image', async () => {
      const plan = await planCurrentImage(await config);
      return (await podman.imageExists(plan.tag))
        ? { name: 'image', status: 'ok', detail: plan.tag }
        : { name: 'image', status: 'warn', detail: `image ${plan.tag} is not built yet (start builds it)`, fix: 'aibox image build' };
    }],
    ['keyring', async () => {
      const keyring = await checkKeyring(await config);
      return { name: 'keyring', status: keyring.ok ? 'ok' : 'fail', detail: keyring.detail, fix: keyring.fix };
    }],
    ['sandbox', async () => {
      const info = await container;
      if (!info) return { name: 'sandbox', status: 'ok', detail: `${instance.name} does not exist yet (aibox start creates it)` };
      const runc = info.Config.Labels?.[LABEL_RUNTIME] === 'runc';
      const problems = hardeningProblems(info, {
        ociRuntime: runc ? 'runc' : gvisorWrapperPath(ctx.paths.dataDir),
        volumes: instanceVolumes(instance.name, (await policy).sharedCaches.value),
        sshDir: instance.keys.sandboxSshDir,
        pidsLimit: SANDBOX_PIDS_LIMIT[runc ? 'runc' : 'gvisor'],
        idBase: sandboxIdBase(runc ? 'runc' : 'gvisor'),
      });
      return problems.length === 0
        ? { name: 'sandbox', status: 'ok', detail: `${instance.name} is ${info.State.Status}, hardened (${info.OCIRuntime.includes('runsc') ? 'gVisor' : info.OCIRuntime})` }
        : { name: 'sandbox', status: 'fail', detail: `${instance.name} is not hardened: ${problems.join('; ')}`, fix: `re-create it (volumes are kept): aibox upgrade --force --name ${instance.name}` };
    }],
    ['shell', async () => {
      const info = await container;
      if (!info?.State.Running) return { name: 'shell', status: 'ok', detail: `${instance.name} is not running (dotfiles are checked while it runs)` };
      return { name: 'shell', ...(await findShellConflicts(ctx.run, instance.sshConfig, instance.name)) };
    }],
    ['egress', async () => ({ name: 'egress', ...(await egressCheck(ctx, instance.name, await container)) })],
    ['policy', async () => {
      const { layers, warnings } = await policy;
      const detail = `layers: ${layers.map((layer) => layer.origin).join(' > ')}`;
      return warnings.length > 0
        ? { name: 'policy', status: 'warn', detail: `${detail}; ${warnings.join('; ')}`, fix: 'chown the file to yourself if it is yours, or remove it' }
        : { name: 'policy', status: 'ok', detail };
    }],
  ];
  return Promise.all(
    probes.map(([name, probe]) =>
      probe().catch((error): Check => ({ name, status: 'fail', detail: message(error), fix: (error as { hint?: string }).hint })),
    ),
  );
}
