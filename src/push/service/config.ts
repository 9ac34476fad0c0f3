import { join } from 'node:path';
import { AiboxError } from '../../core/errors.js';
import { z } from 'zod';
import { Duration } from '../../core/duration.js';
import { readYamlFile, validateFile } from '../../core/yaml-file.js';
import { ORG_POLICY_PATH } from '../../policy/load.js';
import { pushReview, type PushReview } from '../../policy/query.js';
import { policyLayerSchema, type PolicyLayerData } from '../../policy/schema.js';
import { NotifyConfig, resolveNotify, type NotifySettings } from '../notify/index.js';

/**
 * The approval service's own file (`approvals.yaml`, `aibox approvals serve
 * --config FILE`): where it listens and stores, the policy it decides under,
 * how long requests wait, and which remotes its reconciler scans. Every key
 * is optional; the defaults make the embedded service for one developer.
 */

export const DEFAULT_LISTEN = '127.0.0.1:7420';

export const ServiceConfig = z.strictObject({
  listen: z.string().default(DEFAULT_LISTEN).describe('HOST:PORT'),
  database: z.string().min(1).optional().describe('SQLite file or postgres:// URL (default: the data dir, approvals/approvals.db)'),
  policy: z.string().startsWith('/', 'must be an absolute path').default(ORG_POLICY_PATH).describe('the org policy: who approves (tools.git_push.approvers) and merges'),
  public_url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL such as https://aibox.example.com' }).optional().describe("the service's address as approvers open it (links in notifications, the dashboard's cookies)"),
  expire_after: Duration.prefault('48h').describe('a request not decided by then is rejected as expired'),
  reconcile_every: Duration.prefault('60s').describe('how often staging refs on the remotes are read back (and requests expired)'),
  promotion_timeout: Duration.prefault('60s').describe('a promotion not finished by then is taken for crashed and run again'),
  repositories: z.array(z.string().min(1).max(2048)).default([]).describe('remote URLs to scan for staging refs besides those of known requests'),
  notify: NotifyConfig.optional().describe('whom to tell, through Slack, a signed webhook and email (docs/push.md)'),
});
export type ServiceConfig = z.infer<typeof ServiceConfig>;

/** The config with its secret references resolved (at start, so a missing one stops the service there). */
export type ServiceSettings = Omit<ServiceConfig, 'notify'> & { notify?: NotifySettings };

/** The config file, or the defaults when `path` is undefined. A named file must exist. */
export async function readServiceConfig(path: string | undefined): Promise<ServiceConfig> {
  if (path === undefined) return validateFile(ServiceConfig, {}, 'defaults');
  const config = await readYamlFile(ServiceConfig, path);
  if (!config) throw new AiboxError('NOT_FOUND', `--config: ${path} does not exist`, "give the path of the service config file (docs/push.md shows one), or leave out --config");
  return config;
}

/** Resolves the config's secret references; `where` (its file) names them in errors. */
export async function serviceSettings(config: ServiceConfig, env: NodeJS.ProcessEnv, where: string): Promise<ServiceSettings> {
  const { notify, ...rest } = config;
  return notify ? { ...rest, notify: await resolveNotify(notify, env, where) } : rest;
}

export function defaultDatabase(dataDir: string): string {
  return join(dataDir, 'approvals', 'approvals.db');
}

/**
 * Who approves what, from the org policy file; without one, aibox's defaults
 * (team-lead approves, no merge). Read once at start: restart to apply a change.
 */
export async function reviewPolicy(path: string): Promise<(repository: string) => PushReview> {
  const layer: PolicyLayerData = (await readYamlFile(policyLayerSchema, path)) ?? { version: 1 };
  return (repository) => pushReview(layer, repository);
}
