import type { ProfileName } from './profiles.js';
import type { RuntimeKind } from './runtime.js';

/** Port sshd listens on inside the sandbox (unprivileged: sshd runs as dev). */
export const SANDBOX_SSH_PORT = 2222;
export const LABEL_INSTANCE = 'dev.aibox.instance';
export const LABEL_PROFILE = 'dev.aibox.profile';
export const LABEL_RUNTIME = 'dev.aibox.runtime';

export interface VolumeMount {
  name: string;
  target: string;
  readOnly: boolean;
  /** Shared by every instance (build caches), or owned by one. */
  shared: boolean;
}

/** Named volumes of an instance: state that survives stop, re-creation and image updates. */
export function instanceVolumes(instance: string): VolumeMount[] {
  const own = (suffix: string, target: string, readOnly = false): VolumeMount => ({
    name: `${instance}-${suffix}`,
    target,
    readOnly,
    shared: false,
  });
  // Build caches are named aibox-<tool>-cache and shared by all sandboxes (plan, WS4).
  const cache = (tool: string, target: string): VolumeMount => ({ name: `aibox-${tool}-cache`, target, readOnly: false, shared: true });
  return [
    own('home', '/home/dev'),
    own('workspace', '/workspace'),
    // Tool packs are written by aibox from outside; the sandbox only reads them.
    own('toolpacks', '/opt/toolpacks', true),
    cache('npm', '/home/dev/.npm'),
    cache('maven', '/home/dev/.m2/repository'),
    cache('gradle', '/home/dev/.gradle/caches'),
    cache('pip', '/home/dev/.cache/pip'),
  ];
}

export interface SandboxSpec {
  instance: string;
  image: string;
  runtime: { kind: RuntimeKind; podmanRuntime: string };
  profile: ProfileName;
  port: number;
  cpus: number;
  memoryGiB: number;
  /** Host folder with the sandbox's host key and authorized_keys. */
  sshDir: string;
  ulimits: { nofile: number; nproc: number };
}

/** The `podman run` arguments of a sandbox: least privilege, loopback-only SSH. */
export function podmanRunArgs(spec: SandboxSpec): string[] {
  const volumes = instanceVolumes(spec.instance).flatMap((volume) => [
    '--volume',
    `${volume.name}:${volume.target}${volume.readOnly ? ':ro' : ''}`,
  ]);
  return [
    '--detach',
    '--name', spec.instance,
    '--hostname', spec.instance,
    '--runtime', spec.runtime.podmanRuntime,
    '--user', '1000:1000',
    '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges',
    // Root filesystem read-only; podman mounts tmpfs on /tmp, /var/tmp and /run.
    '--read-only',
    '--read-only-tmpfs',
    '--pids-limit', '4096',
    '--cpus', String(spec.cpus),
    '--memory', `${spec.memoryGiB}g`,
    '--ulimit', `nofile=${spec.ulimits.nofile}:${spec.ulimits.nofile}`,
    '--ulimit', `nproc=${spec.ulimits.nproc}:${spec.ulimits.nproc}`,
    '--publish', `127.0.0.1:${spec.port}:${SANDBOX_SSH_PORT}`,
    '--volume', `${spec.sshDir}:/etc/aibox/ssh:ro`,
    ...volumes,
    '--label', `${LABEL_INSTANCE}=${spec.instance}`,
    '--label', `${LABEL_PROFILE}=${spec.profile}`,
    '--label', `${LABEL_RUNTIME}=${spec.runtime.kind}`,
    spec.image,
  ];
}
