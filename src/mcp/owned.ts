import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * What aibox wrote into one agent file: each entry's name and a hash of its
 * value as aibox wrote it. An entry is aibox's only while its value still has
 * that hash; a same-named entry aibox did not write, or one the user edited,
 * is never overwritten or removed.
 */
export const OwnedState = z.strictObject({
  entries: z.record(z.string(), z.string()),
  /** aibox added the container key (`mcpServers`, …): it goes when aibox's last entry goes. */
  createdContainer: z.boolean().optional(),
  /** aibox created the file: it is removed when nothing else is left in it. */
  createdFile: z.boolean().optional(),
});
export type OwnedState = z.infer<typeof OwnedState>;

export const NOTHING_OWNED: OwnedState = { entries: {} };

/** The sidecar `~/.config/aibox/mcp-owned.json`, keyed by the agent file's path. */
export const OwnedFile = z.strictObject({
  version: z.literal(1),
  files: z.record(z.string(), OwnedState.extend({ agent: z.string() })),
});
export type OwnedFile = z.infer<typeof OwnedFile>;

/** JSON with object keys sorted, so equal values hash equally whatever their key order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The hash of an entry's value (not its text: an agent that reformats its file changes nothing). */
export function hashEntry(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex').slice(0, 16);
}
