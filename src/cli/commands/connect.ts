import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Context } from '../../core/context.js';
import type { Instance } from '../../sandbox/instance.js';
import { requireRunning } from '../../sandbox/lifecycle.js';
import { sshArgs } from '../../ssh/client.js';
import { controlSocket } from '../../ssh/entry.js';
import { contextFor } from '../app.js';

/** ssh's own failures (connection refused, auth) exit 255. */
const SSH_FAILED = 255;

/**
 * With the shared connection open, ssh goes straight through (milliseconds);
 * otherwise aibox first asks podman, so a stopped sandbox gets a clear error.
 */
async function runSsh(ctx: Context, instance: Instance, command: readonly string[]): Promise<number> {
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const ssh = async () => (await ctx.run('ssh', sshArgs(instance.sshConfig, instance.name, command, tty), { stdio: 'inherit', allowFailure: true })).exitCode;
  if (!existsSync(controlSocket(instance.controlDir, instance.name))) {
    await requireRunning(ctx, instance);
    return ssh();
  }
  const code = await ssh();
  // 255 is ssh's own failure, or the command's exit code: never run the command twice.
  if (code === SSH_FAILED) await requireRunning(ctx, instance);
  return code;
}

export function registerConnect(program: Command): void {
  program
    .command('shell')
    .description('Open a login shell in the sandbox over SSH')
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      process.exitCode = await runSsh(ctx, instance, []);
    });
  program
    .command('exec')
    .description('Run a command in the sandbox over SSH: aibox exec -- CMD [ARGS...]; exits with its exit code')
    .argument('<command...>', 'the command and its arguments (put -- before it)')
    .action(async (args: string[], _options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      process.exitCode = await runSsh(ctx, instance, args);
    });
}
