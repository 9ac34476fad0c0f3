import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { writeFileIfChanged } from '../core/files.js';
import { findOnPath, installHint } from '../core/runner.js';

export type RuntimeKind = 'gvisor' | 'runc';
export type RuntimeChoice = RuntimeKind | 'auto';

/**
 * Flags for Debian's runsc (release 20221219) under podman:
 * - network=host: podman's bridge works only when gVisor hands network syscalls
 *   to the container's own network namespace (still inside that namespace).
 * - file-access-mounts=exclusive: the sandbox is the only writer of its volumes,
 *   so gVisor may cache them (see docs/performance.md for the measured gain).
 */
export const GVISOR_FLAGS = ['--network=host', '--file-access-mounts=exclusive'];

export function parseRuntime(value: string): RuntimeChoice {
  const normalized = value === 'runsc' ? 'gvisor' : value;
  if (normalized === 'auto' || normalized === 'gvisor' || normalized === 'runc') return normalized;
  throw new AiboxError('USAGE', `unknown runtime "${value}"`, 'use gvisor (default when installed) or runc');
}

export interface ResolvedRuntime {
  kind: RuntimeKind;
  /** What podman gets as --runtime: "runc", or aibox's runsc wrapper. */
  podmanRuntime: string;
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
      warnings: [`${why}: the sandbox shares the host kernel, a weaker isolation than gVisor (install it: ${installHint('runsc')})`],
    };
  }
  return { kind: 'gvisor', podmanRuntime: await writeGvisorWrapper(runsc, dataDir), warnings: [] };
}

/** The wrapper podman records as a gVisor sandbox's OCI runtime. */
export function gvisorWrapperPath(dataDir: string): string {
  return join(dataDir, 'runtime', 'runsc-aibox');
}

/**
 * podman forgets --runtime-flag between `run` and `start`, so the flags live in
 * a tiny wrapper that podman records as the container's runtime.
 */
async function writeGvisorWrapper(runsc: string, dataDir: string): Promise<string> {
  const path = gvisorWrapperPath(dataDir);
  const script = `#!/bin/sh\n# Written by aibox: runsc with the flags aibox sandboxes need.\nexec ${runsc} ${GVISOR_FLAGS.join(' ')} "$@"\n`;
  await writeFileIfChanged(path, script, 0o755);
  return path;
}
