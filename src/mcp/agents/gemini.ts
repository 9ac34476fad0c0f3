import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { jsonFormat } from '../formats/json.js';
import { ifAny, ifSet, type Agent } from './agent.js';

// Source: google-gemini/gemini-cli docs/tools/mcp-server.md and docs/cli/configuration.md — ~/.gemini/settings.json "mcpServers": command, args, env, cwd, or httpUrl, headers; $VAR and ${VAR} expand in settings strings.
export const gemini: Agent = {
  id: 'gemini',
  name: 'Gemini CLI',
  file: (home) => join(home, '.gemini', 'settings.json'),
  installedAt: (home) => join(home, '.gemini'),
  adapter: makeAdapter(jsonFormat('mcpServers'), { envRef: (name) => `\${${name}}`, cwd: true, remote: 'headers' }, (_, launch) =>
    launch.transport === 'stdio'
      ? { command: launch.command, args: launch.args, ...ifAny('env', launch.env), ...ifSet('cwd', launch.cwd) }
      : { httpUrl: launch.url, ...ifAny('headers', launch.headers) },
  ),
};
