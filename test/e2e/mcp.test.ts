/**
 * MCP packs end to end, with the real clients in a real gVisor sandbox: the ai-tools pack
 * (Claude Code, Codex) and the servers' tool packs (mcp-filesystem, mcp-git) built from
 * their recipes, signed and installed; `aibox mcp enable` from the host and from inside;
 * `claude mcp list` and `codex mcp list`; an MCP SDK client that starts every server from
 * each agent file aibox wrote and calls a tool; the user's own entries, unknown keys and
 * comments kept; a broken file left byte-identical; a policy denial with its fix;
 * regeneration byte-identical after stop/start and re-creation; docs/mcp.md run as written.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { parse as parseJsonc } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { stringify } from 'yaml';
import { ORG_POLICY_PATH } from '../../src/policy/load.js';
import { AIBOX, aibox, aiboxOk, cleanup, freePort, sshTo, testUser, type TestUser } from '../helpers/cli.js';
import { runGuide } from '../helpers/doc-blocks.js';
import { publishInitialPacks } from '../helpers/packs.js';

const HOME = '/home/dev';
/** The user's own files, as they were before aibox: each must keep what is theirs. */
const USER_FILES: Record<string, string> = {
  '.claude.json': `${JSON.stringify({ numStartups: 3, someUnknownKey: { keep: true }, mcpServers: { mine: { type: 'stdio', command: 'mcp-server-filesystem', args: ['/tmp'] } } }, null, 2)}\n`,
  '.codex/config.toml': '# my codex settings\nmodel = "o3"\n\n[mcp_servers.mine]\ncommand = "mcp-server-filesystem"\nargs = ["/tmp"]\n',
  '.vscode-server/data/User/mcp.json': '// my VS Code MCP servers\n{\n  "servers": {\n    "mine": { "type": "stdio", "command": "mcp-server-filesystem", "args": ["/tmp"] } // keep me\n  },\n  "inputs": []\n}\n',
  '.cursor/mcp.json': '{ "mcpServers": { "broken": ',
};
const AGENT_FILES = ['.claude.json', '.codex/config.toml', '.vscode-server/data/User/mcp.json', '.cursor/mcp.json', '.config/aibox/mcp.json'];

const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

describe('MCP packs: real agents in a gVisor sandbox find the enabled servers, within policy', { timeout: 30 * 60_000 }, () => {
  let user: TestUser;
  let savedPolicy: string | undefined;

  const ok = (args: string[]) => aiboxOk(user, args);

  function inside(command: string): string {
    const result = sshTo(user, command);
    assert.equal(result.code, 0, `${command}: ${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  /** sha256 of each agent file in the sandbox (absent: '-'). */
  function fingerprints(): Record<string, string> {
    const out = inside(`cd ${HOME} && for f in ${AGENT_FILES.join(' ')}; do if [ -f "$f" ]; then sha256sum "$f"; else echo "- $f"; fi; done`);
    return Object.fromEntries(out.trim().split('\n').map((line) => line.split(/\s+/).reverse()));
  }

  /** Starts a server the way an agent's file declares it — inside the sandbox, over ssh — and calls one tool. */
  async function callTool(launch: { command: string; args?: string[]; cwd?: string }, tool: string, args: Record<string, unknown>): Promise<string> {
    const remote = `${launch.cwd ? `cd ${quote(launch.cwd)} && ` : ''}exec ${[launch.command, ...(launch.args ?? [])].map(quote).join(' ')}`;
    const transport = new StdioClientTransport({ command: 'ssh', args: ['-F', join(user.home, '.ssh', 'config'), user.name, remote], stderr: 'ignore' });
    const client = new Client({ name: 'aibox-e2e', version: '1.0.0' });
    await client.connect(transport);
    try {
      const result = await client.callTool({ name: tool, arguments: args });
      return JSON.stringify(result.content);
    } finally {
      await client.close();
    }
  }

  before(async () => {
    savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
    user = await testUser('e2e-mcp');
    user.env.COSIGN_PASSWORD = 'e2e mcp packs';
    await ok(['pack', 'keygen', '--output-prefix', join(user.home, 'platform')]);
    await ok(['config', 'set', 'packs.registry', join(user.home, 'layout')]);
    const started = aibox(user, ['start', '--port', String(await freePort())]);
    await publishInitialPacks(user, ['node-20', 'ai-tools', 'mcp-filesystem', 'mcp-git'], join(user.home, 'platform.key'));
    const start = await started;
    assert.equal(start.code, 0, start.stderr);
    for (const [file, content] of Object.entries(USER_FILES)) {
      const result = sshTo(user, `mkdir -p "$(dirname ${HOME}/${file})" && cat > ${HOME}/${file} <<'AIBOX_EOF'\n${content}AIBOX_EOF`);
      assert.equal(result.code, 0, result.stderr);
    }
    inside('mkdir -p /workspace/repo && cd /workspace/repo && git init -q && touch untracked-marker');
    // A pack of the user's own that needs what the policy does not allow.
    await mkdir(join(user.home, '.config', 'aibox', 'mcp-packs'), { recursive: true });
    await writeFile(
      join(user.home, '.config', 'aibox', 'mcp-packs', 'jira-mcp.yaml'),
      stringify({ name: 'jira-mcp', version: '1.0.0', description: 'Jira', server: { transport: 'stdio', command: 'jira-mcp' }, source: { image: true }, network_requires: ['jira.example.com:443'] }),
    );
  });

  after(async () => {
    await cleanup(user);
    await rm(user.home, { recursive: true, force: true });
    if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
    else await writeFile(ORG_POLICY_PATH, savedPolicy);
  });

  it('enable from the host: claude and codex list both servers, every agent file starts them, user content and a broken file survive', async () => {
    // Other test files rewrite the org policy too: ours goes in right before it is read.
    await mkdir('/etc/aibox', { recursive: true });
    const key = await readFile(join(user.home, 'platform.pub'), 'utf8');
    await writeFile(ORG_POLICY_PATH, stringify({ version: 1, packs: { trusted_keys: [{ name: 'e2e', key }], allowed: ['*'] }, filesystem: { expose: ['/workspace', HOME] } }));

    const denied = await aibox(user, ['mcp', 'enable', 'jira-mcp']);
    assert.equal(denied.code, 8, denied.stderr);
    assert.match(denied.stderr, /jira-mcp needs egress to jira\.example\.com:443; add \{host: jira\.example\.com, ports: \[443\]\} to network\.egress in \/etc\/aibox\/policy\.yaml/);
    assert.equal(fingerprints()['.config/aibox/mcp.json'], '-', 'a refused pack writes nothing');

    await ok(['install', 'ai-tools']);
    const cursorBefore = inside(`cat ${HOME}/.cursor/mcp.json`);
    const enabled = JSON.parse((await ok(['mcp', 'enable', 'filesystem-mcp', 'git-mcp', '--json'])).stdout) as {
      enabled: string[];
      install: { packs: { name: string }[] };
      sync: { agents: { agent: string; outcome: string; message?: string }[] };
    };
    assert.deepEqual(enabled.enabled, ['filesystem-mcp', 'git-mcp']);
    assert.deepEqual(enabled.install.packs.map((pack) => pack.name).sort(), ['mcp-filesystem', 'mcp-git', 'node']);
    const outcome = Object.fromEntries(enabled.sync.agents.map((agent) => [agent.agent, agent.outcome]));
    assert.equal(outcome['claude-code'], 'written');
    assert.equal(outcome.codex, 'written');
    assert.equal(outcome.vscode, 'written');
    assert.equal(outcome.cursor, 'unparseable', 'a file aibox cannot parse is reported');
    assert.equal(inside(`cat ${HOME}/.cursor/mcp.json`), cursorBefore, 'and left byte-identical');

    const claude = inside('cd /workspace && claude mcp list');
    assert.match(claude, /^filesystem-mcp: .* - ✔ Connected$/m, claude);
    assert.match(claude, /^git-mcp: .* - ✔ Connected$/m, claude);
    assert.match(claude, /^mine: .* - ✔ Connected$/m, "the user's own server is still there");
    const codex = inside('codex mcp list');
    for (const name of ['filesystem-mcp', 'git-mcp', 'mine']) assert.match(codex, new RegExp(`^${name}\\s`, 'm'), codex);

    const claudeJson = JSON.parse(inside(`cat ${HOME}/.claude.json`)) as { someUnknownKey?: unknown; mcpServers: Record<string, { command: string; args?: string[]; cwd?: string }> };
    assert.deepEqual(claudeJson.someUnknownKey, { keep: true });
    const codexToml = inside(`cat ${HOME}/.codex/config.toml`);
    assert.match(codexToml, /^# my codex settings\nmodel = "o3"\n/);
    const codexServers = (parseToml(codexToml) as { mcp_servers: Record<string, { command: string; args?: string[]; cwd?: string }> }).mcp_servers;
    const vscodeText = inside(`cat ${HOME}/.vscode-server/data/User/mcp.json`);
    assert.match(vscodeText, /^\/\/ my VS Code MCP servers\n/);
    assert.match(vscodeText, /\/\/ keep me/);
    const vscodeServers = (parseJsonc(vscodeText) as { servers: Record<string, { command: string; args?: string[]; cwd?: string }> }).servers;

    // A real MCP client starts every aibox server as each agent file declares it and calls a tool.
    for (const [agent, servers] of Object.entries({ 'claude-code': claudeJson.mcpServers, codex: codexServers, vscode: vscodeServers })) {
      assert.ok(servers.mine, `${agent}: the user's own server is kept`);
      const files = await callTool(servers['filesystem-mcp'] ?? assert.fail(`${agent}: no filesystem-mcp`), 'list_directory', { path: '/workspace' });
      assert.match(files, /\[DIR\] repo/, `${agent}: filesystem-mcp lists /workspace`);
      const status = await callTool(servers['git-mcp'] ?? assert.fail(`${agent}: no git-mcp`), 'git_status', { path: '/workspace/repo' });
      assert.match(status, /untracked-marker/, `${agent}: git-mcp reports the repository's status`);
    }

    await ok(['mcp', 'disable', 'git-mcp']);
    const afterDisable = JSON.parse(inside(`cat ${HOME}/.claude.json`)) as { mcpServers: Record<string, unknown> };
    assert.deepEqual(Object.keys(afterDisable.mcpServers).sort(), ['filesystem-mcp', 'mine'], 'disable removes only what aibox added');
    assert.doesNotMatch(inside(`cat ${HOME}/.codex/config.toml`), /git-mcp/);
  });

  it('from inside the sandbox: enable through the host, list with the catalog, regenerate and disable', async () => {
    const enabled = JSON.parse(inside('aibox mcp enable git-mcp --json')) as { enabled: string[] };
    assert.deepEqual(enabled.enabled, ['git-mcp']);
    const list = JSON.parse(inside('aibox mcp list --json')) as { available: { name: string }[]; enabled: string[]; agents: { agent: string; inSync: boolean }[] };
    assert.deepEqual(list.enabled, ['filesystem-mcp', 'git-mcp']);
    assert.ok(['filesystem-mcp', 'git-mcp', 'jira-mcp'].every((name) => list.available.some((pack) => pack.name === name)), JSON.stringify(list.available));
    assert.ok(list.agents.filter((agent) => agent.agent !== 'cursor').every((agent) => agent.inSync), JSON.stringify(list.agents));
    // The first `aibox mcp` command started the command server (src/cli/server.ts); from here on it answers.
    assert.match(inside("pgrep -u dev -f 'aibox.mjs [c]li-server'"), /^\d+\n$/, 'one command server');
    assert.equal(inside('stat -c "%a %U" /tmp/aibox-cli-1000'), '700 dev\n', 'its socket folder is private');
    assert.deepEqual(JSON.parse(inside('aibox mcp list --json')), JSON.parse(inside('AIBOX_NO_SERVER=1 aibox mcp list --json')), 'the same answer with Node');
    const refused = sshTo(user, 'aibox mcp enable jira-mcp');
    assert.equal(refused.code, 8, refused.stderr);
    assert.match(refused.stderr, /jira-mcp needs egress to jira\.example\.com:443/);

    const regenerated = JSON.parse(inside('aibox mcp regenerate --json')) as { servers: string[] };
    assert.deepEqual(regenerated.servers, ['filesystem-mcp', 'git-mcp']);
    inside('aibox mcp disable git-mcp');
    assert.doesNotMatch(inside(`cat ${HOME}/.claude.json`), /git-mcp/, 'disable inside removes it');
  });

  it('regeneration is byte-identical after stop/start and after re-creation', async () => {
    await ok(['mcp', 'regenerate']);
    const before = fingerprints();
    assert.notEqual(before['.claude.json'], '-');
    await ok(['stop']);
    await ok(['start']);
    assert.deepEqual(fingerprints(), before, 'after stop/start (start regenerates)');
    // An agent that rewrote its file without aibox's entry (Claude Code rewrites its own) has it back after the next start.
    inside(`/opt/aibox/node/bin/node -e 'const fs = require("fs"); const f = process.argv[1]; const j = JSON.parse(fs.readFileSync(f, "utf8")); delete j.mcpServers["filesystem-mcp"]; fs.writeFileSync(f, JSON.stringify(j, null, 2))' ${HOME}/.claude.json`);
    await ok(['stop']);
    await ok(['start']);
    assert.ok((JSON.parse(inside(`cat ${HOME}/.claude.json`)) as { mcpServers: Record<string, unknown> }).mcpServers['filesystem-mcp'], 'start put it back');
    await ok(['mcp', 'regenerate']);
    const restored = fingerprints();
    await ok(['rm']);
    await ok(['start']);
    assert.deepEqual(fingerprints(), restored, 'after re-creation');
    await ok(['mcp', 'regenerate']);
    assert.deepEqual(fingerprints(), restored, 'and an explicit regenerate');
  });

  it('docs/mcp.md runs as written', async (t) => {
    const bin = join(user.home, 'bin');
    const work = join(user.home, 'guide');
    await mkdir(bin, { recursive: true });
    await mkdir(work, { recursive: true });
    await symlink(AIBOX, join(bin, 'aibox'));
    await runGuide('docs/mcp.md', {
      work,
      env: { ...user.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
      cwdFile: join(user.home, '.guide-cwd'),
      diagnostic: (message) => t.diagnostic(message),
    });
  });
});
