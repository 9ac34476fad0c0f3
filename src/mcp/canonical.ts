import { join } from 'node:path';
import { parse as parseJson, type ParseError } from 'jsonc-parser';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { readRegularFile, writeFileAtomic } from '../core/files.js';
import { resolvePaths } from '../core/paths.js';
import { validateFile } from '../core/yaml-file.js';

/**
 * The canonical MCP configuration, `~/.config/aibox/mcp.json`: every server
 * that `aibox mcp enable` turned on, in one agent-neutral shape. Each agent's
 * own file is rendered from it (see launch.ts and agents/).
 *
 * Secrets are never values. An env variable or header names where its value
 * comes from when the server starts: `env` (a variable of the agent's own
 * environment, `name` defaulting to the variable itself) or `credential-helper`
 * (aibox's helper, asked for the credential `name`). So no file aibox writes
 * can ever hold a secret, and the schema cannot express one.
 */

/** Server names become TOML bare keys and JSON/YAML keys: letters, digits, `-`, `_`. */
export const ServerName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'use letters, digits, "-" and "_" (at most 64)');
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name: letters, digits and "_"');
const HeaderName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'an HTTP header name');

export const SecretSource = z.strictObject({
  from: z.enum(['env', 'credential-helper']),
  /** The variable (from: env) or credential (from: credential-helper) to read; default: the env key itself. */
  name: EnvName.optional(),
});
export type SecretSource = z.infer<typeof SecretSource>;

/** A header's value is `prefix` + the secret, e.g. `Authorization: Bearer <token>`; the prefix is only a scheme. */
const HeaderSource = SecretSource.extend({
  name: EnvName,
  prefix: z.string().regex(/^[A-Za-z-]+ $/, 'a scheme and one space, such as "Bearer "').optional(),
});

export const StdioServer = z.strictObject({
  transport: z.literal('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(EnvName, SecretSource).default({}),
  cwd: z.string().startsWith('/', 'an absolute path').optional(),
});

export const HttpServer = z.strictObject({
  transport: z.literal('http'),
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(HeaderName, HeaderSource).default({}),
});

export const McpServer = z.discriminatedUnion('transport', [StdioServer, HttpServer]);
export type McpServer = z.infer<typeof McpServer>;
export type StdioServer = z.infer<typeof StdioServer>;
export type HttpServer = z.infer<typeof HttpServer>;
export type McpServers = Record<string, McpServer>;

export const McpConfig = z.strictObject({
  version: z.literal(1),
  servers: z.record(ServerName, McpServer).default({}),
});
export type McpConfig = z.infer<typeof McpConfig>;

export function mcpConfigPath(home: string, env: Readonly<Record<string, string | undefined>> = {}): string {
  return join(resolvePaths({ ...env, HOME: home }).configDir, 'mcp.json');
}

/** Reads and validates the canonical file; an absent file is an empty configuration. */
export async function readMcpConfig(path: string): Promise<McpConfig> {
  const text = await readRegularFile(path);
  if (text === undefined) return { version: 1, servers: {} };
  const errors: ParseError[] = [];
  const data: unknown = parseJson(text, errors, { disallowComments: true });
  if (errors.length > 0) throw new AiboxError('INVALID_FILE', `${path} is not valid JSON`, `fix the syntax in ${path}`);
  return validateFile(McpConfig, data, path);
}

export async function writeMcpConfig(path: string, config: McpConfig): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(McpConfig.parse(config), null, 2)}\n`);
}
