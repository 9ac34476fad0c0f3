import { containerIdBase } from './idmap.js';
import type { ContainerInfo } from './podman.js';
import { SANDBOX_SSH_PORT, SANDBOX_USER, SSH_DIR_TARGET, type VolumeMount } from './spec.js';

/** What aibox would create for this sandbox: the security-relevant part of its spec. */
export interface ExpectedSandbox {
  /** What podman records as the OCI runtime: "runc" or aibox's gVisor wrapper. */
  ociRuntime: string;
  volumes: readonly VolumeMount[];
  /** The host folder mounted read-only at /etc/aibox/ssh. */
  sshDir: string;
  /** The highest pids limit aibox would set (per runtime: SANDBOX_PIDS_LIMIT). */
  pidsLimit: number;
  /** The host id of the sandbox's root (idmap.ts: sandboxIdBase); 0 when aibox adds no user namespace. */
  idBase: number;
}

const HOST_NAMESPACES = ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode'] as const;

/**
 * Every way the container differs from what aibox would create: user, capabilities
 * (added or left in place), privileged, seccomp/AppArmor/SELinux, no-new-privileges,
 * read-only root, pids limit, host namespaces, user namespace, devices, runtime, mounts and ports.
 */
export function hardeningProblems(info: ContainerInfo, expected: ExpectedSandbox): string[] {
  const problems: string[] = [];
  const host = info.HostConfig;
  if (info.Config.User !== SANDBOX_USER) problems.push(`runs as user "${info.Config.User ?? ''}" instead of ${SANDBOX_USER}`);
  if (host.Privileged) problems.push('privileged');
  if ((host.CapAdd ?? []).length > 0) problems.push(`capabilities added: ${host.CapAdd?.join(', ')}`);
  const kept = [...new Set([...(info.EffectiveCaps ?? []), ...(info.BoundingCaps ?? [])])];
  if (kept.length > 0) problems.push(`capabilities not dropped: ${kept.join(', ')}`);
  const securityOpt = host.SecurityOpt ?? [];
  if (!securityOpt.includes('no-new-privileges')) problems.push('no-new-privileges is off');
  const weakened = securityOpt.filter((option) => /^(seccomp|apparmor)[=:]|^label[=:]disable/.test(option));
  if (weakened.length > 0) problems.push(`security options changed: ${weakened.join(', ')}`);
  if (!host.ReadonlyRootfs) problems.push('root file system is writable');
  const pids = host.PidsLimit ?? 0;
  if (pids <= 0 || pids > expected.pidsLimit) problems.push(pids <= 0 ? 'no pids limit' : `pids limit ${pids} above ${expected.pidsLimit}`);
  const shared = HOST_NAMESPACES.filter((mode) => host[mode] === 'host');
  if (shared.length > 0) problems.push(`shares the host's namespaces: ${shared.join(', ')}`);
  if (containerIdBase(info) !== expected.idBase) problems.push(expected.idBase === 0 ? 'runs in a user namespace aibox did not make' : `runs without aibox's user namespace: its dev is uid 1000 on the host too (expected ${expected.idBase + 1000})`);
  if ((host.Devices ?? []).length > 0) problems.push(`host devices: ${host.Devices?.map((device) => device.PathOnHost).join(', ')}`);
  if (info.OCIRuntime !== expected.ociRuntime) problems.push(`runtime is ${info.OCIRuntime}, not ${expected.ociRuntime}`);
  problems.push(...mountProblems(info, expected));
  problems.push(...portProblems(info));
  return problems;
}

function mountProblems(info: ContainerInfo, expected: ExpectedSandbox): string[] {
  const wanted = new Map<string, { source: string; rw: boolean }>(expected.volumes.map((volume) => [volume.target, { source: volume.name, rw: !volume.readOnly }]));
  wanted.set(SSH_DIR_TARGET, { source: expected.sshDir, rw: false });
  const problems: string[] = [];
  for (const mount of info.Mounts) {
    const want = wanted.get(mount.Destination);
    const source = mount.Type === 'volume' ? mount.Name : mount.Source;
    if (!want || want.source !== source) problems.push(`unexpected mount of ${source ?? '?'} at ${mount.Destination}`);
    else if (mount.RW && !want.rw) problems.push(`${mount.Destination} is writable`);
    wanted.delete(mount.Destination);
  }
  for (const [target, want] of wanted) problems.push(`missing mount of ${want.source} at ${target}`);
  return problems;
}

function portProblems(info: ContainerInfo): string[] {
  const problems: string[] = [];
  for (const [port, bindings] of Object.entries(info.HostConfig.PortBindings ?? {})) {
    if (port !== `${SANDBOX_SSH_PORT}/tcp`) problems.push(`port ${port} published`);
    const exposed = (bindings ?? []).filter((binding) => binding.HostIp !== '127.0.0.1');
    if (exposed.length > 0) problems.push(`ports published beyond loopback: ${exposed.map((binding) => `${binding.HostIp || '0.0.0.0'}:${binding.HostPort}`).join(', ')}`);
  }
  return problems;
}
