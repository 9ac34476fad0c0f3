import type { Command } from 'commander';
import { stopBroker } from '../../broker/process.js';
import { stopSandbox } from '../../sandbox/lifecycle.js';
import { contextFor } from '../app.js';

export function registerStop(program: Command): void {
  program
    .command('stop')
    .description('Stop the sandbox; its home, workspace and caches are kept')
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const outcome = await stopSandbox(ctx, instance);
      await stopBroker(ctx, instance);
      ctx.out.result({ outcome, instance: instance.name }, outcome === 'stopped' ? `Stopped ${instance.name}` : `${instance.name} was not running`);
    });
}
