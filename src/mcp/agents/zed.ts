import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { jsonFormat } from '../formats/json.js';
import { configHome, type Agent } from './agent.js';

// Source: zed-industries/zed ContextServerSettingsContent (crates/settings) and docs/src/ai/mcp.md — settings.json "context_servers": command, args, env, or url, headers; no variable expansion.
export const zed: Agent = {
  id: 'zed',
  name: 'Zed',
  file: (home, env) => join(configHome(home, env), 'zed', 'settings.json'),
  installedAt: (home, env) => join(configHome(home, env), 'zed'),
  // "source": "custom" is required by Zed releases before the untagged format and ignored by later ones.
  adapter: makeAdapter(jsonFormat('context_servers'), { cwd: false, remote: 'headers' }, (_, launch) =>
    launch.transport === 'stdio' ? { source: 'custom', command: launch.command, args: launch.args, env: launch.env } : { url: launch.url },
  ),
};
