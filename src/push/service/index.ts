import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Server } from 'node:http';
import { AiboxError } from '../../core/errors.js';
import type { Runner } from '../../core/runner.js';
import { openApprovalStore, type ApprovalStore, type CreatedToken, type TokenRole } from '../store/index.js';
import { createDashboard } from '../dashboard/index.js';
import { promotionGit, reviewGit } from './git.js';
import { createApprovalServer } from './http.js';
import { DEFAULT_TTL_MS } from './requests.js';

export { createApprovalServer } from './http.js';
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
  /** The dashboard's URL as people open it, when a proxy stands in front (https makes its cookies Secure). */
  publicUrl?: string;
}

export function parsePublicUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.pathname !== '/') throw new AiboxError('USAGE', `--public-url: expected an http(s) URL of a host's root such as https://approvals.example.com (got ${JSON.stringify(value)})`);
  return url.href;
}

/** Starts the service; resolves with the server, its address and the dashboard's URL once it listens. */
export async function serveApprovals(options: ServeOptions): Promise<{ server: Server; address: string; dashboard: string }> {
  const { host, port } = parseListen(options.listen);
  const scratch = join(options.workDir, 'scratch.git');
  const deps = { store: options.store, git: promotionGit(options.run, scratch), now: () => new Date(), ttlMs: DEFAULT_TTL_MS };
  const publicUrl = options.publicUrl === undefined ? undefined : parsePublicUrl(options.publicUrl);
  const dashboard = await createDashboard({ service: deps, review: reviewGit(options.run, scratch), workDir: options.workDir, ...(publicUrl ? { publicUrl } : {}) });
  const server = createApprovalServer(deps, dashboard);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new AiboxError('CONFLICT', `${options.listen} is in use`, 'choose another port with --listen HOST:PORT') : error),
    );
    server.listen(port, host, resolve);
  });
  const address = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { server, address, dashboard: new URL('/dashboard/', publicUrl ?? address).href };
}

export async function createApiToken(store: ApprovalStore, name: string, role: TokenRole): Promise<CreatedToken> {
  return store.createToken(name, role);
}
