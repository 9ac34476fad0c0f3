import type { Command } from 'commander';
import { aiboxCommand } from '../../sandbox/instance.js';
import { sandboxStatus } from '../../sandbox/lifecycle.js';
import { contextFor } from '../app.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show the sandbox: state, runtime, profile, ports, volumes and image')
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const status = await sandboxStatus(ctx, instance);
      if (status.state === 'absent') {
        ctx.out.result({ status }, `${instance.name}: absent (create it: ${aiboxCommand(instance, 'start')})`);
        return;
      }
      const lines = [
        `${status.instance}: ${status.state}`,
        `  runtime   ${status.runtime} (${status.ociRuntime})`,
        `  profile   ${status.profile} (${status.resources?.cpus} CPUs, ${status.resources?.memoryGiB} GB)`,
        `  image     ${status.image?.ref}${status.image?.current ? '' : ' (outdated: aibox rm && aibox start to update; volumes are kept)'}`,
        `  ssh       ${status.ssh?.command}  (${status.ssh?.address}:${status.ssh?.port})`,
        ...status.volumes.map((volume) => `  volume    ${volume.name} -> ${volume.mount}${volume.readOnly ? ' (read-only)' : ''}`),
      ];
      ctx.out.result({ status }, lines.join('\n'));
    });
}
