import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import { readYamlFile } from '../../core/yaml-file.js';
import { NotifyConfig, resolveNotify, type NotifySettings } from '../notify/index.js';

/**
 * The approval service's config file (`aibox approvals serve --config FILE`):
 * where its dashboard is, and whom it notifies. Secrets are references
 * (env:VARIABLE, file:/path), resolved here, at service start.
 */
export const ServiceConfig = z.strictObject({
  /** The service as people reach it, e.g. https://aibox.example.com: links in notifications point there. */
  public_url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL such as https://aibox.example.com' }).optional(),
  notify: NotifyConfig.optional(),
});
export type ServiceConfig = z.infer<typeof ServiceConfig>;

export interface LoadedConfig {
  publicUrl?: string;
  notify?: NotifySettings;
}

/** Reads, validates and resolves the config file; every error names the file (and line and field, or secret reference). */
export async function loadServiceConfig(path: string, env: NodeJS.ProcessEnv): Promise<LoadedConfig> {
  const config = await readYamlFile(ServiceConfig, path);
  if (!config) throw new AiboxError('NOT_FOUND', `--config: ${path} does not exist`, 'give the path of the service config file (docs/push.md)');
  return {
    ...(config.public_url ? { publicUrl: config.public_url } : {}),
    ...(config.notify ? { notify: await resolveNotify(config.notify, env, path) } : {}),
  };
}
