import type { Command } from 'commander';
import { runChecks } from '../../doctor/checks.js';
import { AiboxError, exitCodeOf } from '../../core/errors.js';
import { contextFor } from '../app.js';

const MARK = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Check podman, the runtime, the SSH port, keys, SSH config, inotify limits, disk, image, sandbox hardening, dotfiles that fight the shell environment, and policy')
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const checks = await runChecks(ctx, instance);
      const failed = checks.filter((check) => check.status === 'fail');
      const lines = checks.map((check) => `${MARK[check.status]}  ${check.name.padEnd(10)} ${check.detail}${check.fix && check.status !== 'ok' ? `\n      fix: ${check.fix}` : ''}`);
      ctx.out.result({ healthy: failed.length === 0, checks }, lines.join('\n'));
      if (failed.length === 0) return;
      const failure = new AiboxError('MISSING_PREREQ', `${failed.length} check(s) failed: ${failed.map((check) => check.name).join(', ')}`, failed[0]?.fix);
      // With --json the report above is the one JSON document; only the exit code says it failed.
      if (ctx.out.json) process.exitCode = exitCodeOf(failure);
      else throw failure;
    });
}
