import type { Command } from 'commander';
import { dirname, join } from 'node:path';
import { AiboxError } from '../../core/errors.js';
import { deliveryLog, formatDeliveryLog } from '../../push/notify/index.js';
import { createApiToken, DEFAULT_LISTEN, defaultDatabase, loadServiceConfig, openStore, serveApprovals } from '../../push/service/index.js';
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
    .option('--config <file>', 'the service config file: public_url, notify (docs/push.md)')
    .action(async (options: DbOptions & { listen: string; config?: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const config = options.config === undefined ? undefined : await loadServiceConfig(options.config, ctx.env);
      const db = options.db ?? defaultDatabase(ctx.paths.dataDir);
      const store = await openStore(db);
      const workDir = /^postgres(ql)?:\/\//.test(db) ? join(ctx.paths.dataDir, 'approvals') : dirname(db);
      const service = await serveApprovals({ run: ctx.run, store, workDir, listen: options.listen, ...(config ? { config } : {}), log: ctx.out });
      ctx.out.info(`approval service listening on ${service.address} (database ${db})`);
      await new Promise<void>((resolve) => {
        const stop = () => void service.close().then(resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await store.close();
    });
  approvals
    .command('deliveries')
    .description('The notification delivery log: every attempt with its time, outcome and reply')
    .option('--request <id>', 'only the notifications of this request')
    .option(...dbOption)
    .action(async (options: DbOptions & { request?: string }, command: Command) => {
      const { ctx } = contextFor(command);
      const store = await openStore(options.db ?? defaultDatabase(ctx.paths.dataDir));
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
}
