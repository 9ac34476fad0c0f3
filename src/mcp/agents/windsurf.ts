import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { jsonFormat } from '../formats/json.js';
import { ifAny, type Agent } from './agent.js';

// Source: docs.windsurf.com/windsurf/cascade/mcp — ~/.codeium/windsurf/mcp_config.json "mcpServers": command, args, env, or serverUrl (not url), headers; ${env:NAME} in command, args, env, serverUrl, headers.
export const windsurf: Agent = {
  id: 'windsurf',
  name: 'Windsurf',
  file: (home) => join(home, '.codeium', 'windsurf', 'mcp_config.json'),
  installedAt: (home) => join(home, '.codeium', 'windsurf'),
  adapter: makeAdapter(jsonFormat('mcpServers'), { envRef: (name) => `\${env:${name}}`, cwd: false, remote: 'headers' }, (_, launch) =>
    launch.transport === 'stdio'
      ? { command: launch.command, args: launch.args, env: launch.env }
      : { serverUrl: launch.url, ...ifAny('headers', launch.headers) },
  ),
};
