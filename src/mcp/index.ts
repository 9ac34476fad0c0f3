/** MCP packs: the canonical server list and the adapters that write it into each agent's own file. */
export { applyEntries, makeAdapter, type Adapter, type ApplyResult, type EntryReport, type EntryStatus } from './adapter.js';
export { AGENT_IDS, AGENTS, type Agent, type AgentId, type Env } from './agents/index.js';
export { McpConfig, mcpConfigPath, McpServer, readMcpConfig, writeMcpConfig, type HttpServer, type McpServers, type SecretSource, type StdioServer } from './canonical.js';
export { AIBOX_COMMAND, launchFor, type Capabilities, type Launch } from './launch.js';
export { hashEntry, NOTHING_OWNED, OwnedFile, OwnedState } from './owned.js';
export { ownedStatePath, realFiles, syncAgents, type AgentResult, type FileIo, type Outcome, type SyncOptions } from './write.js';
