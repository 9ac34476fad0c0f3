import type { Command } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { AiboxError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';
import { deliveryLog, formatDeliveryLog } from '../../push/notify/index.js';
import { createApiToken, defaultDatabase, isPostgres, openStore, readServiceConfig, serveApprovals, serviceSettings, type ServiceConfig } from '../../push/service/index.js';
import { DEFAULT_IDENTITY_ENV, DEFAULT_PROTECT, DEFAULT_SERVICE_IDENTITY, installHook, parseHookPolicy, type HookPolicyInput } from '../../push/hook/index.js';
import { DEFAULT_TOKEN_DAYS, TokenRole } from '../../push/store/index.js';
import { contextFor } from '../app.js';

interface ConfigOptions {
  config?: string;
  db?: string;
}

/** The config file with the command line's overrides, and the database it names. */
async function serviceSetup(options: ConfigOptions & { listen?: string }, dataDir: string): Promise<{ config: ServiceConfig; db: string }> {
  const config = await readServiceConfig(options.config);
  if (options.listen) config.listen = options.listen;
  return { config, db: options.db ?? config.database ?? defaultDatabase(dataDir) };
}

export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('The approval service for review-required pushes (docs/push.md)');
  const configOption = ['--config <file>', 'the service config (approvals.yaml, docs/push.md); default: built-in defaults'] as const;
  const dbOption = ['--db <file>', 'SQLite file or postgres:// URL (default: database in the config, else the data dir, approvals/approvals.db)'] as const;
  approvals
    .command('serve')
    .description('Serve the approval API (JSON under /v1) and its dashboard (/dashboard/), and run its background jobs (expiry, reconciling with the remotes) until stopped')
    .option(...configOption)
    .option('--listen <host:port>', 'address to listen on (default: listen in the config, else 127.0.0.1:7420)')
    .option(...dbOption)
    .action(async (options: ConfigOptions & { listen?: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const { config, db } = await serviceSetup(options, ctx.paths.dataDir);
      const store = await openStore(db);
      const workDir = isPostgres(db) ? join(ctx.paths.dataDir, 'approvals') : dirname(db);
      const line = (text: string) => process.stderr.write(`${new Date().toISOString()} ${text}\n`);
      const log = { info: line, warn: line };
      const settings = await serviceSettings(config, ctx.env, options.config ?? 'the default config');
      const service = await serveApprovals({ run: ctx.run, store, workDir, config: settings, log });
      ctx.out.info(`approval service listening on ${service.address} (database ${isPostgres(db) ? 'PostgreSQL' : db}); dashboard ${service.dashboard}`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await service.stop();
      await store.close();
    });
  approvals
    .command('deliveries')
    .description('The notification delivery log: every attempt with its time, outcome and reply')
    .option('--request <id>', 'only the notifications of this request')
    .option(...configOption)
    .option(...dbOption)
    .action(async (options: ConfigOptions & { request?: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const { db } = await serviceSetup(options, ctx.paths.dataDir);
      const store = await openStore(db);
      try {
        const deliveries = await deliveryLog(store, options.request);
        ctx.out.result({ deliveries }, formatDeliveryLog(deliveries));
      } finally {
        await store.close();
      }
    });
  const token = approvals.command('token').description('API tokens of the approval service');
  token
    .command('create')
    .description('Create a token; its secret is shown once')
    .argument('<name>', 'who uses it: a developer identity (their staging namespace) or an approver')
    .requiredOption('--role <role>', 'developer, or an approver role of the policy (tools.git_push.approvers, default team-lead)')
    .option('--days <n>', 'how long it is valid', String(DEFAULT_TOKEN_DAYS))
    .option('--secret-file <file>', 'write the secret to FILE (mode 600, for push.token file:FILE) instead of showing it')
    .option(...configOption)
    .option(...dbOption)
    .action(async (name: string, options: ConfigOptions & { role: string; days: string; secretFile?: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const role = TokenRole.safeParse(options.role);
      if (!role.success) throw new AiboxError('USAGE', `--role: ${role.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(options.role)})`, 'use developer, or an approver role such as team-lead');
      const days = Number(options.days);
      if (!Number.isInteger(days) || days < 1 || days > 3660) throw new AiboxError('USAGE', `--days: expected a whole number of days from 1 to 3660 (got ${JSON.stringify(options.days)})`);
      const { db } = await serviceSetup(options, ctx.paths.dataDir);
      const store = await openStore(db);
      try {
        const created = await createApiToken(store, name, role.data, days);
        const about = `Token for ${created.name} (${created.role}, valid until ${created.expiresAt})`;
        if (options.secretFile === undefined) ctx.out.result({ token: created }, `${about}, shown once:\n${created.secret}`);
        else {
          await writeFileAtomic(resolve(ctx.cwd, options.secretFile), `${created.secret}\n`);
          const { secret: _kept, ...shown } = created;
          ctx.out.result({ token: { ...shown, secretFile: resolve(ctx.cwd, options.secretFile) } }, `${about}: its secret is in ${resolve(ctx.cwd, options.secretFile)} (mode 600)`);
        }
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
