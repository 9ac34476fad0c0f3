import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { jsonFormat } from '../formats/json.js';
import { configHome, type Agent } from './agent.js';

// Source: modelcontextprotocol.io/quickstart/user — claude_desktop_config.json "mcpServers": command, args, env; remote servers are added in the app (Connectors), not in this file.
export const claudeDesktop: Agent = {
  id: 'claude-desktop',
  name: 'Claude Desktop',
  file: (home, env) => join(configHome(home, env), 'Claude', 'claude_desktop_config.json'),
  installedAt: (home, env) => join(configHome(home, env), 'Claude'),
  adapter: makeAdapter(jsonFormat('mcpServers'), { cwd: false, remote: 'none' }, (_, launch) =>
    launch.transport === 'stdio' ? { command: launch.command, args: launch.args, env: launch.env } : {},
  ),
};
