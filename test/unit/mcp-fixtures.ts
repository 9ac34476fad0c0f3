import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { parse as parseYaml } from 'yaml';
import { AGENTS, McpConfig, type Agent, type AgentId, type McpServers } from '../../src/mcp/index.js';

/** Realistic files as users (and the agents themselves) leave them: an own server, unknown keys, comments. */
export const FIXTURES: Record<AgentId, string> = {
  'claude-code': `{
  "numStartups": 42,
  "theme": "dark",
  // kept by hand: my own servers
  "mcpServers": {
    "mine": {
      "type": "stdio",
      "command": "/usr/local/bin/my-mcp",
      "args": ["--verbose"],
      "env": { "LOG": "debug" } /* inline note */
    }
  },
  "projects": {
    "/home/dev/app": { "allowedTools": [], "mcpServers": {} }
  },
  "unknownFutureKey": { "nested": [1, 2, 3] }
}
`,
  codex: `# Codex configuration
model = "o4-mini"
approval_policy = "on-request"

[mcp_servers.mine]   # my own server
command = "my-mcp"
args = ["--stdio"]
env = { LOG = "debug" }

[projects."/home/dev/app"]
trust_level = "trusted"
`,
  gemini: `{
  // Gemini CLI settings
  "theme": "GitHub",
  "mcpServers": {
    "mine": { "command": "python", "args": ["-m", "my_server"], "timeout": 30000, "trust": false } // mine
  },
  "ui": { "hideBanner": true }
}
`,
  cursor: `{
  /* global servers */
  "mcpServers": {
    "mine": {
      "url": "https://mcp.example.com/sse",
      "headers": { "X-Team": "blue" }
    }
  }
}
`,
  vscode: `{
\t// User-level MCP servers
\t"inputs": [
\t\t{ "type": "promptString", "id": "token", "description": "Token", "password": true },
\t],
\t"servers": {
\t\t"mine": {
\t\t\t"type": "stdio",
\t\t\t"command": "node",
\t\t\t"args": ["/home/dev/mcp/index.js"],
\t\t\t"env": { "TOKEN": "\${input:token}" },
\t\t},
\t},
}
`,
  continue: `# Continue config
name: Local Config
version: 1.0.0
schema: v1
models:
  - name: Claude
    provider: anthropic
    model: claude-sonnet-4
    apiKey: \${{ secrets.ANTHROPIC_API_KEY }}
mcpServers:
  # my server
  - name: mine
    command: uvx
    args: ["mcp-server-time"]   # flow list inside
context:
  - provider: code
`,
  windsurf: `{
  "mcpServers": {
    "mine": { "serverUrl": "https://mcp.example.com/mcp" }
  },
  // Windsurf keeps this too
  "extra": true
}
`,
  zed: `// Zed settings
//
// For information on how to configure Zed, see the Zed
// documentation: https://zed.dev/docs/configuring-zed
{
  "ui_font_size": 16,
  "buffer_font_size": 15,
  "context_servers": {
    "mine": {
      "command": "my-server",
      "args": [],
      "env": {},
    },
  },
  "theme": { "mode": "system", "light": "One Light", "dark": "One Dark" },
}
`,
  goose: `# goose config
GOOSE_PROVIDER: anthropic
GOOSE_MODEL: claude-sonnet-4
extensions:
  developer:
    bundled: true
    enabled: true
    name: developer
    timeout: 300
    type: builtin
  mine:   # my server
    enabled: true
    type: stdio
    name: mine
    cmd: uvx
    args:
    - mcp-server-fetch
    envs: {}
    timeout: 300
GOOSE_MODE: smart_approve
`,
  opencode: `{
  "$schema": "https://opencode.ai/config.json",
  // my servers
  "mcp": {
    "mine": { "type": "local", "command": ["bun", "x", "my-mcp"], "enabled": true },
  },
  "theme": "opencode",
}
`,
  'claude-desktop': `{
  "mcpServers": {
    "mine": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/dev"]
    }
  },
  // added by hand
  "globalShortcut": "Ctrl+Space"
}
`,
};

/** One syntax error per format. */
export const BROKEN: Record<'json' | 'yaml' | 'toml', string> = {
  json: '{\n  "mcpServers": {\n    "mine": { "command": "x" \n  }\n',
  yaml: 'extensions:\n  mine: [unclosed\nmcpServers:\n  - name: x\n',
  toml: '[mcp_servers.mine]\ncommand = "x\n',
};

export function formatOf(agent: Agent): 'json' | 'yaml' | 'toml' {
  if (agent.id === 'codex') return 'toml';
  return agent.id === 'continue' || agent.id === 'goose' ? 'yaml' : 'json';
}

/** Parses an agent file with the libraries directly (not through aibox's code). */
export function parseFile(agent: Agent, text: string): unknown {
  const format = formatOf(agent);
  if (format === 'toml') return JSON.parse(JSON.stringify(parseToml(text)));
  if (format === 'yaml') return parseYaml(text) ?? {};
  const errors: ParseError[] = [];
  const data: unknown = JSON.parse(JSON.stringify(parseJsonc(text, errors, { allowTrailingComma: true }) ?? {}));
  if (errors.length > 0) throw new Error(`not JSON: ${text}`);
  return data;
}

export const CONTAINER: Record<AgentId, { key: string; list?: true }> = {
  'claude-code': { key: 'mcpServers' },
  codex: { key: 'mcp_servers' },
  gemini: { key: 'mcpServers' },
  cursor: { key: 'mcpServers' },
  vscode: { key: 'servers' },
  continue: { key: 'mcpServers', list: true },
  windsurf: { key: 'mcpServers' },
  zed: { key: 'context_servers' },
  goose: { key: 'extensions' },
  opencode: { key: 'mcp' },
  'claude-desktop': { key: 'mcpServers' },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The agent's servers by name, from parsed data. */
export function serversIn(agent: Agent, data: unknown): Record<string, unknown> {
  const { key, list } = CONTAINER[agent.id];
  const value = isObject(data) ? data[key] : undefined;
  if (!list) return isObject(value) ? value : {};
  const items = Array.isArray(value) ? value.filter(isObject) : [];
  return Object.fromEntries(items.map((item) => [String(item.name), item]));
}

export const DESIRED: McpServers = McpConfig.parse({
  version: 1,
  servers: {
    'aibox-git': { transport: 'stdio', command: 'mcp-server-git', args: ['--repository', '/home/dev/project'] },
    'aibox-github': { transport: 'stdio', command: 'github-mcp-server', args: ['stdio'], env: { GITHUB_PERSONAL_ACCESS_TOKEN: { from: 'env', name: 'GH_TOKEN' } } },
    'aibox-vault': { transport: 'stdio', command: 'vault-mcp', env: { VAULT_TOKEN: { from: 'credential-helper', name: 'vault' } }, cwd: '/home/dev' },
    'aibox-docs': { transport: 'http', url: 'https://docs.example.com/mcp' },
    'aibox-search': { transport: 'http', url: 'https://search.example.com/mcp', headers: { Authorization: { from: 'env', name: 'SEARCH_TOKEN', prefix: 'Bearer ' } } },
  },
}).servers;

export function agent(id: AgentId): Agent {
  const found = AGENTS.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no agent ${id}`);
  return found;
}
