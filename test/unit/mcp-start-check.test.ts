import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { regenerateAtStartScript } from '../../src/mcp/host.js';

const shells = ['bash', 'zsh'].filter((shell) => spawnSync(shell, ['-c', 'true']).status === 0);

describe('the MCP check of aibox start', () => {
  for (const shell of shells) {
    it(`regenerates only when an input changed (${shell})`, async () => {
      const root = await mkdtemp(join(tmpdir(), 'aibox-mcp-start-'));
      try {
        const home = join(root, 'home');
        const bin = join(root, 'bin');
        const bundle = join(root, 'aibox.mjs');
        const calls = join(root, 'calls');
        await mkdir(join(home, '.config', 'aibox'), { recursive: true });
        await mkdir(bin);
        await writeFile(bundle, 'v1');
        // `aibox mcp apply` as the sync leaves it: its inputs listed, a report on stdout; exit $FAKE_EXIT.
        await writeFile(
          join(bin, 'aibox'),
          `#!/bin/sh\necho "$*" >> ${calls}\ncat >/dev/null\nmkdir -p "$HOME/.local/state/aibox"\nprintf '%s\\n' "$HOME/.config/aibox/mcp.json" "$HOME/.claude.json" "$HOME/.cursor" > "$HOME/.local/state/aibox/mcp-sync.inputs"\necho '{"servers":[],"agents":[]}'\nexit \${FAKE_EXIT:-0}\n`,
        );
        await chmod(join(bin, 'aibox'), 0o755);
        const check = (env: Record<string, string> = {}) => {
          const before = spawnSync('sh', ['-c', `cat ${calls} 2>/dev/null | wc -l`], { encoding: 'utf8' }).stdout.trim();
          const result = spawnSync(shell, ['-c', regenerateAtStartScript(bundle)], { input: '{}', encoding: 'utf8', env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: home, ...env } });
          const after = spawnSync('sh', ['-c', `cat ${calls} 2>/dev/null | wc -l`], { encoding: 'utf8' }).stdout.trim();
          return { ran: before !== after, code: result.status, stdout: result.stdout };
        };

        assert.deepEqual(check(), { ran: false, code: 0, stdout: '' }, 'no server was ever enabled: nothing to do');
        await writeFile(join(home, '.config', 'aibox', 'mcp.json'), '{}');
        assert.deepEqual(check(), { ran: true, code: 0, stdout: '{"servers":[],"agents":[]}\n' }, 'first start: no fingerprint yet');
        assert.equal((await readFile(calls, 'utf8')).trim(), 'mcp apply --json');
        assert.deepEqual(check(), { ran: false, code: 0, stdout: '' }, 'nothing changed');
        await writeFile(join(home, '.claude.json'), '{"mcpServers": {}}');
        assert.equal(check().ran, true, 'an agent rewrote its file');
        assert.equal(check().ran, false);
        await mkdir(join(home, '.cursor'));
        assert.equal(check().ran, true, 'an agent was installed');
        assert.equal(check().ran, false);
        assert.equal(check({ CODEX_HOME: join(home, 'codex') }).ran, true, 'the environment that places the files changed');
        await appendFile(bundle, ' v2');
        assert.equal(check({ CODEX_HOME: join(home, 'codex') }).ran, true, 'a new aibox');
        await writeFile(join(home, '.claude.json'), '{}');
        assert.equal(check({ FAKE_EXIT: '3' }).code, 3, 'a failed apply is reported with its exit code');
        assert.equal(check().ran, true, 'and no fingerprint is kept after it');
        assert.equal(check().ran, false);
        const sums = join(home, '.local', 'state', 'aibox', 'mcp-sync.sum');
        await writeFile(sums, `not a checksum line\n${(await readFile(sums, 'utf8')).split('\n').at(-2) ?? ''}\n`);
        assert.equal(check().ran, true, 'a damaged record of the sums is no record');
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  }
});
