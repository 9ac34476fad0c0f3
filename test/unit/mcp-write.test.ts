import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { AGENTS, mcpConfigPath, ownedStatePath, readMcpConfig, realFiles, syncAgents, writeMcpConfig, type AgentId, type AgentResult, type FileIo } from '../../src/mcp/index.js';
import { BROKEN, DESIRED, FIXTURES, agent, parseFile, serversIn } from './mcp-fixtures.js';

async function home(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'aibox-mcp-'));
}

/** Installs the agents (their folders) and puts the fixture files in place. */
async function install(root: string, ids: readonly AgentId[], files: Partial<Record<AgentId, string>> = FIXTURES): Promise<void> {
  for (const id of ids) {
    const subject = agent(id);
    const installed = subject.installedAt?.(root, {});
    if (installed && id !== 'continue') await mkdir(installed, { recursive: true });
    const text = files[id];
    if (text === undefined) continue;
    const path = subject.file(root, {});
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
}

async function read(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

function outcomes(results: AgentResult[]): Record<string, string> {
  return Object.fromEntries(results.map((result) => [result.agent, result.outcome]));
}

const ALL: AgentId[] = AGENTS.map((subject) => subject.id);

describe('syncAgents', () => {
  it('writes every installed agent, keeps going past broken files, and undoes it all', async () => {
    const root = await home();
    const broken: Partial<Record<AgentId, string>> = { cursor: BROKEN.json, goose: BROKEN.yaml, codex: BROKEN.toml };
    await install(root, ALL, { ...FIXTURES, ...broken });
    const first = await syncAgents(root, DESIRED);
    const expected = Object.fromEntries(ALL.map((id) => [id, id in broken ? 'unparseable' : 'written']));
    assert.deepEqual(outcomes(first), expected);
    assert.match(first.find((result) => result.agent === 'cursor')?.message ?? '', /mcp\.json:\d+:\d+ is not valid JSON .*aibox left it unchanged; fix the syntax/);
    assert.match(first.find((result) => result.agent === 'goose')?.message ?? '', /config\.yaml:\d+ is not valid YAML/);
    assert.match(first.find((result) => result.agent === 'codex')?.message ?? '', /config\.toml:\d+:\d+ is not valid TOML/);
    const unbroken = AGENTS.filter((subject) => !(subject.id in broken));
    for (const subject of unbroken) {
      const path = subject.file(root, {});
      assert.equal((await stat(path)).mode & 0o777, 0o600, `${subject.id} is written with mode 0600`);
      const servers = serversIn(subject, parseFile(subject, (await read(path)) ?? ''));
      assert.ok('mine' in servers && 'aibox-git' in servers, subject.id);
    }

    const writes: string[] = [];
    const counting: FileIo = { ...realFiles, write: (path, text) => (writes.push(path), realFiles.write(path, text)) };
    const again = await syncAgents(root, DESIRED, { io: counting });
    assert.deepEqual(outcomes(again), { ...expected, ...Object.fromEntries(unbroken.map((subject) => [subject.id, 'unchanged'])) });
    assert.deepEqual(writes, [], 'nothing to change: no file written, not even the ownership record');

    const removed = await syncAgents(root, {});
    assert.equal(outcomes(removed).gemini, 'written');
    for (const subject of AGENTS) assert.equal(await read(subject.file(root, {})), broken[subject.id] ?? FIXTURES[subject.id], `${subject.id}: byte-identical`);
    assert.deepEqual(JSON.parse((await read(ownedStatePath(root))) ?? '{}'), { version: 1, files: {} });
  });

  it('always writes Claude Code and Codex, the others only where installed', async () => {
    const root = await home();
    const results = await syncAgents(root, DESIRED);
    for (const result of results) {
      const always = result.agent === 'claude-code' || result.agent === 'codex';
      assert.equal(result.outcome, always ? 'written' : 'skipped-not-installed', result.agent);
      assert.equal(await read(result.path) !== undefined, always, result.path);
    }
    assert.deepEqual(
      (await syncAgents(root, {})).filter((result) => result.outcome === 'written').map((result) => result.agent),
      ['claude-code', 'codex'],
    );
    assert.equal(await read(join(root, '.claude.json')), undefined, 'a file aibox created goes with its last server');
    assert.equal(await read(join(root, '.codex', 'config.toml')), undefined);
  });

  it('honours CODEX_HOME and XDG_CONFIG_HOME', async () => {
    const root = await home();
    const env = { CODEX_HOME: join(root, 'codex-home'), XDG_CONFIG_HOME: join(root, 'xdg') };
    await mkdir(join(root, 'xdg', 'zed'), { recursive: true });
    const results = await syncAgents(root, DESIRED, { env, agents: ['codex', 'zed'] });
    assert.deepEqual(
      results.map((result) => [result.path, result.outcome]),
      [
        [join(root, 'codex-home', 'config.toml'), 'written'],
        [join(root, 'xdg', 'zed', 'settings.json'), 'written'],
      ],
    );
    assert.ok(await read(join(root, 'xdg', 'aibox', 'mcp-owned.json')));
  });

  it('reports a file that is not a regular file and still writes the others', async () => {
    const root = await home();
    await install(root, ['gemini', 'zed'], {});
    await mkdir(agent('gemini').file(root, {}));
    execFileSync('mkfifo', [agent('zed').file(root, {})]);
    const results = outcomes(await syncAgents(root, DESIRED));
    assert.equal(results.gemini, 'unparseable');
    assert.equal(results.zed, 'unparseable');
    assert.equal(results['claude-code'], 'written');
  });

  it('reports the user editing aibox entry as a conflict and keeps the edit', async () => {
    const root = await home();
    await syncAgents(root, DESIRED, { agents: ['claude-code'] });
    const path = join(root, '.claude.json');
    const edited = ((await read(path)) ?? '').replace('/home/dev/project', '/home/dev/mine');
    await writeFile(path, edited);
    const [result] = await syncAgents(root, DESIRED, { agents: ['claude-code'] });
    assert.equal(result?.outcome, 'conflict');
    assert.match(result?.message ?? '', /"aibox-git" was changed by you, left alone/);
    assert.equal(await read(path), edited);
  });

  it('keeps both sides when the agent rewrites its file between aibox reading and writing', async () => {
    const root = await home();
    const path = join(root, '.claude.json');
    await writeFile(path, FIXTURES['claude-code']);
    let reads = 0;
    // Plays Claude Code: right after aibox's first read, it rewrites the whole file with a new server of its own.
    const io: FileIo = {
      ...realFiles,
      async read(file, maxBytes) {
        const text = await realFiles.read(file, maxBytes);
        if (file === path && ++reads === 1) {
          const data = parseFile(agent('claude-code'), text ?? '');
          const servers = serversIn(agent('claude-code'), data);
          await writeFile(path, `${JSON.stringify({ ...(typeof data === 'object' ? data : {}), mcpServers: { ...servers, 'added-by-claude': { type: 'stdio', command: 'c' } } }, null, 2)}\n`);
        }
        return text;
      },
    };
    const [result] = await syncAgents(root, DESIRED, { agents: ['claude-code'], io });
    assert.equal(result?.outcome, 'written');
    assert.equal(reads, 2, 'aibox read the file again right before writing');
    const servers = serversIn(agent('claude-code'), parseFile(agent('claude-code'), (await read(path)) ?? ''));
    assert.ok('added-by-claude' in servers && 'mine' in servers && 'aibox-git' in servers, Object.keys(servers).join(', '));
  });

  it('waits for another aibox holding the lock', async () => {
    const root = await home();
    const lock = join(root, '.local', 'state', 'aibox', 'mcp-locks', 'owned.lock');
    await mkdir(dirname(lock), { recursive: true });
    await writeFile(lock, String(process.pid));
    const waited: number[] = [];
    setTimeout(() => void rm(lock, { force: true }), 300);
    const [result] = await syncAgents(root, DESIRED, { agents: ['claude-code'], onWait: (holder) => waited.push(holder) });
    assert.equal(result?.outcome, 'written');
    assert.deepEqual(waited, [process.pid]);
  });

  it('refuses to run on a damaged ownership record, touching no agent file', async () => {
    const root = await home();
    await mkdir(dirname(ownedStatePath(root)), { recursive: true });
    await writeFile(ownedStatePath(root), '{"version": 1, "files": {"x": {"entries": 3}}}');
    await assert.rejects(syncAgents(root, DESIRED), (error: unknown) => error instanceof AiboxError && error.code === 'INVALID_FILE' && /delete .*mcp-owned\.json/.test(error.hint ?? ''));
    assert.equal(await read(join(root, '.claude.json')), undefined);
  });
});

describe('the canonical mcp.json', () => {
  it('reads what it wrote, an absent file as no servers, and names the bad field', async () => {
    const root = await home();
    const path = mcpConfigPath(root);
    assert.deepEqual(await readMcpConfig(path), { version: 1, servers: {} });
    await writeMcpConfig(path, { version: 1, servers: DESIRED });
    assert.deepEqual(await readMcpConfig(path), { version: 1, servers: DESIRED });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await writeFile(path, '{"version": 1, "servers": {"x": {"transport": "stdio", "command": "x", "env": {"T": "secret"}}}}');
    await assert.rejects(readMcpConfig(path), (error: unknown) => error instanceof AiboxError && error.message.includes('servers.x.env.T'));
    await writeFile(path, '{');
    await assert.rejects(readMcpConfig(path), (error: unknown) => error instanceof AiboxError && error.code === 'INVALID_FILE');
  });
});
