import type { Registry } from './registry.js';
import type { Installed } from './sandbox-store.js';
import { exactVersions } from './versions.js';

export interface PackListing {
  name: string;
  /** Exact versions in the registry, newest first. */
  versions: string[];
  /** The version installed in the sandbox, if any. */
  installed?: string;
}

/** The registry's packs and versions, with the sandbox's installed ones marked (installed-only packs included). */
export async function listPacks(registry: Registry, installed: Installed | undefined): Promise<PackListing[]> {
  const names = new Set([...(await registry.listRepositories()), ...Object.keys(installed?.packs ?? {})]);
  const listings: PackListing[] = [];
  for (const name of [...names].sort()) {
    listings.push({ name, versions: exactVersions(await registry.listTags(name)), installed: installed?.packs[name]?.version });
  }
  return listings;
}
