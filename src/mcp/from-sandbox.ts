import { z } from 'zod';
import { askHost } from '../broker/client.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { catalogEntrySchema, type CatalogEntry } from './host.js';
import { applyMcpChange, mcpChangeSchema, type McpSyncReport } from './sandbox.js';

/**
 * `aibox mcp enable` and the catalog of `aibox mcp list` in a terminal inside the
 * sandbox: the host side (src/broker/) checks the policy and installs the servers'
 * signed tool packs exactly as on the host, and answers with the servers to add; this
 * side writes them into its agents' files, as `aibox mcp apply` would. The request
 * carries pack names only; what a pack runs comes from the host's catalog.
 */
const preparedSchema = z.object({ enabled: z.array(z.string()), install: z.unknown().optional(), change: mcpChangeSchema });

export async function enableThroughHost(ctx: Context, names: readonly string[]): Promise<{ enabled: string[]; install?: unknown; sync: McpSyncReport }> {
  const prepared = preparedSchema.safeParse(await askHost(ctx, { v: 1, op: 'mcp-enable', packs: [...names] }));
  if (!prepared.success) throw new AiboxError('PROCESS_FAILED', 'the host side of aibox answered in another version\'s format', 'restart it from the host: aibox stop && aibox start');
  const { change, install, enabled } = prepared.data;
  const sync = await applyMcpChange(ctx.paths.home, ctx.env, change);
  return { enabled, install, sync };
}

export async function catalogThroughHost(ctx: Context): Promise<CatalogEntry[]> {
  return z.array(catalogEntrySchema).parse(await askHost(ctx, { v: 1, op: 'mcp-catalog' }));
}
