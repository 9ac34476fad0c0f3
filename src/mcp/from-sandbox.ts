import { z } from 'zod';
import { askHost } from '../broker/client.js';
import type { Context } from '../core/context.js';
import { catalogEntrySchema, syncReportSchema, type CatalogEntry } from './host.js';

/**
 * `aibox mcp enable` and the catalog of `aibox mcp list` in a terminal inside the
 * sandbox: the host side (src/broker/) checks the policy, installs the servers'
 * signed tool packs and updates this sandbox's agents, exactly as on the host. The
 * request carries pack names only; what a pack runs comes from the host's catalog.
 */
const enableReportSchema = z.object({ enabled: z.array(z.string()), sync: syncReportSchema }).passthrough();

export async function enableThroughHost(ctx: Context, names: readonly string[]): Promise<z.infer<typeof enableReportSchema>> {
  return enableReportSchema.parse(await askHost(ctx, { v: 1, op: 'mcp-enable', packs: [...names] }));
}

export async function catalogThroughHost(ctx: Context): Promise<CatalogEntry[]> {
  return z.array(catalogEntrySchema).parse(await askHost(ctx, { v: 1, op: 'mcp-catalog' }));
}
