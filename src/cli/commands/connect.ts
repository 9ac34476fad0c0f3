import type { Command } from 'commander';
import type { Context } from '../../core/context.js';
import { AiboxError } from '../../core/errors.js';
import type { Instance } from '../../sandbox/instance.js';
import { notFound } from '../../sandbox/lifecycle.js';
import { Podman } from '../../sandbox/podman.js';
import { sshArgs } from '../../ssh/client.js';
import { contextFor } from '../app.js';

async function runSsh(ctx: Context, instance: Instance, command: readonly string[]): Promise<number> {
  const info = await new Podman(ctx.run).inspectContainer(instance.name);
  if (!info) throw notFound(instance);
  if (!info.State.Running) {
    throw new AiboxError('NOT_FOUND', `${instance.name} is not running`, `start it: aibox start${instance.name === 'aibox' ? '' : ` --name ${instance.name}`}`);
  }
  const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const result = await ctx.run('ssh', sshArgs(instance.sshConfig, instance.name, command, tty), { interactive: true, allowFailure: true });
  return result.exitCode;
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
