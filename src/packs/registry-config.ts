import { join } from 'node:path';
import type { Config } from '../config/settings.js';
import type { Context } from '../core/context.js';
import type { Registry } from './registry.js';
import { openRegistry } from './registries.js';

/** The embedded default: an OCI layout folder, no server needed. */
export function defaultPackRegistry(ctx: Pick<Context, 'paths'>): string {
  return join(ctx.paths.dataDir, 'packs');
}

/** The registry named by --registry, else setting packs.registry, else the embedded default. */
export async function openPackRegistry(ctx: Context, config: Config, override?: string): Promise<Registry> {
  return openRegistry(override || config['packs.registry'] || defaultPackRegistry(ctx), { env: ctx.env, home: ctx.paths.home });
}
