import type { Command } from 'commander';
import { stopBroker } from '../../broker/process.js';
import { removeSandbox } from '../../sandbox/lifecycle.js';
import { contextFor } from '../app.js';

export function registerRm(program: Command): void {
  program
    .command('rm')
    .description('Remove the sandbox container; its volumes (home, workspace) are kept unless --volumes')
    .option('--volumes', "also delete the sandbox's own volumes (build caches included; caches the org policy shares are kept), keys and SSH config block")
    .action(async (options: { volumes?: boolean }, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const result = await removeSandbox(ctx, instance, Boolean(options.volumes));
      await stopBroker(ctx, instance);
      const kept = options.volumes ? '' : ' (volumes kept: aibox start re-creates it with the same home and workspace)';
      ctx.out.result(
        { instance: instance.name, ...result },
        `Removed ${instance.name}${result.volumes.length ? ` and volumes ${result.volumes.join(', ')}` : ''}${kept}`,
      );
    });
}
