import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { tomlFormat } from '../formats/toml.js';
import { ifAny, ifSet, type Agent } from './agent.js';

// Source: openai/codex codex-rs/config/src/mcp_types.rs (RawMcpServerConfig, deny_unknown_fields) — [mcp_servers.NAME]: command, args, env, cwd, or url, bearer_token_env_var.
export const codex: Agent = {
  id: 'codex',
  name: 'Codex CLI',
  file: (home, env) => join(env.CODEX_HOME?.startsWith('/') ? env.CODEX_HOME : join(home, '.codex'), 'config.toml'),
  adapter: makeAdapter(tomlFormat('mcp_servers'), { cwd: true, remote: 'bearer' }, (_, launch) =>
    launch.transport === 'stdio'
      ? { command: launch.command, args: launch.args, ...ifAny('env', launch.env), ...ifSet('cwd', launch.cwd) }
      : { url: launch.url, ...ifSet('bearer_token_env_var', launch.bearerTokenEnvVar) },
  ),
};
