import type { Command } from 'commander';
import { classifier } from '../../push/classify.js';
import { runRemoteHelper } from '../../push/remote-helper.js';
import { stagedPushes } from '../../push/status.js';
import { contextFor } from '../app.js';

export function registerPush(program: Command): void {
  const push = program.command('push').description('Pushes to review-required repositories: staged for approval, never lost (docs/push.md)');
  push
    .command('status')
    .description("Your pushes waiting for approval on this repository's remotes (read from the remotes' staging refs)")
    .action(async (_options: object, command: Command) => {
      const { ctx } = contextFor(command);
      const rows = await stagedPushes(ctx.run, ctx.cwd, classifier(ctx));
      ctx.out.result(
        { pending: rows },
        rows.length === 0
          ? 'No pushes waiting for approval.'
          : ['Waiting for approval:', ...rows.map((row) => `  ${row.id}  ${row.remote} ${row.deletion ? 'delete ' : ''}${row.target}  ${row.commit.slice(0, 12)}  staged ${row.stagedAt}`)].join('\n'),
      );
    });
  program
    .command('git-remote-aibox', { hidden: true })
    .description('The git remote helper for aibox::URL (git runs it as git-remote-aibox REMOTE URL)')
    .argument('<remote>', 'the remote name, or the URL when git push was given one')
    .argument('<url>', 'the real URL')
    .action(async (_remote: string, url: string, _options: object, command: Command) => {
      const { ctx } = contextFor(command);
      await runRemoteHelper(ctx.run, { input: process.stdin, output: process.stdout, err: process.stderr }, url, classifier(ctx));
    });
}
