import type { Config } from '../config/settings.js';
import { AiboxError } from '../core/errors.js';
import { findOnPath } from '../sandbox/runtime.js';

interface Prerequisite {
  program: string;
  /** Debian/Ubuntu package that provides it. */
  aptPackage: string;
  why: string;
  required: (config: Config) => boolean;
}

const PREREQUISITES: Prerequisite[] = [
  { program: 'podman', aptPackage: 'podman', why: 'runs the sandbox', required: () => true },
  { program: 'runc', aptPackage: 'runc', why: 'builds the image (and runs the sandbox with --runtime runc)', required: () => true },
  { program: 'runsc', aptPackage: 'runsc', why: 'gVisor, the default sandbox runtime', required: (config) => config.runtime === 'gvisor' },
  { program: 'ssh', aptPackage: 'openssh-client', why: 'connects to the sandbox', required: () => true },
  { program: 'ssh-keygen', aptPackage: 'openssh-client', why: 'creates the sandbox keys', required: () => true },
  { program: 'debootstrap', aptPackage: 'debootstrap', why: 'builds the base image locally', required: (config) => config['image.from'] === '' },
];

export interface PrerequisiteReport {
  program: string;
  path?: string;
  required: boolean;
  aptPackage: string;
  why: string;
}

export async function checkPrerequisites(config: Config, env: NodeJS.ProcessEnv): Promise<PrerequisiteReport[]> {
  return Promise.all(
    PREREQUISITES.map(async (prerequisite) => ({
      program: prerequisite.program,
      path: await findOnPath(prerequisite.program, env),
      required: prerequisite.required(config),
      aptPackage: prerequisite.aptPackage,
      why: prerequisite.why,
    })),
  );
}

/** Fails with every missing required program and the one command that installs them all. */
export function requirePrerequisites(reports: readonly PrerequisiteReport[]): void {
  const missing = reports.filter((report) => report.required && !report.path);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((report) => report.aptPackage))];
  throw new AiboxError(
    'MISSING_PREREQ',
    `missing on this host: ${missing.map((report) => `${report.program} (${report.why})`).join(', ')}`,
    `install: sudo apt-get install -y ${packages.join(' ')}`,
  );
}
