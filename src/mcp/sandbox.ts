import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import type { Runner } from '../core/runner.js';
import { McpServer, mcpConfigPath, readMcpConfig, ServerName, writeMcpConfig, type McpConfig } from './canonical.js';
import type { Env } from './agents/index.js';
import { realFiles, syncAgents, type AgentResult, type FileIo } from './write.js';

/**
 * The part of `aibox mcp` that runs inside the sandbox as `dev`, where the
 * agents' files live (gVisor keeps volumes to itself while the sandbox runs, so
 * they are never written from the host): change the canonical mcp.json, then
 * render it into every agent's file.
 */
export const mcpChangeSchema = z
  .object({
    enable: z.record(ServerName, McpServer).default({}),
    disable: z.array(ServerName).default([]),
  })
  .strict();

export type McpChange = z.infer<typeof mcpChangeSchema>;

export interface McpSyncReport {
  servers: string[];
  agents: AgentResult[];
}

/** Reads like realFiles, writes nothing: what a regenerate would change, for `aibox mcp list`. */
const dryRun: FileIo = { read: realFiles.read, write: async () => undefined, remove: async () => undefined };

/**
 * Applies a change to the canonical file (none: just regenerate) and brings every
 * agent in line. With `check`, changes nothing and reports what would be written
 * (an agent whose outcome is "written" is out of sync).
 */
export async function applyMcpChange(home: string, env: Env, change: McpChange = { enable: {}, disable: [] }, check = false): Promise<McpSyncReport> {
  const path = mcpConfigPath(home, env);
  const config: McpConfig = await readMcpConfig(path);
  const servers = { ...config.servers, ...change.enable };
  for (const name of change.disable) delete servers[name];
  if (!check && JSON.stringify(servers) !== JSON.stringify(config.servers)) await writeMcpConfig(path, { version: 1, servers });
  const agents = await syncAgents(home, servers, { env, ...(check ? { io: dryRun } : {}) });
  return { servers: Object.keys(servers).sort(), agents };
}

/** Reads a change sent by the host side (`aibox mcp apply` reads it from stdin). */
export function parseMcpChange(text: string): McpChange {
  const parsed = mcpChangeSchema.safeParse(parseJson(text));
  if (!parsed.success) throw new AiboxError('USAGE', `the MCP change is not valid: ${parsed.error.issues[0]?.message ?? 'not JSON'}`, 'aibox mcp enable/disable send it; do not call apply by hand');
  return parsed.data;
}

/**
 * `aibox mcp run NAME`: the launcher an agent starts when its file cannot hold
 * the server as is. Resolves each secret at launch — from the agent's own
 * environment, or the credential helper (`AIBOX_CREDENTIAL_HELPER get NAME`) —
 * and runs the server with the agent's stdin and stdout. Secrets exist only in
 * the server's environment.
 */
export async function runMcpServer(run: Runner, home: string, env: Env, name: string): Promise<number> {
  const config = await readMcpConfig(mcpConfigPath(home, env));
  const server = config.servers[name];
  if (!server) throw new AiboxError('NOT_FOUND', `no enabled MCP server named ${name}`, 'see: aibox mcp list');
  if (server.transport !== 'stdio') throw new AiboxError('USAGE', `${name} is a remote (http) server: agents connect to its URL, nothing runs here`);
  const resolved: Record<string, string> = {};
  for (const [variable, source] of Object.entries(server.env)) {
    const key = source.name ?? variable;
    const value = source.from === 'env' ? env[key] : await fromCredentialHelper(run, env, key);
    if (value === undefined) throw new AiboxError('MISSING_PREREQ', `${name} needs ${key}, and it is not set`, source.from === 'env' ? `export ${key} in the agent's environment` : 'configure the credential helper (AIBOX_CREDENTIAL_HELPER)');
    resolved[variable] = value;
  }
  const result = await run(server.command, server.args, { cwd: server.cwd, env: resolved, stdio: 'inherit', allowFailure: true });
  return result.exitCode;
}

async function fromCredentialHelper(run: Runner, env: Env, key: string): Promise<string | undefined> {
  const helper = env.AIBOX_CREDENTIAL_HELPER;
  if (!helper) return undefined;
  const result = await run(helper, ['get', key], { allowFailure: true });
  return result.exitCode === 0 ? result.stdout.replace(/\n$/, '') : undefined;
}
