import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { jsonFormat } from '../formats/json.js';
import { configHome, ifAny, type Agent } from './agent.js';

// Source: anomalyco/opencode packages/opencode/src/config/config.ts (McpLocal, McpRemote: strict) and opencode.ai/docs/config — "mcp": {type: local, command: [...], environment} or {type: remote, url, headers}; {env:NAME} substitutes.
export const opencode: Agent = {
  id: 'opencode',
  name: 'OpenCode',
  file: (home, env) => join(configHome(home, env), 'opencode', 'opencode.json'),
  installedAt: (home, env) => join(configHome(home, env), 'opencode'),
  adapter: makeAdapter(jsonFormat('mcp'), { envRef: (name) => `{env:${name}}`, cwd: false, remote: 'headers' }, (_, launch) =>
    launch.transport === 'stdio'
      ? { type: 'local', command: [launch.command, ...launch.args], ...ifAny('environment', launch.env), enabled: true }
      : { type: 'remote', url: launch.url, ...ifAny('headers', launch.headers), enabled: true },
  ),
};
