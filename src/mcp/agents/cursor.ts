import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { jsonFormat } from '../formats/json.js';
import { ifAny, type Agent } from './agent.js';

// Source: cursor.com/docs/context/mcp — ~/.cursor/mcp.json "mcpServers": command, args, env, or url, headers; ${env:NAME} resolves in command, args, env, url and headers.
export const cursor: Agent = {
  id: 'cursor',
  name: 'Cursor',
  file: (home) => join(home, '.cursor', 'mcp.json'),
  installedAt: (home) => join(home, '.cursor'),
  adapter: makeAdapter(jsonFormat('mcpServers'), { envRef: (name) => `\${env:${name}}`, cwd: false, remote: 'headers' }, (_, launch) =>
    launch.transport === 'stdio'
      ? { command: launch.command, args: launch.args, env: launch.env }
      : { url: launch.url, ...ifAny('headers', launch.headers) },
  ),
};
