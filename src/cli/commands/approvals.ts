import type { Command } from 'commander';
import { dirname, join } from 'node:path';
import { AiboxError } from '../../core/errors.js';
import { createApiToken, DEFAULT_LISTEN, defaultDatabase, openStore, serveApprovals } from '../../push/service/index.js';
import { DEFAULT_IDENTITY_ENV, DEFAULT_PROTECT, DEFAULT_SERVICE_IDENTITY, installHook, parseHookPolicy, type HookPolicyInput } from '../../push/hook/index.js';
import { TokenRole } from '../../push/store/index.js';
import { contextFor } from '../app.js';

interface DbOptions {
  db?: string;
}

export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('The approval service for review-required pushes (docs/push.md)');
  const dbOption = ['--db <file>', 'SQLite file or postgres:// URL (default: the data dir, approvals/approvals.db)'] as const;
  approvals
    .command('serve')
    .description('Serve the approval API (JSON under /v1) until stopped')
    .option('--listen <host:port>', 'address to listen on', DEFAULT_LISTEN)
    .option(...dbOption)
    .action(async (options: DbOptions & { listen: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const db = options.db ?? defaultDatabase(ctx.paths.dataDir);
      const store = await openStore(db);
      const workDir = /^postgres(ql)?:\/\//.test(db) ? join(ctx.paths.dataDir, 'approvals') : dirname(db);
      const { server, address } = await serveApprovals({ run: ctx.run, store, workDir, listen: options.listen });
      ctx.out.info(`approval service listening on ${address} (database ${db})`);
      await new Promise<void>((resolve) => {
        const stop = () => server.close(() => resolve());
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await store.close();
    });
  const token = approvals.command('token').description('API tokens of the approval service');
  token
    .command('create')
    .description('Create a token; its secret is shown once')
    .argument('<name>', 'who uses it: a developer identity (their staging namespace) or an approver')
    .requiredOption('--role <role>', 'developer or approver')
    .option(...dbOption)
    .action(async (name: string, options: DbOptions & { role: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const role = TokenRole.safeParse(options.role);
      if (!role.success || role.data === 'service') throw new AiboxError('USAGE', `--role: expected developer or approver (got ${JSON.stringify(options.role)})`);
      const store = await openStore(options.db ?? defaultDatabase(ctx.paths.dataDir));
      try {
        const created = await createApiToken(store, name, role.data);
        ctx.out.result({ token: created }, `Token for ${created.name} (${created.role}), shown once:\n${created.secret}`);
      } finally {
        await store.close();
      }
    });
  approvals
    .command('install-hook')
    .description("Install the pre-receive hook that enforces staging on a self-hosted git server's bare repository (docs/push.md)")
    .argument('<bare-repo>', 'the bare repository the git server serves, such as /srv/git/app.git')
    .option('--service-identity <name>', "the approval service's git identity: the only one that may update protected refs and delete others' staging refs", DEFAULT_SERVICE_IDENTITY)
    .option('--protect <pattern>', `a ref only the service may update, * matching any characters (repeatable; default: ${DEFAULT_PROTECT.join(' ')})`, (value: string, previous: string[] = []) => [...previous, value])
    .option('--identity-env <var>', 'the environment variable in which the git server names the authenticated pusher', DEFAULT_IDENTITY_ENV)
    .option('--namespace <mode>', 'the staging namespace: refs (refs/aibox/staging/) or branches (refs/heads/aibox/staging/), as push.staging', 'refs')
    .option('--force', 'replace a pre-receive hook aibox did not write (kept as pre-receive.aibox-bak)')
    .action(async (repository: string, options: HookPolicyInput & { force?: boolean }, command: Command) => {
      const { ctx } = contextFor(command);
      const hook = await installHook(ctx.run, { repository, policy: parseHookPolicy(options), force: Boolean(options.force) });
      const lines = [
        `Installed the aibox pre-receive hook: ${hook.path}`,
        `  pusher from $${hook.identityEnv}; each pushes only to ${hook.stagingRoot}<pusher>/<UTC time>/<target>`,
        `  only ${hook.serviceIdentity} updates ${hook.protect.join(', ')} and deletes others' staging refs; every other ref is refused`,
        ...(hook.backup ? [`  the hook that was there is kept as ${hook.backup}`] : []),
      ];
      ctx.out.result({ hook }, lines.join('\n'));
    });
}
