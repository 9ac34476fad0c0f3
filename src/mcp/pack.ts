import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { readYamlFile } from '../core/yaml-file.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { decide } from '../policy/query.js';
import { McpServer, ServerName } from './canonical.js';

const endpoint = z.string().regex(/^[a-z0-9*]([a-z0-9*.-]*[a-z0-9])?:\d{1,5}$/i, 'must be HOST:PORT, e.g. jira.example.com:443');
const sandboxPath = z.string().regex(/^\/[^\0]*$/, 'must be an absolute path in the sandbox');

/**
 * An MCP pack (mcp-packs/NAME.yaml): how to start one MCP server, what it
 * needs from the policy, and where its program comes from.
 */
export const mcpPackSchema = z
  .object({
    name: ServerName,
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be an exact version such as 1.0.0'),
    description: z.string().min(1),
    server: McpServer,
    /** A tool pack that provides the command (installed on enable), or a program already in the image. */
    source: z.union([z.object({ pack: z.string().min(1) }).strict(), z.object({ image: z.literal(true) }).strict()]),
    network_requires: z.array(endpoint).default([]),
    filesystem_requires: z.array(sandboxPath).default([]),
    permissions: z
      .object({ read: z.array(sandboxPath).default([]), write: z.array(sandboxPath).default([]), network: z.array(endpoint).default([]) })
      .strict()
      .default({ read: [], write: [], network: [] }),
  })
  .strict();

export type McpPack = z.infer<typeof mcpPackSchema>;

/** Where MCP packs are found: aibox's own (mcp-packs/ of the package), then the user's (~/.config/aibox/mcp-packs). */
export async function loadMcpPacks(dirs: readonly string[]): Promise<Map<string, McpPack>> {
  const packs = new Map<string, McpPack>();
  for (const dir of dirs) {
    const files = (await readdir(dir).catch(() => [])).filter((file) => file.endsWith('.yaml')).sort();
    for (const file of files) {
      const pack = await readYamlFile(mcpPackSchema, join(dir, file));
      if (pack) packs.set(pack.name, pack);
    }
  }
  return packs;
}

export function requireMcpPack(packs: ReadonlyMap<string, McpPack>, name: string): McpPack {
  const pack = packs.get(name);
  if (pack) return pack;
  const known = [...packs.keys()].sort();
  throw new AiboxError('NOT_FOUND', `no MCP pack named ${name}`, known.length ? `known: ${known.join(', ')} (aibox mcp list)` : 'add one under ~/.config/aibox/mcp-packs/');
}

/**
 * Every rule the pack needs that the policy lacks, each as one sentence naming
 * the rule to add and the file to add it to.
 */
export function mcpDenials(policy: EffectivePolicy, pack: McpPack): string[] {
  const denials: string[] = [];
  for (const target of [...pack.network_requires, ...pack.permissions.network]) {
    const [host = '', port = '443'] = target.split(':');
    const decision = decide(policy, { kind: 'egress', host, port: Number(port) });
    if (!decision.allowed) denials.push(`${pack.name} needs egress to ${target}; add {host: ${host}, ports: [${port}]} to network.egress in ${decision.origin} or ask your platform team`);
  }
  for (const path of [...pack.filesystem_requires, ...pack.permissions.read, ...pack.permissions.write]) {
    const decision = decide(policy, { kind: 'expose', path });
    if (!decision.allowed) denials.push(`${pack.name} needs the path ${path}; add it to filesystem.expose in ${decision.origin} or ask your platform team`);
  }
  return [...new Set(denials)];
}
