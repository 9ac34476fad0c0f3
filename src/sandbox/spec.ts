import type { CacheTool } from '../policy/schema.js';
import { idMapArgs } from './idmap.js';
import type { ProfileName } from './profiles.js';
import type { RuntimeKind } from './runtime.js';

/** Port sshd listens on inside the sandbox (unprivileged: sshd runs as dev). */
export const SANDBOX_SSH_PORT = 2222;
export const SANDBOX_USER = '1000:1000';
/**
 * The pids limit of the container's cgroup, per runtime. Under gVisor it also counts
 * gVisor's own host tasks (on the ptrace platform a stub process and threads per guest
 * process), and gVisor dies when it cannot make one: at 4096 a sandbox died between
 * 1,000 and 1,500 guest processes, at 16384 it kept 3,000 (docs/performance.md).
 * Under runc it counts the guest's processes only.
 */
export const SANDBOX_PIDS_LIMIT: Record<RuntimeKind, number> = { gvisor: 16384, runc: 4096 };
/**
 * The guest's RLIMIT_NPROC under gVisor, well below the pids limit: gVisor 20240729
 * (systrap) uses about 2 host tasks per guest process, so a fork bomb gets EAGAIN at
 * 4096 processes (~8,300 host tasks of 16384) and the sandbox and its sessions survive
 * (measured, docs/performance.md). Under runc the pids limit itself gives EAGAIN.
 */
export const GVISOR_GUEST_NPROC = 4096;
/** Where the host folder with the sandbox's host key and authorized_keys is mounted (read-only). */
export const SSH_DIR_TARGET = '/etc/aibox/ssh';
export const LABEL_INSTANCE = 'dev.aibox.instance';
export const LABEL_PROFILE = 'dev.aibox.profile';
export const LABEL_RUNTIME = 'dev.aibox.runtime';

export const LABEL_SHARED_CACHE = 'dev.aibox.shared-cache';
/** On an image variant: the base image it was built FROM (so `status` can tell whether it is current). */
export const LABEL_VARIANT_BASE = 'dev.aibox.variant.base';
export const TOOLPACKS_TARGET = '/opt/toolpacks';
/**
 * gVisor's per-mount hint for the toolpacks volume: `share=shared` makes gVisor
 * revalidate that one mount against the host, so packs aibox extracts there on the
 * host appear in the running sandbox at once. Every other volume keeps
 * `--file-access-mounts=exclusive` (cached). Only for releases before 20240729, where
 * every mount is shared instead (runtime.ts, gvisorSetup); runc ignores it.
 */
export const TOOLPACKS_HINT = 'dev.gvisor.spec.mount.aibox-toolpacks';

export interface VolumeMount {
  name: string;
  target: string;
  readOnly: boolean;
  /** The labels that mark the volume as aibox's: its instance, or a cache shared by the org policy. */
  labels: Record<string, string>;
}

/** Where each build cache lives in the sandbox. */
const CACHE_TARGETS: Record<CacheTool, string> = {
  npm: '/home/dev/.npm',
  maven: '/home/dev/.m2/repository',
  gradle: '/home/dev/.gradle/caches',
  pip: '/home/dev/.cache/pip',
};

/** The instance name that would collide with the shared caches' volume names. */
export const SHARED_CACHE_PREFIX = 'aibox-shared';

/**
 * Named volumes of an instance: state that survives stop, re-creation and image
 * updates. Build caches belong to the instance (`<instance>-<tool>-cache`), so a
 * sandbox cannot plant a jar or package that another one later builds with;
 * the org policy may share one (`caches.shared`) as `aibox-shared-<tool>-cache`.
 */
export function instanceVolumes(instance: string, sharedCaches: readonly CacheTool[] = []): VolumeMount[] {
  const own = { [LABEL_INSTANCE]: instance };
  const volume = (suffix: string, target: string, readOnly = false): VolumeMount => ({ name: `${instance}-${suffix}`, target, readOnly, labels: own });
  const caches = (Object.entries(CACHE_TARGETS) as [CacheTool, string][]).map(([tool, target]) =>
    sharedCaches.includes(tool)
      ? { name: `${SHARED_CACHE_PREFIX}-${tool}-cache`, target, readOnly: false, labels: { [LABEL_SHARED_CACHE]: tool } }
      : volume(`${tool}-cache`, target),
  );
  return [
    volume('home', '/home/dev'),
    volume('workspace', '/workspace'),
    // Tool packs: aibox writes them from the host; its folders are root's (0755), so dev
    // reads and runs but never changes them (see TOOLPACKS_HINT and ARCHITECTURE.md).
    volume('toolpacks', TOOLPACKS_TARGET),
    ...caches,
  ];
}

export interface SandboxSpec {
  instance: string;
  image: string;
  runtime: { kind: RuntimeKind; podmanRuntime: string; toolpacksHint: boolean };
  profile: ProfileName;
  port: number;
  cpus: number;
  memoryGiB: number;
  /** Host folder with the sandbox's host key and authorized_keys. */
  sshDir: string;
  ulimits: { nofile: number; nproc: number };
  volumes: VolumeMount[];
  /** The toolpacks volume's folder on the host (gVisor's mount hint names it). */
  toolpacksDir: string;
  /** The host id of the sandbox's root, the base of its user namespace (idmap.ts); 0: none of aibox's own. */
  idBase: number;
}

/** The `podman run` arguments of a sandbox: least privilege, loopback-only SSH. */
export function podmanCreateArgs(spec: SandboxSpec): string[] {
  const volumes = spec.volumes.flatMap((volume) => [
    '--volume',
    `${volume.name}:${volume.target}${volume.readOnly ? ':ro' : ''}`,
  ]);
  const nproc = spec.runtime.kind === 'gvisor' ? Math.min(spec.ulimits.nproc, GVISOR_GUEST_NPROC) : spec.ulimits.nproc;
  return [
    '--name', spec.instance,
    '--hostname', spec.instance,
    '--runtime', spec.runtime.podmanRuntime,
    '--user', SANDBOX_USER,
    ...idMapArgs(spec.idBase),
    '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges',
    // Root filesystem read-only; podman mounts tmpfs on /tmp, /var/tmp and /run.
    '--read-only',
    '--read-only-tmpfs',
    '--pids-limit', String(SANDBOX_PIDS_LIMIT[spec.runtime.kind]),
    '--cpus', String(spec.cpus),
    '--memory', `${spec.memoryGiB}g`,
    '--ulimit', `nofile=${spec.ulimits.nofile}:${spec.ulimits.nofile}`,
    '--ulimit', `nproc=${nproc}:${nproc}`,
    '--publish', `127.0.0.1:${spec.port}:${SANDBOX_SSH_PORT}`,
    '--volume', `${spec.sshDir}:${SSH_DIR_TARGET}:ro`,
    ...volumes,
    '--label', `${LABEL_INSTANCE}=${spec.instance}`,
    '--label', `${LABEL_PROFILE}=${spec.profile}`,
    '--label', `${LABEL_RUNTIME}=${spec.runtime.kind}`,
    ...(spec.runtime.toolpacksHint ? ['--annotation', `${TOOLPACKS_HINT}.source=${spec.toolpacksDir}`, '--annotation', `${TOOLPACKS_HINT}.type=bind`, '--annotation', `${TOOLPACKS_HINT}.share=shared`] : []),
    spec.image,
  ];
}
