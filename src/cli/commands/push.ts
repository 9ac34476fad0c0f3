import type { Command } from 'commander';
import { AiboxError } from '../../core/errors.js';
import { pushHost } from '../../push/classify.js';
import { runRemoteHelper } from '../../push/remote-helper.js';
import { pushStatus } from '../../push/status.js';
import { contextFor } from '../app.js';

export function registerPush(program: Command): void {
  const push = program.command('push').description('Pushes to review-required repositories: staged for approval, never lost (docs/push.md)');
  push
    .command('status')
    .description("Your pushes to this repository's remotes: staged (read from the remotes), and what the approval service made of them (pending, promoted, needs-rebase, rejected, expired, superseded, with the reason)")
    .action(async (_options: object, command: Command) => {
      const { ctx } = contextFor(command);
      const { rows, note } = await pushStatus(ctx.run, ctx.cwd, pushHost(ctx));
      const lines = rows.map((row) => `  ${row.id}  ${row.state.padEnd(12)} ${row.remote} ${row.target}  ${row.at}${row.commit ? `  ${row.commit.slice(0, 12)}` : ''}${row.reason ? `\n              ${row.reason}` : ''}`);
      ctx.out.result({ pushes: rows, ...(note ? { note } : {}) }, [rows.length === 0 ? 'No pushes waiting for approval or decided.' : 'Your pushes:', ...lines, ...(note ? [`(${note})`] : [])].join('\n'));
    });
  push
    .command('cancel')
    .description('Withdraw one of your pending pushes (its staging ref is removed; your commits stay in your repository)')
    .argument('<id>', 'the request id, as git push and aibox push status show it')
    .action(async (id: string, _options: object, command: Command) => {
      const { ctx } = contextFor(command);
      if (!/^[0-9a-f]{10}$/.test(id)) throw new AiboxError('USAGE', `not a push request id: ${JSON.stringify(id)}`, 'ids are 10 hex digits, as aibox push status shows them');
      ctx.out.result({ cancelled: id }, await pushHost(ctx).cancel(id));
    });
  program
    .command('git-remote-aibox', { hidden: true })
    .description('The git remote helper for aibox::URL (git runs it as git-remote-aibox REMOTE URL)')
    .argument('<remote>', 'the remote name, or the URL when git push was given one')
    .argument('<url>', 'the real URL')
    .action(async (_remote: string, url: string, _options: object, command: Command) => {
      const { ctx } = contextFor(command);
      await runRemoteHelper(ctx.run, { input: process.stdin, output: process.stdout, err: process.stderr }, url, pushHost(ctx));
    });
}
