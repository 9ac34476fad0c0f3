import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { AGENTS, McpConfig, NOTHING_OWNED, type Agent, type ApplyResult, type McpServers, type OwnedState } from '../../src/mcp/index.js';
import { BROKEN, DESIRED, FIXTURES, agent, formatOf, parseFile, serversIn } from './mcp-fixtures.js';

type Applied = Extract<ApplyResult, { ok: true }>;

function apply(subject: Agent, text: string | undefined, owned: OwnedState, desired: McpServers): Applied {
  const result = subject.adapter.apply(text, owned, desired, `/home/dev/${subject.id}`);
  if (!result.ok) assert.fail(`${subject.id}: ${result.error.message}`);
  return result;
}

/** The same file with CRLF line ends, and without its final newline. */
function variants(text: string): string[] {
  return [text, text.replace(/\n/g, '\r\n'), text.replace(/\n$/, '')];
}

function withoutAibox(subject: Agent, data: unknown): unknown {
  const servers = serversIn(subject, data);
  return Object.fromEntries(Object.entries(servers).filter(([name]) => !name.startsWith('aibox-')));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function commentsOf(text: string): string[] {
  return text.split('\n').flatMap((line) => /(\/\/.*|\/\*.*\*\/|#.*)$/.exec(line)?.[0] ?? []).filter((comment) => !comment.includes('"'));
}

const ALLOWED_CODEX_KEYS = [new Set(['command', 'args', 'env', 'cwd']), new Set(['url', 'bearer_token_env_var'])];

describe('MCP adapters: every agent keeps the user file', () => {
  for (const subject of AGENTS) {
    describe(subject.id, () => {
      it('survives apply, apply again (same bytes) and remove (original bytes)', () => {
        for (const original of variants(FIXTURES[subject.id])) {
          const first = apply(subject, original, NOTHING_OWNED, DESIRED);
          assert.notEqual(first.text, original);
          const text = first.text ?? '';
          for (const comment of commentsOf(original)) assert.ok(text.includes(comment), `${subject.id}: comment kept: ${comment}`);
          const before = parseFile(subject, original);
          const after = parseFile(subject, text);
          assert.deepEqual(withoutAibox(subject, after), withoutAibox(subject, before), `${subject.id}: the user's own servers are untouched`);
          assert.ok(Object.keys(serversIn(subject, after)).some((name) => name.startsWith('aibox-')), `${subject.id}: aibox's servers are there`);

          const second = apply(subject, text, first.owned, DESIRED);
          assert.equal(second.text, text, `${subject.id}: applying twice gives the same bytes`);
          assert.deepEqual(second.owned, first.owned);
          assert.ok(second.entries.every((entry) => entry.status === 'unchanged' || entry.status === 'left-out'));

          const removed = apply(subject, text, second.owned, {});
          assert.equal(removed.text, original, `${subject.id}: removing aibox's servers gives the user's bytes back`);
          assert.deepEqual(removed.owned, NOTHING_OWNED);
        }
      });

      it('creates the file when there is none and removes it again', () => {
        const created = apply(subject, undefined, NOTHING_OWNED, DESIRED);
        assert.ok(created.text !== undefined && created.owned.createdFile);
        assert.equal(apply(subject, created.text, created.owned, DESIRED).text, created.text);
        assert.equal(apply(subject, created.text, created.owned, {}).text, undefined);
      });

      it('reports a broken file and returns no text to write', () => {
        const result = subject.adapter.apply(BROKEN[formatOf(subject)], NOTHING_OWNED, DESIRED, '/home/dev/broken');
        assert.equal(result.ok, false);
        if (!result.ok) {
          assert.equal(result.error.code, 'INVALID_FILE');
          assert.match(result.error.message, /^\/home\/dev\/broken:\d+.* is not valid (JSON|YAML|TOML)/);
        }
      });

      it('never takes over a server of the user with the same name', () => {
        const clash = { mine: DESIRED['aibox-git'] ?? assert.fail('fixture'), ...DESIRED };
        const result = apply(subject, FIXTURES[subject.id], NOTHING_OWNED, clash);
        const report = result.entries.find((entry) => entry.name === 'mine');
        assert.equal(report?.status, 'conflict');
        assert.match(report?.message ?? '', /"mine" .* is yours/);
        assert.equal(result.owned.entries.mine, undefined);
        const mine = (data: unknown) => serversIn(subject, data).mine;
        assert.deepEqual(mine(parseFile(subject, result.text ?? '')), mine(parseFile(subject, FIXTURES[subject.id])));
        // Disabling everything later must not delete the user's "mine".
        assert.equal(apply(subject, result.text, result.owned, {}).text, FIXTURES[subject.id]);
      });

      it('leaves an entry the user edited, reports it, and gives it up on removal', () => {
        const one = { 'aibox-git': DESIRED['aibox-git'] ?? assert.fail('fixture') };
        const first = apply(subject, FIXTURES[subject.id], NOTHING_OWNED, one);
        const edited = (first.text ?? '').replace('/home/dev/project', '/home/dev/other');
        assert.notEqual(edited, first.text);
        const again = apply(subject, edited, first.owned, one);
        assert.equal(again.text, edited);
        assert.equal(again.entries[0]?.status, 'changed-by-you');
        assert.match(again.entries[0]?.message ?? '', /changed by you, left alone/);
        const removed = apply(subject, edited, again.owned, {});
        assert.equal(removed.text, edited, 'the edited entry stays');
        assert.deepEqual(removed.owned.entries, {});
      });

      it('writes an entry again that the agent removed, and keeps owning one it reformatted', () => {
        const one = { 'aibox-git': DESIRED['aibox-git'] ?? assert.fail('fixture') };
        const first = apply(subject, FIXTURES[subject.id], NOTHING_OWNED, one);
        const restored = apply(subject, FIXTURES[subject.id], first.owned, one);
        assert.equal(restored.text, first.text);
        assert.equal(restored.entries[0]?.status, 'added');
        if (formatOf(subject) !== 'json') return;
        // Claude Code rewrites ~/.claude.json with JSON.stringify: same values, other bytes.
        const rewritten = `${JSON.stringify(parseFile(subject, first.text ?? ''), null, 2)}\n`;
        assert.equal(apply(subject, rewritten, first.owned, one).text, rewritten);
        const removed = apply(subject, rewritten, first.owned, {});
        assert.equal(serversIn(subject, parseFile(subject, removed.text ?? ''))['aibox-git'], undefined);
      });

      it('updates its own entry in place when the pack changes', () => {
        const git = DESIRED['aibox-git'] ?? assert.fail('fixture');
        const github = DESIRED['aibox-github'] ?? git;
        const first = apply(subject, FIXTURES[subject.id], NOTHING_OWNED, { 'aibox-git': git, 'aibox-github': github });
        const changed = { ...git, args: ['--repository', '/home/dev/elsewhere'] };
        const updated = apply(subject, first.text, first.owned, { 'aibox-git': changed, 'aibox-github': github });
        assert.equal(updated.entries[0]?.status, 'updated');
        const text = updated.text ?? '';
        assert.ok(text.includes('/home/dev/elsewhere') && !text.includes('/home/dev/project'));
        assert.ok(text.indexOf('aibox-git') < text.indexOf('aibox-github'), 'the entry keeps its place');
        assert.equal(apply(subject, text, updated.owned, {}).text, FIXTURES[subject.id]);
      });
    });
  }
});

describe('MCP adapters: secrets are never values', () => {
  const REFERENCE = /^(Bearer )?(\$\{[A-Z_]+\}|\$\{env:[A-Z_]+\}|\{env:[A-Z_]+\})$/;

  it('the canonical schema has no place for a secret value', () => {
    const literalEnv = { version: 1, servers: { x: { transport: 'stdio', command: 'x', env: { TOKEN: 'ghp_secret' } } } };
    const literalHeader = { version: 1, servers: { x: { transport: 'http', url: 'https://x.example.com', headers: { Authorization: 'Bearer abc' } } } };
    const extraKey = { version: 1, servers: { x: { transport: 'stdio', command: 'x', env: { TOKEN: { from: 'env', value: 'abc' } } } } };
    const tokenInPrefix = { version: 1, servers: { x: { transport: 'http', url: 'https://x.example.com', headers: { Authorization: { from: 'env', name: 'T', prefix: 'Bearer ghp_abc ' } } } } };
    for (const config of [literalEnv, literalHeader, extraKey, tokenInPrefix]) assert.equal(McpConfig.safeParse(config).success, false, JSON.stringify(config));
  });

  for (const subject of AGENTS) {
    it(`${subject.id}: env and headers hold only references; credential-helper servers go through the wrapper`, () => {
      const text = apply(subject, undefined, NOTHING_OWNED, DESIRED).text ?? '';
      const servers = serversIn(subject, parseFile(subject, text));
      for (const [name, server] of Object.entries(servers)) {
        for (const field of ['env', 'environment', 'envs', 'headers']) {
          const record = isObject(server) ? server[field] : undefined;
          for (const value of Object.values(isObject(record) ? record : {})) assert.match(String(value), REFERENCE, `${subject.id} ${name}.${field}: ${JSON.stringify(server)}`);
        }
      }
      assert.ok(!text.includes('VAULT_TOKEN') && !text.includes('vault-mcp'), `${subject.id}: the credential-helper server is the wrapper`);
      assert.ok(text.includes('aibox') && text.includes('aibox-vault'));
    });
  }

  it('an http server whose secret the agent cannot reference is left out, with the reason', () => {
    const result = apply(agent('zed'), undefined, NOTHING_OWNED, DESIRED);
    const report = result.entries.find((entry) => entry.name === 'aibox-search');
    assert.equal(report?.status, 'left-out');
    assert.match(report?.message ?? '', /cannot read a header from the environment/);
    assert.ok(!(result.text ?? '').includes('search.example.com'));
    const desktop = apply(agent('claude-desktop'), undefined, NOTHING_OWNED, DESIRED);
    assert.equal(desktop.entries.find((entry) => entry.name === 'aibox-docs')?.status, 'left-out');
  });
});

describe('MCP adapters: Codex', () => {
  it('writes only the keys Codex accepts (a strict TOML parse of every server)', () => {
    const text = apply(agent('codex'), FIXTURES.codex, NOTHING_OWNED, DESIRED).text ?? '';
    const servers = parseToml(text).mcp_servers;
    assert.ok(servers && typeof servers === 'object');
    for (const [name, server] of Object.entries(servers)) {
      if (!name.startsWith('aibox-')) continue;
      const keys = Object.keys(server as object);
      assert.ok(ALLOWED_CODEX_KEYS.some((allowed) => keys.every((key) => allowed.has(key))), `${name}: ${keys.join(', ')}`);
    }
    assert.match(text, /\[mcp_servers\.aibox-search\]\nurl = "https:\/\/search\.example\.com\/mcp"\nbearer_token_env_var = "SEARCH_TOKEN"/);
    assert.match(text, /\[mcp_servers\.aibox-vault\]\ncommand = "aibox"\nargs = \["mcp", "run", "aibox-vault"\]/);
  });

  it('sees a same-named server however it is spelled, and refuses to take it over', () => {
    const spellings = [
      'mcp_servers.aibox-git.command = "mine"\n',
      '[mcp_servers]\naibox-git = { command = "mine" }\n',
      '[mcp_servers."aibox-git"]\ncommand = "mine"\n',
    ];
    for (const text of spellings) {
      const result = apply(agent('codex'), text, NOTHING_OWNED, DESIRED);
      assert.equal(result.entries.find((entry) => entry.name === 'aibox-git')?.status, 'conflict', text);
      assert.deepEqual(serversIn(agent('codex'), parseFile(agent('codex'), result.text ?? ''))['aibox-git'], { command: 'mine' });
      assert.ok((result.text ?? '').startsWith(text), 'the user part is untouched');
    }
  });

  it('refuses, and writes nothing, when its table would land in an inline mcp_servers table', () => {
    const result = agent('codex').adapter.apply('mcp_servers = { mine = { command = "x" } }\n', NOTHING_OWNED, DESIRED, '/c.toml');
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.error.message, /without touching your content/);
  });

  it('edits only its own table lines among the user tables', () => {
    const one = { 'aibox-git': DESIRED['aibox-git'] ?? assert.fail('fixture') };
    const first = apply(agent('codex'), FIXTURES.codex, NOTHING_OWNED, one);
    const userAfter = `${first.text ?? ''}\n[profiles.fast]\nmodel = "o4-mini"\n`;
    const removed = apply(agent('codex'), userAfter, first.owned, {});
    assert.equal(removed.text, `${FIXTURES.codex}\n[profiles.fast]\nmodel = "o4-mini"\n`);
  });
});

describe('MCP adapters: shapes', () => {
  it('writes each agent its own key names', () => {
    const expectations: [string, RegExp][] = [
      ['claude-code', /"aibox-github": \{\n {6}"type": "stdio",\n {6}"command": "github-mcp-server",[\s\S]*"GITHUB_PERSONAL_ACCESS_TOKEN": "\$\{GH_TOKEN\}"/],
      ['gemini', /"httpUrl": "https:\/\/docs\.example\.com\/mcp"/],
      ['cursor', /"Authorization": "Bearer \$\{env:SEARCH_TOKEN\}"/],
      ['vscode', /"servers": \{/],
      ['windsurf', /"serverUrl": "https:\/\/search\.example\.com\/mcp"/],
      ['zed', /"context_servers": \{\n {4}"aibox-git": \{\n {6}"source": "custom"/],
      ['opencode', /"command": \[\n {8}"github-mcp-server",\n {8}"stdio"\n {6}\],\n {6}"environment": \{\n {8}"GITHUB_PERSONAL_ACCESS_TOKEN": "\{env:GH_TOKEN\}"/],
      ['goose', /extensions:\n {2}aibox-git:\n {4}type: stdio\n {4}enabled: true\n {4}name: aibox-git/],
      ['continue', /mcpServers:\n {2}- name: aibox-git\n {4}type: stdio\n {4}command: mcp-server-git/],
    ];
    for (const [id, pattern] of expectations) {
      const subject = AGENTS.find((candidate) => candidate.id === id) ?? assert.fail(id);
      assert.match(apply(subject, undefined, NOTHING_OWNED, DESIRED).text ?? '', pattern, id);
    }
  });

  it('keeps a one-line JSON file on one line, and an empty container as it was', () => {
    const cursor = agent('cursor');
    for (const original of ['{"mcpServers":{}}', '{\n  "mcpServers": {}\n}\n', '{"a":1}', '{}']) {
      const first = apply(cursor, original, NOTHING_OWNED, DESIRED);
      if (!original.includes('\n')) assert.ok(!(first.text ?? '').includes('\n'), first.text);
      assert.equal(apply(cursor, first.text, first.owned, {}).text, original);
    }
  });

  it('YAML: fills and restores an empty flow container, keeps a container in the middle', () => {
    const goose = agent('goose');
    for (const original of ['extensions: {}\n', 'a: 1\nextensions: {} # none yet\nb: 2\n', 'extensions:\n  mine:\n    type: builtin\n    name: mine\nlast: true']) {
      const first = apply(goose, original, NOTHING_OWNED, DESIRED);
      assert.equal(apply(goose, first.text, first.owned, DESIRED).text, first.text);
      assert.equal(apply(goose, first.text, first.owned, {}).text, original);
    }
    const cont = agent('continue');
    const list = 'name: x\nversion: 1.0.0\nmcpServers: []\nmodels: []\n';
    const first = apply(cont, list, NOTHING_OWNED, DESIRED);
    assert.equal(apply(cont, first.text, first.owned, {}).text, list);
  });

  it('YAML: refuses a flow-style container instead of rewriting it', () => {
    const result = agent('goose').adapter.apply('extensions: {mine: {type: builtin}}\n', NOTHING_OWNED, DESIRED, '/g.yaml');
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.error.message, /flow style.*aibox left it unchanged/);
  });

  it('refuses a file whose container is not what the agent expects', () => {
    for (const [id, text] of [['claude-code', '{"mcpServers": []}'], ['continue', 'mcpServers:\n  a: 1\n'], ['codex', 'mcp_servers = 1\n']] as const) {
      const result = agent(id).adapter.apply(text, NOTHING_OWNED, DESIRED, '/f');
      assert.equal(result.ok ? 'ok' : result.error.code, 'INVALID_FILE', id);
    }
  });
});

/** A seeded linear congruential generator, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] ?? assert.fail('empty');
}

/** Up to `most` different items, in random order. */
function some<T>(random: () => number, items: readonly T[], most: number): T[] {
  return [...new Set(Array.from({ length: Math.floor(random() * (most + 1)) }, () => pick(random, items)))];
}

/** A random JSONC file: indentation, comments, trailing commas, where and how the container stands. */
function randomJson(random: () => number, key: string): string {
  const unit = pick(random, ['  ', '    ', '\t']);
  const comma = random() < 0.3 ? ',' : '';
  const values = ['"dark"', '1', '[1, 2]', '{ "a": true }', '{\n' + unit + unit + '"deep": null\n' + unit + '}'];
  const container = pick(random, ['absent', '{}', '{ /* none yet */ }', 'mine']);
  const properties = some(random, values, 3).map((value, index) => `"user${index}": ${value}`);
  if (container === 'mine') properties.splice(Math.floor(random() * (properties.length + 1)), 0, `"${key}": {\n${unit}${unit}"mine": { "command": "x" }${comma}\n${unit}}`);
  else if (container !== 'absent') properties.splice(Math.floor(random() * (properties.length + 1)), 0, `"${key}": ${container}`);
  const lines = properties.map((property, index) => `${unit}${property}${index < properties.length - 1 ? ',' : comma}${random() < 0.2 ? ' // note' : ''}`);
  if (random() < 0.3) lines.splice(Math.floor(random() * (lines.length + 1)), 0, `${unit}/* block comment */`);
  const text = lines.length === 0 ? '{}' : `{\n${lines.join('\n')}\n}`;
  return (random() < 0.3 ? '// header\n' : '') + text + (random() < 0.7 ? '\n' : '');
}

/** A random YAML file with a map or list container in block style, or none. */
function randomYaml(random: () => number, key: string, list: boolean): string {
  const pieces = some(random, ['a: 1', '# a comment', '', 'seq:\n  - x\n  - y', 'map:\n  k: v  # trailing', 'flow: [1, 2]'], 4);
  const indent = pick(random, ['  ', '    ']);
  const dash = pick(random, ['', indent]);
  const item = list ? `${dash}- name: mine\n${dash}  command: x` : `${indent}mine:\n${indent}${indent}type: builtin`;
  const container = pick(random, ['absent', 'empty', 'mine', 'mine']);
  if (container === 'empty') pieces.splice(Math.floor(random() * (pieces.length + 1)), 0, `${key}: ${list ? '[]' : '{}'}`);
  if (container === 'mine') pieces.splice(Math.floor(random() * (pieces.length + 1)), 0, `${key}:\n${item}`);
  return pieces.join('\n') + (pieces.length > 0 && random() < 0.7 ? '\n' : '');
}

function randomToml(random: () => number): string {
  const top = some(random, ['model = "o4-mini"', '# a comment', '', 'flag = true'], 3);
  const tables = some(random, ['[profiles.fast]\nmodel = "x"', '[mcp_servers.mine]\ncommand = "x" # own', '\n# before a table\n[tui]\nnotifications = true'], 2);
  const text = [...top, ...tables].join('\n');
  return text + (text !== '' && random() < 0.7 ? '\n' : '');
}

describe('MCP adapters: random user files come back byte for byte', () => {
  const cases: [Agent, (random: () => number) => string][] = [
    [agent('vscode'), (random) => randomJson(random, 'servers')],
    [agent('claude-code'), (random) => randomJson(random, 'mcpServers')],
    [agent('goose'), (random) => randomYaml(random, 'extensions', false)],
    [agent('continue'), (random) => randomYaml(random, 'mcpServers', true)],
    [agent('codex'), randomToml],
  ];
  for (const [subject, generate] of cases) {
    it(`${subject.id}: 300 files through apply, apply again, remove some, remove all`, () => {
      for (let seed = 1; seed <= 300; seed++) {
        const random = prng(seed);
        const text = generate(random);
        const original = random() < 0.2 ? text.replace(/\n/g, '\r\n') : text;
        const result = subject.adapter.apply(original, NOTHING_OWNED, DESIRED, 'f');
        if (!result.ok) assert.fail(`seed ${seed}: ${result.error.message}\n${original}`);
        const again = apply(subject, result.text, result.owned, DESIRED);
        assert.equal(again.text, result.text, `seed ${seed}: same bytes twice`);
        const kept = Object.fromEntries(Object.entries(DESIRED).filter(() => random() < 0.5));
        const fewer = apply(subject, result.text, result.owned, kept);
        assert.equal(apply(subject, fewer.text, fewer.owned, {}).text, original, `seed ${seed}: original bytes back\n${original}\n---\n${result.text}`);
      }
    });
  }
});
