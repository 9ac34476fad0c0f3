import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { jsonFormat } from '../formats/json.js';
import { ifAny, type Agent } from './agent.js';

// Source: code.claude.com/docs/en/mcp — user scope is ~/.claude.json, top-level "mcpServers"; ${VAR} expands in command, args, env, url and headers.
export const claudeCode: Agent = {
  id: 'claude-code',
  name: 'Claude Code',
  file: (home) => join(home, '.claude.json'),
  // Claude Code keeps every project's history in this file: it is often larger than 1 MiB.
  maxBytes: 32 * 1024 * 1024,
  adapter: makeAdapter(jsonFormat('mcpServers'), { envRef: (name) => `\${${name}}`, cwd: false, remote: 'headers' }, (_, launch) =>
    launch.transport === 'stdio'
      ? { type: 'stdio', command: launch.command, args: launch.args, env: launch.env }
      : { type: 'http', url: launch.url, ...ifAny('headers', launch.headers) },
  ),
};
