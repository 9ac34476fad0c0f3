import { join } from 'node:path';
import { AiboxError } from '../../core/errors.js';
import { z } from 'zod';
import { readYamlFile, validateFile } from '../../core/yaml-file.js';
import { ORG_POLICY_PATH } from '../../policy/load.js';
import { pushReview, type PushReview } from '../../policy/query.js';
import { policyLayerSchema, type PolicyLayerData } from '../../policy/schema.js';

/**
 * The approval service's own file (`approvals.yaml`, `aibox approvals serve
 * --config FILE`): where it listens and stores, the policy it decides under,
 * how long requests wait, and which remotes its reconciler scans. Every key
 * is optional; the defaults make the embedded service for one developer.
 */

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration such as 500ms, 30s, 10m, 48h or 7d, as milliseconds. */
export const Duration = z
  .string()
  .regex(/^\d{1,9}(ms|s|m|h|d)$/, 'must be a duration such as 30s, 10m, 48h or 7d')
  .transform((text) => {
    const [, amount, unit] = /^(\d+)(ms|s|m|h|d)$/.exec(text) ?? [];
    return Number(amount) * UNITS[unit as keyof typeof UNITS];
  })
  .refine((ms) => ms > 0, 'must be longer than 0');

export const DEFAULT_LISTEN = '127.0.0.1:7420';

export const ServiceConfig = z.strictObject({
  listen: z.string().default(DEFAULT_LISTEN).describe('HOST:PORT'),
  database: z.string().min(1).optional().describe('SQLite file or postgres:// URL (default: the data dir, approvals/approvals.db)'),
  policy: z.string().startsWith('/', 'must be an absolute path').default(ORG_POLICY_PATH).describe('the org policy: who approves (tools.git_push.approvers) and merges'),
  public_url: z.url({ protocol: /^https?$/ }).optional().describe("the service's address as approvers open it (links in notifications)"),
  expire_after: Duration.prefault('48h').describe('a request not decided by then is rejected as expired'),
  reconcile_every: Duration.prefault('60s').describe('how often staging refs on the remotes are read back (and requests expired)'),
  promotion_timeout: Duration.prefault('60s').describe('a promotion not finished by then is taken for crashed and run again'),
  repositories: z.array(z.string().min(1).max(2048)).default([]).describe('remote URLs to scan for staging refs besides those of known requests'),
});
export type ServiceConfig = z.infer<typeof ServiceConfig>;

/** The config file, or the defaults when `path` is undefined. A named file must exist. */
export async function readServiceConfig(path: string | undefined): Promise<ServiceConfig> {
  if (path === undefined) return validateFile(ServiceConfig, {}, 'defaults');
  const config = await readYamlFile(ServiceConfig, path);
  if (!config) throw new AiboxError('NOT_FOUND', `approval service config ${path} does not exist`, 'create it (docs/push.md shows one) or leave out --config');
  return config;
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
