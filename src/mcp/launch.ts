import type { HttpServer, McpServer, StdioServer } from './canonical.js';

/**
 * How one canonical server is launched by one agent.
 *
 * The choice, kept deliberately small:
 * - A stdio server whose secrets all come from the environment is written as
 *   is, with each secret as a reference in the agent's own syntax (`${VAR}`
 *   for Claude Code and Gemini, `${env:VAR}` for Cursor, VS Code and
 *   Windsurf, `{env:VAR}` for OpenCode), when the agent expands references
 *   and can set the working directory the server needs.
 * - Any other stdio server (a credential-helper secret, an agent without
 *   expansion, a `cwd` the agent cannot set) is written as the wrapper
 *   `aibox mcp run NAME`: it reads the canonical file at launch, resolves the
 *   secrets, changes directory and execs the server. One rule, every agent;
 *   the agent's file never holds anything but a name.
 * - A remote (http) server cannot be wrapped by a command, so its headers must
 *   be references the agent expands (or Codex's `bearer_token_env_var`);
 *   otherwise it is left out of that agent's file, with the reason reported.
 */
export const AIBOX_COMMAND = 'aibox';

export interface Capabilities {
  /** How the agent's file refers to an environment variable; absent: it cannot. */
  envRef?: (variable: string) => string;
  /** The agent can start a stdio server in a given directory. */
  cwd: boolean;
  /** Remote servers: headers with envRef values, only `Authorization: Bearer` from one variable (Codex), or none. */
  remote: 'headers' | 'bearer' | 'none';
}

export type Launch =
  | { transport: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { transport: 'http'; url: string; headers: Record<string, string>; bearerTokenEnvVar?: string };

export type LaunchOrReason = Launch | { leftOut: string };

/** The server's env as references the agent expands, or undefined when it cannot express them. */
function envReferences(server: StdioServer, envRef: Capabilities['envRef']): Record<string, string> | undefined {
  const sources = Object.entries(server.env);
  if (sources.length === 0) return {};
  if (!envRef || sources.some(([, source]) => source.from !== 'env')) return undefined;
  return Object.fromEntries(sources.map(([variable, source]) => [variable, envRef(source.name ?? variable)]));
}

function launchStdio(name: string, server: StdioServer, caps: Capabilities): Launch {
  const env = envReferences(server, caps.envRef);
  if (!env || (server.cwd !== undefined && !caps.cwd)) return { transport: 'stdio', command: AIBOX_COMMAND, args: ['mcp', 'run', name], env: {} };
  return { transport: 'stdio', command: server.command, args: server.args, env, ...(server.cwd === undefined ? {} : { cwd: server.cwd }) };
}

function launchHttp(server: HttpServer, caps: Capabilities): LaunchOrReason {
  if (caps.remote === 'none') return { leftOut: 'it reads no remote (http) servers from this file' };
  const headers = Object.entries(server.headers);
  if (headers.length === 0) return { transport: 'http', url: server.url, headers: {} };
  const helper = headers.find(([, source]) => source.from === 'credential-helper');
  if (helper) return { leftOut: `its header ${helper[0]} comes from the credential helper, which the agent cannot call for a remote server` };
  if (caps.remote === 'bearer') {
    const [only] = headers;
    if (headers.length === 1 && only && only[0].toLowerCase() === 'authorization' && only[1].prefix === 'Bearer ') {
      return { transport: 'http', url: server.url, headers: {}, bearerTokenEnvVar: only[1].name };
    }
    return { leftOut: 'it can only send "Authorization: Bearer" from one variable (bearer_token_env_var)' };
  }
  const { envRef } = caps;
  if (!envRef) return { leftOut: 'it cannot read a header from the environment, and aibox never writes a secret into the file' };
  return {
    transport: 'http',
    url: server.url,
    headers: Object.fromEntries(headers.map(([header, source]) => [header, `${source.prefix ?? ''}${envRef(source.name)}`])),
  };
}

export function launchFor(name: string, server: McpServer, caps: Capabilities): LaunchOrReason {
  return server.transport === 'stdio' ? launchStdio(name, server, caps) : launchHttp(server, caps);
}
