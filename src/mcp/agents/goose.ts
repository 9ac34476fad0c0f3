import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { yamlFormat } from '../formats/yaml.js';
import { configHome, type Agent } from './agent.js';

// Source: aaif-goose/goose documentation/docs/guides/config-files.md and crates/goose/src/agents/extension.rs — config.yaml "extensions" map: {type: stdio, name, enabled, cmd, args, envs, env_keys, timeout} or {type: streamable_http, uri, headers}.
const description = 'MCP server managed by aibox (aibox mcp)';

export const goose: Agent = {
  id: 'goose',
  name: 'Goose',
  file: (home, env) => join(configHome(home, env), 'goose', 'config.yaml'),
  installedAt: (home, env) => join(configHome(home, env), 'goose'),
  adapter: makeAdapter(yamlFormat({ key: 'extensions', kind: 'map' }), { cwd: false, remote: 'headers' }, (name, launch) => {
    const common = { enabled: true, name, description, envs: {}, env_keys: [], timeout: 300 };
    return launch.transport === 'stdio'
      ? { type: 'stdio', ...common, cmd: launch.command, args: launch.args }
      : { type: 'streamable_http', ...common, uri: launch.url, headers: {} };
  }),
};
