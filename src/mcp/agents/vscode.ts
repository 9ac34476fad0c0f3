import { join } from 'node:path';
import { makeAdapter } from '../adapter.js';
import { jsonFormat } from '../formats/json.js';
import { ifAny, type Agent } from './agent.js';

// Source: microsoft/vscode-docs docs/copilot/reference/mcp-configuration.md — mcp.json "servers" (not mcpServers): type stdio + command, args, env, or type http + url, headers; ${env:NAME} resolves (microsoft/vscode#245237).
export const vscode: Agent = {
  id: 'vscode',
  name: 'VS Code (remote)',
  file: (home) => join(home, '.vscode-server', 'data', 'User', 'mcp.json'),
  installedAt: (home) => join(home, '.vscode-server'),
  adapter: makeAdapter(jsonFormat('servers'), { envRef: (name) => `\${env:${name}}`, cwd: false, remote: 'headers' }, (_, launch) =>
    launch.transport === 'stdio'
      ? { type: 'stdio', command: launch.command, args: launch.args, env: launch.env }
      : { type: 'http', url: launch.url, ...ifAny('headers', launch.headers) },
  ),
};
