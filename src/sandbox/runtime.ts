import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { writeFileIfChanged } from '../core/files.js';
import { findOnPath, installHint, runProcess } from '../core/runner.js';

export type RuntimeKind = 'gvisor' | 'runc';
export type RuntimeChoice = RuntimeKind | 'auto';

/** The first runsc release with directfs (Debian's bookworm-backports), measured here. */
export const RUNSC_DIRECTFS_RELEASE = 20240729;

/** The release `runsc --version` names ("runsc version 0.0~20240729.0" → 20240729), if any. */
export function runscRelease(versionOutput: string): number | undefined {
  const release = /version \S*?(\d{8})/.exec(versionOutput)?.[1];
  return release === undefined ? undefined : Number(release);
}

/** How aibox runs a gVisor release: its runsc flags, and whether the packs volume gets gVisor's mount hint. */
export interface GvisorSetup {
  flags: string[];
  /** The `share=shared` hint on the packs volume (spec.ts, TOOLPACKS_HINT). */
  toolpacksHint: boolean;
}

/**
 * network=host for every release: podman's bridge works only when gVisor hands network
 * syscalls to the container's own network namespace (still inside that namespace).
 * oci-seccomp for every release: gVisor applies podman's default seccomp profile inside the
 * sandbox, as runc does on the host (measured: within the noise of a file-heavy build,
 * 2.80× against 2.89× of the host under 20240729; docs/performance.md).
 * - Before 20240729 (Debian bookworm's 20221219): file-access-mounts=exclusive, so gVisor
 *   caches the volumes the sandbox alone writes (docs/performance.md), and the hint makes
 *   the packs volume, which aibox writes from the host, the one shared mount.
 * - From 20240729: every mount shared (the release's default) and no hint. That release
 *   puts a tmpfs overlay over every hinted mount (runsc's createGoferFilestores), so root's
 *   writes in the packs volume were lost at restart and folders the host removed stayed
 *   listed; exclusive caching is worth less with directfs (docs/performance.md).
 * An unknown release is taken as a new one.
 */
export function gvisorSetup(release: number | undefined): GvisorSetup {
  if (release !== undefined && release < RUNSC_DIRECTFS_RELEASE) return { flags: ['--network=host', '--oci-seccomp', '--file-access-mounts=exclusive'], toolpacksHint: true };
  return { flags: ['--network=host', '--oci-seccomp'], toolpacksHint: false };
}

export function parseRuntime(value: string): RuntimeChoice {
  const normalized = value === 'runsc' ? 'gvisor' : value;
  if (normalized === 'auto' || normalized === 'gvisor' || normalized === 'runc') return normalized;
  throw new AiboxError('USAGE', `unknown runtime "${value}"`, 'use gvisor (default when installed) or runc');
}

export interface ResolvedRuntime {
  kind: RuntimeKind;
  /** What podman gets as --runtime: "runc", or aibox's runsc wrapper. */
  podmanRuntime: string;
  /** gVisor's mount hint on the packs volume (gvisorSetup); false under runc. */
  toolpacksHint: boolean;
  warnings: string[];
}

/** gVisor by default when installed; runc only when asked for, or as a loud fallback. */
export async function resolveRuntime(choice: RuntimeChoice, env: NodeJS.ProcessEnv, dataDir: string): Promise<ResolvedRuntime> {
  const runsc = choice === 'runc' ? undefined : await findOnPath('runsc', env);
  if (choice === 'gvisor' && !runsc) {
    throw new AiboxError('MISSING_PREREQ', 'gVisor (runsc) is not installed', installHint('runsc'));
  }
  if (!runsc) {
    const why = choice === 'runc' ? 'runc was chosen' : 'gVisor (runsc) is not installed';
    return {
      kind: 'runc',
      podmanRuntime: 'runc',
      toolpacksHint: false,
      warnings: [`${why}: the sandbox shares the host kernel, a weaker isolation than gVisor (install it: ${installHint('runsc')})`],
    };
  }
  const version = await runProcess(runsc, ['--version'], { allowFailure: true });
  const setup = gvisorSetup(runscRelease(version.stdout));
  return { kind: 'gvisor', podmanRuntime: await writeGvisorWrapper(runsc, setup.flags, dataDir), toolpacksHint: setup.toolpacksHint, warnings: [] };
}

/** The wrapper podman records as a gVisor sandbox's OCI runtime. */
export function gvisorWrapperPath(dataDir: string): string {
  return join(dataDir, 'runtime', 'runsc-aibox');
}

/**
 * podman forgets --runtime-flag between `run` and `start`, so the flags live in
 * a tiny wrapper that podman records as the container's runtime.
 */
async function writeGvisorWrapper(runsc: string, flags: readonly string[], dataDir: string): Promise<string> {
  const path = gvisorWrapperPath(dataDir);
  const script = `#!/bin/sh\n# Written by aibox: runsc with the flags aibox sandboxes need.\nexec ${runsc} ${flags.join(' ')} "$@"\n`;
  await writeFileIfChanged(path, script, 0o755);
  return path;
}
