import { rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseJson, type ParseError } from 'jsonc-parser';
import { AiboxError } from '../core/errors.js';
import { MAX_FILE_BYTES, readRegularFile, writeFileAtomic } from '../core/files.js';
import { withLock } from '../core/lock.js';
import { resolvePaths } from '../core/paths.js';
import type { EntryReport } from './adapter.js';
import { AGENTS, type Agent, type AgentId, type Env } from './agents/index.js';
import { mcpConfigPath, type McpServers } from './canonical.js';
import { NOTHING_OWNED, OwnedFile, type OwnedState } from './owned.js';

/**
 * Writes the enabled servers into every agent's own file.
 *
 * Which agents get a file: Claude Code and Codex always (they are the agents
 * the sandbox is built for, and each reads its file when it starts, so an
 * agent installed after `aibox mcp enable` finds its servers); every other
 * agent only once its own folder exists (Continue: once its config.yaml
 * exists, which needs fields only Continue writes). aibox does not create
 * folders for editors that were never installed.
 */

export type Outcome = 'written' | 'unchanged' | 'unparseable' | 'conflict' | 'skipped-not-installed' | 'failed';

export interface AgentResult {
  agent: AgentId;
  path: string;
  outcome: Outcome;
  /** One line per problem, each naming the file, what happened and what to do. */
  message?: string;
  entries: EntryReport[];
}

/** File access, passed in so a test can play the agent rewriting its file mid-way. */
export interface FileIo {
  read(path: string, maxBytes: number): Promise<string | undefined>;
  write(path: string, text: string): Promise<void>;
  remove(path: string): Promise<void>;
}

export const realFiles: FileIo = {
  read: (path, maxBytes) => readRegularFile(path, maxBytes),
  write: (path, text) => writeFileAtomic(path, text, 0o600),
  remove: (path) => rm(path, { force: true }),
};

export interface SyncOptions {
  /** The environment (pass process.env): CODEX_HOME, XDG_CONFIG_HOME and XDG_STATE_HOME move files; HOME is `home`. */
  env?: Env;
  /** Only these agents (default: all). */
  agents?: readonly AgentId[];
  io?: FileIo;
  /** Told when another aibox process holds a lock. */
  onWait?: (holder: number, lock: string) => void;
}

export function ownedStatePath(home: string, env: Env = {}): string {
  return join(resolvePaths({ ...env, HOME: home }).configDir, 'mcp-owned.json');
}

/**
 * The list of every file a sync depends on (the canonical file, the record, each agent's
 * file and the marker that says it is installed), one per line, kept in the state folder:
 * `aibox start` skips its regeneration while none of them changed (host.ts, regenerateAtStart).
 */
export function syncInputsPath(home: string, env: Env = {}): string {
  return join(resolvePaths({ ...env, HOME: home }).stateDir, 'mcp-sync.inputs');
}

function syncInputs(home: string, env: Env): string {
  const paths = [mcpConfigPath(home, env), ownedStatePath(home, env), ...AGENTS.flatMap((agent) => [agent.file(home, env), ...(agent.installedAt ? [agent.installedAt(home, env)] : [])])];
  return `${[...new Set(paths)].join('\n')}\n`;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readOwned(io: FileIo, path: string): Promise<OwnedFile> {
  const text = await io.read(path, MAX_FILE_BYTES);
  if (text === undefined) return { version: 1, files: {} };
  const errors: ParseError[] = [];
  const result = OwnedFile.safeParse(parseJson(text, errors));
  if (errors.length === 0 && result.success) return result.data;
  // Without a trustworthy record aibox could take over or delete a user's server: it refuses instead.
  throw new AiboxError('INVALID_FILE', `${path} is damaged, so aibox cannot tell the MCP entries it wrote from yours`, `delete ${path}: aibox then treats the servers it wrote before as yours and leaves them alone`);
}

function oneLine(error: AiboxError): string {
  return error.hint ? `${error.message}; ${error.hint}` : error.message;
}

function failure(agent: Agent, path: string, error: AiboxError): AgentResult {
  const outcome: Outcome = error.code === 'INVALID_FILE' ? 'unparseable' : error.code === 'CONFLICT' ? 'conflict' : 'failed';
  return { agent: agent.id, path, outcome, message: oneLine(error), entries: [] };
}

function success(agent: Agent, path: string, entries: EntryReport[], written: boolean): AgentResult {
  const problem = entries.some((entry) => entry.status === 'conflict' || entry.status === 'changed-by-you');
  const notes = entries.flatMap((entry) => (entry.message ? [entry.message] : []));
  const outcome: Outcome = problem ? 'conflict' : written ? 'written' : 'unchanged';
  return { agent: agent.id, path, outcome, ...(notes.length > 0 ? { message: notes.join('\n') } : {}), entries };
}

type FirstLook = { installed: false; installedAt: string } | { installed: true; text: string | undefined };

/** Whether the agent is there, and its file as it is: for all agents at once, before the first write. */
async function firstLook(agent: Agent, home: string, env: Env, io: FileIo): Promise<FirstLook> {
  const installedAt = agent.installedAt?.(home, env);
  if (installedAt && !(await exists(installedAt))) return { installed: false, installedAt };
  return { installed: true, text: await io.read(agent.file(home, env), agent.maxBytes ?? MAX_FILE_BYTES) };
}

/** One agent: apply to what it had, read again right before writing, write. */
async function syncAgent(agent: Agent, home: string, env: Env, desired: McpServers, before: OwnedState, io: FileIo, look: FirstLook): Promise<{ result: AgentResult; owned?: OwnedState }> {
  const path = agent.file(home, env);
  if (!look.installed) {
    return { result: { agent: agent.id, path, outcome: 'skipped-not-installed', message: `${agent.name} is not installed (no ${look.installedAt}); aibox wrote nothing for it`, entries: [] } };
  }
  const first = look.text;
  let applied = agent.adapter.apply(first, before, desired, path);
  let current = first;
  if (applied.ok && applied.text !== first) {
    // The agent may have rewritten its file meanwhile (Claude Code does): apply to what is there now.
    current = await io.read(path, agent.maxBytes ?? MAX_FILE_BYTES);
    if (current !== first) applied = agent.adapter.apply(current, before, desired, path);
  }
  if (!applied.ok) return { result: failure(agent, path, applied.error) };
  const written = applied.text !== current;
  if (written && applied.text === undefined) await io.remove(path);
  else if (written && applied.text !== undefined) await io.write(path, applied.text);
  return { result: success(agent, path, applied.entries, written), owned: applied.owned };
}

/**
 * Brings every agent's file in line with `desired` (the enabled servers), one
 * agent after the other, under one lock for all of aibox's MCP files (two aibox
 * processes never interleave). A file aibox cannot read, parse or write is reported
 * and left byte-identical; the other agents are still written.
 */
export async function syncAgents(home: string, desired: McpServers, options: SyncOptions = {}): Promise<AgentResult[]> {
  const env: Env = { ...options.env, HOME: home };
  const io = options.io ?? realFiles;
  const statePath = ownedStatePath(home, env);
  const lock = join(resolvePaths(env).stateDir, 'mcp-locks', 'owned.lock');
  const inputsPath = syncInputsPath(home, env);
  const selected = AGENTS.filter((agent) => !options.agents || options.agents.includes(agent.id));
  return withLock(
    lock,
    async () => {
      // Every agent's file read at once, with the record (under gVisor each file operation is a
      // round trip); a failed read is that agent's failure, met in its turn below.
      const looks = selected.map((agent) => ({ agent, look: firstLook(agent, home, env, io) }));
      looks.forEach(({ look }) => look.catch(() => undefined));
      const inputsBefore = io.read(inputsPath, MAX_FILE_BYTES).catch(() => undefined);
      const owned = await readOwned(io, statePath);
      const results: AgentResult[] = [];
      for (const { agent, look } of looks) {
        const path = agent.file(home, env);
        const record = owned.files[path];
        const before: OwnedState = record ? { entries: record.entries, createdContainer: record.createdContainer, createdFile: record.createdFile } : NOTHING_OWNED;
        let after: OwnedState | undefined;
        try {
          const synced = await syncAgent(agent, home, env, desired, before, io, await look);
          results.push(synced.result);
          after = synced.owned;
        } catch (error) {
          if (error instanceof AiboxError) results.push(failure(agent, path, error));
          else if (error instanceof Error) results.push({ agent: agent.id, path, outcome: 'failed', message: `cannot update ${path}: ${error.message}; check ${dirname(path)} and its permissions`, entries: [] });
          else throw error;
        }
        if (!after) continue;
        const was = owned.files[path];
        const now = Object.keys(after.entries).length === 0 ? undefined : { agent: agent.id, entries: after.entries, ...(after.createdContainer ? { createdContainer: true } : {}), ...(after.createdFile ? { createdFile: true } : {}) };
        if (isDeepStrictEqual(was, now)) continue;
        if (now) owned.files[path] = now;
        else delete owned.files[path];
        // After each agent, so what is already written stays recorded if a later one fails.
        await io.write(statePath, `${JSON.stringify(owned, null, 2)}\n`);
      }
      const inputs = syncInputs(home, env);
      if ((await inputsBefore) !== inputs) await io.write(inputsPath, inputs);
      return results;
    },
    (holder) => options.onWait?.(holder, lock),
  );
}
