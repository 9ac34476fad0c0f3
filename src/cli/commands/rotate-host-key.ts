import type { Command } from 'commander';
import { rotateSandboxHostKey } from '../../sandbox/lifecycle.js';
import { contextFor } from '../app.js';

export function registerRotateHostKey(program: Command): void {
  program
    .command('rotate-host-key')
    .description("Replace the sandbox's SSH host key and its pin in one step (restarts a running sandbox); do it when the old key may have been copied")
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const result = await rotateSandboxHostKey(ctx, instance);
      ctx.out.result(
        { instance: instance.name, ...result },
        `New host key for ${instance.name}: ${result.fingerprint}${result.restarted ? ' (restarted: it serves the new key now)' : ''}\nssh ${instance.name} trusts it; an IDE that keeps its own known_hosts (JetBrains Gateway) asks once.`,
      );
    });
}
