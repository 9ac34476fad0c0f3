import { AiboxError } from '../core/errors.js';

export const PROFILE_NAMES = ['default', 'jetbrains'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

interface Profile {
  cpus: number;
  memoryGiB: number;
  /** Below these the profile still runs, with a warning. */
  minCpus: number;
  minMemoryGiB: number;
}

/** JetBrains Gateway's backend wants 4 cores and 8 GB at least, 12 GB recommended (plan, WS2). */
const PROFILES: Record<ProfileName, Profile> = {
  default: { cpus: 2, memoryGiB: 4, minCpus: 1, minMemoryGiB: 2 },
  jetbrains: { cpus: 4, memoryGiB: 12, minCpus: 4, minMemoryGiB: 8 },
};

/** Memory left to the host itself. */
const HOST_RESERVE_GIB = 2;

export interface Resources {
  profile: ProfileName;
  cpus: number;
  memoryGiB: number;
  warnings: string[];
}

export function parseProfile(name: string): ProfileName {
  const found = PROFILE_NAMES.find((candidate) => candidate === name);
  if (!found) {
    throw new AiboxError('USAGE', `unknown profile "${name}"`, `use one of: ${PROFILE_NAMES.join(', ')}`);
  }
  return found;
}

/** The profile's resources, shrunk to what the host has, with a warning when that falls short. */
export function resolveResources(profile: ProfileName, host: { cpus: number; memoryGiB: number }): Resources {
  const wanted = PROFILES[profile];
  const cpus = Math.max(1, Math.min(wanted.cpus, host.cpus));
  const memoryGiB = Math.max(1, Math.min(wanted.memoryGiB, Math.floor(host.memoryGiB - HOST_RESERVE_GIB)));
  const warnings: string[] = [];
  if (cpus < wanted.minCpus) {
    warnings.push(`the ${profile} profile needs ${wanted.minCpus} CPU cores; this host has ${host.cpus}, so the sandbox gets ${cpus} (expect slow indexing)`);
  }
  if (memoryGiB < wanted.minMemoryGiB) {
    warnings.push(`the ${profile} profile needs ${wanted.minMemoryGiB} GB of memory; this host can spare ${memoryGiB} GB, so the sandbox gets ${memoryGiB} GB`);
  } else if (memoryGiB < wanted.memoryGiB) {
    warnings.push(`the ${profile} profile recommends ${wanted.memoryGiB} GB of memory; the sandbox gets ${memoryGiB} GB`);
  }
  return { profile, cpus, memoryGiB, warnings };
}
