import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Server } from 'node:http';
import { AiboxError } from '../../core/errors.js';
import type { Runner } from '../../core/runner.js';
import { startNotifications, type NotifyLog } from '../notify/index.js';
import { openApprovalStore, type ApprovalStore, type CreatedToken, type TokenRole } from '../store/index.js';
import { createDashboard } from '../dashboard/index.js';
import { DEFAULT_LISTEN, reviewPolicy, type ServiceSettings } from './config.js';
import { promotionGit } from './git.js';
import { reviewGit } from './review-git.js';
import { createApprovalServer } from './http.js';
import { runJobs, type JobReport } from './jobs.js';
import type { ServiceDeps } from './requests.js';

export { createApprovalServer } from './http.js';
export { approveRequest, cancelRequest, createRequest, listRequests, rejectRequest, type Caller, type ServiceDeps } from './requests.js';
export { DEFAULT_LISTEN, defaultDatabase, readServiceConfig, ServiceConfig, serviceSettings, type ServiceSettings } from './config.js';
export { runJobs } from './jobs.js';

export async function openStore(location: string): Promise<ApprovalStore> {
  if (!isPostgres(location)) await mkdir(dirname(location), { recursive: true, mode: 0o700 });
  const store = await openApprovalStore(location);
  await store.migrate();
  return store;
}

export function isPostgres(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match?.[1] || !(port > 0 && port < 65536)) throw new AiboxError('USAGE', `listen: expected HOST:PORT such as ${DEFAULT_LISTEN} (got ${JSON.stringify(listen)})`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export interface ServeOptions {
  run: Runner;
  store: ApprovalStore;
  /** The service's own files: the scratch repository. */
  workDir: string;
  config: ServiceSettings;
  /** One line per thing done in the background (jobs, notification deliveries) or that failed there. */
  log: NotifyLog;
}

export interface RunningService {
  server: Server;
  address: string;
  /** The dashboard's URL: under public_url when the config has one. */
  dashboard: string;
  /** Stops the jobs, the notifications and the server; resolves when all are idle. */
  stop(): Promise<void>;
}

/** Starts the service and its background jobs; resolves once it listens. */
export async function serveApprovals(options: ServeOptions): Promise<RunningService> {
  const { config } = options;
  const { host, port } = parseListen(config.listen);
  const scratch = join(options.workDir, 'scratch.git');
  const address = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const notifications = config.notify && startNotifications({ store: options.store, settings: config.notify, baseUrl: config.public_url ?? address, log: options.log });
  const deps: ServiceDeps = {
    store: options.store,
    git: promotionGit(options.run, scratch),
    now: () => new Date(),
    ttlMs: config.expire_after,
    review: await reviewPolicy(config.policy),
    promotionTimeoutMs: config.promotion_timeout,
    ...(notifications ? { notify: notifications.notify } : {}),
  };
  const dashboard = await createDashboard({ service: deps, review: reviewGit(options.run, scratch), workDir: options.workDir, ...(config.public_url ? { publicUrl: config.public_url } : {}) });
  const server = createApprovalServer(deps, dashboard);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new AiboxError('CONFLICT', `${config.listen} is in use`, 'choose another address: listen in the config, or --listen HOST:PORT') : error),
      );
      server.listen(port, host, resolve);
    });
  } catch (error) {
    await notifications?.stop();
    throw error;
  }
  const jobs = repeat(() => runJobs(deps, config.repositories).then((report) => logReport(report, options.log)), config.reconcile_every, options.log);
  return {
    server,
    address,
    dashboard: new URL('/dashboard/', config.public_url ?? address).href,
    async stop() {
      await Promise.all([jobs.stop(), notifications?.stop()]);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
    },
  };
}

/** Runs `job` now and then `every` ms after each run ends, never two at once. */
function repeat(job: () => Promise<void>, every: number, log: NotifyLog): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = job()
      .catch((error: unknown) => log.warn(`background jobs failed: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, every);
      });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

function logReport(report: JobReport, log: NotifyLog): void {
  for (const request of report.expired) log.info(`expired ${request.id} (${request.targetRef} of ${request.repository}, pushed by ${request.pusher})`);
  for (const ref of report.registered) log.info(`registered ${ref}: staged while the service did not know it`);
  for (const id of report.resumed) log.info(`resumed the promotion of ${id}`);
  for (const ref of report.cleaned) log.info(`removed ${ref}: its request is finished`);
  for (const problem of report.problems) log.warn(`will retry: ${problem}`);
}

export async function createApiToken(store: ApprovalStore, name: string, role: TokenRole, days?: number): Promise<CreatedToken> {
  return store.createToken(name, role, days);
}
