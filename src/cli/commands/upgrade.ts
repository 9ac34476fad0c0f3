import type { Command } from 'commander';
import { ensureBroker } from '../../broker/process.js';
import { regenerateAtStart } from '../../mcp/host.js';
import { upgradeSandbox } from '../../sandbox/lifecycle.js';
import { contextFor } from '../app.js';

export function registerUpgrade(program: Command): void {
  program
    .command('upgrade')
    .description('Re-create the sandbox from the current image when status says it is outdated; home, workspace, caches, tool packs, keys and the host key pin are kept')
    .option('--force', 're-create it even when its image is current')
    .action(async (options: { force?: boolean }, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const result = await upgradeSandbox(ctx, instance, options);
      if (result.outcome === 'upgraded') {
        await ensureBroker(ctx, instance);
        await regenerateAtStart(ctx, instance);
      }
      ctx.out.result({ instance: instance.name, ...result }, result.outcome === 'upgraded' ? `Upgraded ${instance.name}: ${result.from} -> ${result.to}` : `${instance.name} is up to date (${result.to})`);
    });
}
