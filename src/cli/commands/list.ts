import type { Command } from 'commander';
import { loadConfig } from '../../config/store.js';
import { listPacks } from '../../packs/list.js';
import { openPackRegistry } from '../../packs/registry-config.js';
import { packStoreOf } from '../../packs/install.js';
import { readInstalled } from '../../packs/sandbox-store.js';
import { contextFor } from '../app.js';

export function registerList(program: Command): void {
  const list = program.command('list').description('List things aibox knows about');
  list
    .command('packs')
    .description('Tool packs in the registry, with the versions installed in the sandbox marked')
    .option('--registry <ref>', 'registry or OCI layout folder; default setting packs.registry')
    .action(async (options: { registry?: string }, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const registry = await openPackRegistry(ctx, await loadConfig(ctx.paths), options.registry);
      // Read on the host, from the packs volume (no sandbox yet: nothing installed).
      const installed = await packStoreOf(instance).then(readInstalled, () => undefined);
      const packs = await listPacks(registry, installed);
      const lines = packs.map((pack) => `${pack.installed ? '*' : ' '} ${pack.name.padEnd(14)} ${pack.versions.map((version) => (version === pack.installed ? `${version} (installed)` : version)).join(', ') || `(${pack.installed} installed; not in the registry)`}`);
      ctx.out.result({ registry: registry.location, packs }, [`Packs in ${registry.location}:`, ...lines].join('\n'));
    });
}
