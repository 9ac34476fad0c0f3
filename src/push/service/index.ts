import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Server } from 'node:http';
import { AiboxError } from '../../core/errors.js';
import type { Runner } from '../../core/runner.js';
import { startNotifications, type NotifyLog } from '../notify/index.js';
import { openApprovalStore, type ApprovalStore, type CreatedToken, type TokenRole } from '../store/index.js';
import type { LoadedConfig } from './config.js';
import { promotionGit } from './git.js';
import { createApprovalServer } from './http.js';
import { DEFAULT_TTL_MS } from './requests.js';

export { createApprovalServer } from './http.js';
export { loadServiceConfig, ServiceConfig, type LoadedConfig } from './config.js';
export { approveRequest, cancelRequest, createRequest, listRequests, rejectRequest, type Caller, type ServiceDeps } from './requests.js';

export const DEFAULT_LISTEN = '127.0.0.1:7420';

/** The SQLite file of the embedded service, unless --db names another (or a postgres:// URL). */
export function defaultDatabase(dataDir: string): string {
  return join(dataDir, 'approvals', 'approvals.db');
}

export async function openStore(location: string): Promise<ApprovalStore> {
  if (!/^postgres(ql)?:\/\//.test(location)) await mkdir(dirname(location), { recursive: true, mode: 0o700 });
  const store = await openApprovalStore(location);
  await store.migrate();
  return store;
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match?.[1] || !(port > 0 && port < 65536)) throw new AiboxError('USAGE', `--listen: expected HOST:PORT such as ${DEFAULT_LISTEN} (got ${JSON.stringify(listen)})`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export interface ServeOptions {
  run: Runner;
  store: ApprovalStore;
  /** The service's own files: the scratch repository and the request URLs. */
  workDir: string;
  listen: string;
  /** From --config: the public URL and the notification channels. */
  config?: LoadedConfig;
  /** Where the service reports what it does in the background (notification deliveries). */
  log: NotifyLog;
}

export interface RunningService {
  server: Server;
  address: string;
  /** Stops listening and sending notifications; resolves once both are done. */
  close(): Promise<void>;
}

/** Starts the service; resolves once it listens. */
export async function serveApprovals(options: ServeOptions): Promise<RunningService> {
  const { host, port } = parseListen(options.listen);
  const address = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const settings = options.config?.notify;
  const notifications = settings && startNotifications({ store: options.store, settings, baseUrl: options.config?.publicUrl ?? address, log: options.log });
  const server = createApprovalServer({
    store: options.store,
    git: promotionGit(options.run, join(options.workDir, 'scratch.git')),
    now: () => new Date(),
    ttlMs: DEFAULT_TTL_MS,
    ...(notifications ? { notify: notifications.notify } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new AiboxError('CONFLICT', `${options.listen} is in use`, 'choose another port with --listen HOST:PORT') : error),
      );
      server.listen(port, host, resolve);
    });
  } catch (error) {
    await notifications?.stop();
    throw error;
  }
  const close = async () => {
    await Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), notifications?.stop()]);
  };
  return { server, address, close };
}

export async function createApiToken(store: ApprovalStore, name: string, role: TokenRole): Promise<CreatedToken> {
  return store.createToken(name, role);
}
