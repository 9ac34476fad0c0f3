import { join } from 'node:path';
import type { Adapter } from '../adapter.js';

export const AGENT_IDS = ['claude-code', 'codex', 'gemini', 'cursor', 'vscode', 'continue', 'windsurf', 'zed', 'goose', 'opencode', 'claude-desktop'] as const;
export type AgentId = (typeof AGENT_IDS)[number];

export type Env = Readonly<Record<string, string | undefined>>;

export interface Agent {
  id: AgentId;
  name: string;
  /** The file aibox writes the agent's MCP servers into. */
  file(home: string, env: Env): string;
  /** A path that exists once the agent is installed; without one the file is always written. */
  installedAt?(home: string, env: Env): string;
  /** The largest file aibox reads (default 1 MiB). */
  maxBytes?: number;
  adapter: Adapter;
}

/** $XDG_CONFIG_HOME, where Zed, Goose, OpenCode and Claude Desktop keep their files on Linux. */
export function configHome(home: string, env: Env): string {
  const value = env.XDG_CONFIG_HOME;
  return value && value.startsWith('/') ? value : join(home, '.config');
}

/** `{ [key]: record }`, or nothing when the record is empty: agents' files stay minimal. */
export function ifAny(key: string, record: Record<string, string>): Record<string, Record<string, string>> {
  return Object.keys(record).length > 0 ? { [key]: record } : {};
}

export function ifSet(key: string, value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { [key]: value };
}
