import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Context } from '../../core/context.js';
import { AiboxError } from '../../core/errors.js';
import type { Instance } from '../../sandbox/instance.js';
import { notFound } from '../../sandbox/lifecycle.js';
import { Podman } from '../../sandbox/podman.js';
import { sshArgs } from '../../ssh/client.js';
import { contextFor } from '../app.js';

/** ssh's own failures (connection refused, auth) exit 255. */
const SSH_FAILED = 255;

/**
 * Runs ssh straight away (through the shared connection this costs milliseconds);
 * only when ssh itself fails does aibox ask podman why, for a clear error.
 */
async function runSsh(ctx: Context, instance: Instance, command: readonly string[]): Promise<number> {
  if (existsSync(instance.sshConfig)) {
    const tty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
    const result = await ctx.run('ssh', sshArgs(instance.sshConfig, instance.name, command, tty), { interactive: true, allowFailure: true });
    if (result.exitCode !== SSH_FAILED) return result.exitCode;
  }
  const info = await new Podman(ctx.run).inspectContainer(instance.name);
  if (!info) throw notFound(instance);
  if (!info.State.Running) {
    throw new AiboxError('NOT_FOUND', `${instance.name} is not running`, `start it: aibox start${instance.name === 'aibox' ? '' : ` --name ${instance.name}`}`);
  }
  if (!existsSync(instance.sshConfig)) {
    throw new AiboxError('MISSING_PREREQ', `no SSH configuration for ${instance.name} at ${instance.sshConfig}`, 'recreate it: aibox setup');
  }
  return SSH_FAILED; // running, so 255 was the command's own exit code or an ssh error it already printed
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
