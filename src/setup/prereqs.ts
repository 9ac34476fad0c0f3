import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { Config } from '../config/settings.js';
import { AiboxError } from '../core/errors.js';
import { findOnPath } from '../core/runner.js';

interface Prerequisite {
  /** A program looked up on PATH, or a file named by its absolute path. */
  program: string;
  /** Debian/Ubuntu package that provides it. */
  aptPackage: string;
  why: string;
  required: boolean;
}

function prerequisites(config: Config): Prerequisite[] {
  const debootstrap = config['image.from'] === '';
  return [
    { program: 'podman', aptPackage: 'podman', why: 'runs the sandbox', required: true },
    { program: 'runc', aptPackage: 'runc', why: 'builds the image (and runs the sandbox with --runtime runc)', required: true },
    { program: 'runsc', aptPackage: 'runsc', why: 'gVisor, the default sandbox runtime', required: config.runtime === 'gvisor' },
    { program: 'ssh', aptPackage: 'openssh-client', why: 'connects to the sandbox', required: true },
    { program: 'ssh-keygen', aptPackage: 'openssh-client', why: 'creates the sandbox keys', required: true },
    { program: 'debootstrap', aptPackage: 'debootstrap', why: 'builds the base image locally', required: debootstrap },
    { program: 'gpgv', aptPackage: 'gpgv', why: 'verifies the Debian mirror for debootstrap', required: debootstrap },
    { program: config['image.keyring'], aptPackage: 'debian-archive-keyring', why: 'setting image.keyring, the keyring that signs the Debian mirror', required: debootstrap },
  ];
}

export interface PrerequisiteReport {
  program: string;
  path?: string;
  required: boolean;
  aptPackage: string;
  why: string;
}

async function locate(program: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  if (!isAbsolute(program)) return findOnPath(program, env);
  return (await stat(program).catch(() => undefined))?.isFile() ? program : undefined;
}

export async function checkPrerequisites(config: Config, env: NodeJS.ProcessEnv): Promise<PrerequisiteReport[]> {
  return Promise.all(prerequisites(config).map(async (prerequisite) => ({ ...prerequisite, path: await locate(prerequisite.program, env) })));
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
