import type { Agent } from './agent.js';
import { claudeCode } from './claude-code.js';
import { claudeDesktop } from './claude-desktop.js';
import { codex } from './codex.js';
import { continueDev } from './continue.js';
import { cursor } from './cursor.js';
import { gemini } from './gemini.js';
import { goose } from './goose.js';
import { opencode } from './opencode.js';
import { vscode } from './vscode.js';
import { windsurf } from './windsurf.js';
import { zed } from './zed.js';

export { AGENT_IDS, type Agent, type AgentId, type Env } from './agent.js';

/** Every agent aibox configures, in the order results are reported. */
export const AGENTS: readonly Agent[] = [claudeCode, codex, gemini, cursor, vscode, continueDev, windsurf, zed, goose, opencode, claudeDesktop];
