import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { endMarker, parseBlocks, removeBlock, startMarker, upsertBlock } from '../../src/ssh/config-block.js';
import { removeManagedBlock, writeManagedBlock } from '../../src/ssh/user-config.js';

/** Small deterministic PRNG so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LINES = [
  'Host github.com',
  '  User git',
  '\tIdentityFile ~/.ssh/id_ed25519',
  'Include ~/.ssh/config.d/*',
  'Include /etc/ssh/ssh_config.d/*.conf',
  'Match host *.corp exec "test -f /tmp/x"',
  '# a comment',
  '   # indented comment  ',
  '',
  '   ',
  'Host *',
  '    ServerAliveInterval 60',
  'User=bob',
  'Host aibox-lookalike',
  '# ------------ not a marker',
  'ProxyJump   bastion   ',
  'Hostname\t10.0.0.1',
];

function randomConfig(random: () => number): string {
  const eol = random() < 0.3 ? '\r\n' : '\n';
  const count = Math.floor(random() * 12);
  const lines = Array.from({ length: count }, () => LINES[Math.floor(random() * LINES.length)] ?? '');
  const trailing = random() < 0.5 ? eol : '';
  return lines.join(eol) + (count > 0 ? trailing : '');
}

const BODY = ['Host box', '  HostName 127.0.0.1', '  Port 2222'];
const BODY2 = ['Host box', '  HostName 127.0.0.1', '  Port 2300'];

describe('ssh config managed block', () => {
  it('keeps every byte outside the block across add, update and remove (random configs)', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const random = prng(seed);
      const original = randomConfig(random);
      const added = upsertBlock(original, 'box', BODY, 'cfg');
      assert.ok(added.endsWith(original), `seed ${seed}: original kept after the block`);
      const other = upsertBlock(added, 'other', BODY, 'cfg');
      const updated = upsertBlock(other, 'box', BODY2, 'cfg');
      assert.ok(updated.includes('Port 2300') && !updated.includes('Port 2222\n  Port'), `seed ${seed}`);
      assert.equal(parseBlocks(updated, 'cfg').length, 2, `seed ${seed}: one block per instance`);
      const removed = removeBlock(removeBlock(updated, 'box', 'cfg'), 'other', 'cfg');
      assert.equal(removed, original, `seed ${seed}: removing the blocks restores the file byte for byte`);
    }
  });

  it('updates a block in place, keeping its position and the file line ending', () => {
    const original = 'Include ~/.ssh/a\r\nHost x\r\n  User y';
    const added = upsertBlock(original, 'box', BODY, 'cfg');
    assert.ok(added.startsWith(`${startMarker('box')}\r\n`));
    const moved = added.replace(original, '') + original; // user moved nothing: same text
    assert.equal(upsertBlock(moved, 'box', BODY2, 'cfg'), added.replace('Port 2222', 'Port 2300'));
  });

  it('ends the block with Match all so the user top-level options stay global', () => {
    const text = upsertBlock('User bob\n', 'box', BODY, 'cfg');
    const lines = text.split('\n');
    assert.equal(lines[lines.indexOf(endMarker('box')) - 1], 'Match all');
  });

  for (const [label, text] of [
    ['START without END', `${startMarker('box')}\nHost box\n`],
    ['END without START', `Host x\n${endMarker('box')}\n`],
    ['two blocks for one name', `${startMarker('box')}\n${endMarker('box')}\n${startMarker('box')}\n${endMarker('box')}\n`],
    ['nested blocks', `${startMarker('a')}\n${startMarker('b')}\n${endMarker('b')}\n${endMarker('a')}\n`],
    ['END of another block', `${startMarker('a')}\n${endMarker('b')}\n`],
  ] as const) {
    it(`refuses malformed markers: ${label}`, () => {
      assert.throws(() => upsertBlock(text, 'box', BODY, '/x/config'), (error: unknown) => {
        assert.ok(error instanceof AiboxError);
        assert.equal(error.code, 'CONFLICT');
        assert.match(error.message, /malformed aibox block in \/x\/config/);
        return true;
      });
    });
  }
});

describe('writing ~/.ssh/config', () => {
  it('writes atomically with mode 0600 and never writes after a malformed marker', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-sshcfg-'));
    const path = join(dir, 'config');
    const broken = `Host mine\n  User me\n${startMarker('box')}\n`;
    await writeFile(path, broken, { mode: 0o644 });
    await assert.rejects(writeManagedBlock(path, 'box', BODY), /malformed/);
    assert.equal(await readFile(path, 'utf8'), broken);
    await writeFile(path, 'Host mine\n  User me');
    const change = await writeManagedBlock(path, 'box', BODY);
    assert.ok(change.changed);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await writeManagedBlock(path, 'box', BODY)).changed, false, 'idempotent');
    await removeManagedBlock(path, 'box');
    assert.equal(await readFile(path, 'utf8'), 'Host mine\n  User me');
  });

  it('dry run returns a diff and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-sshcfg-'));
    const path = join(dir, 'config');
    await writeFile(path, 'Host mine\n');
    const change = await writeManagedBlock(path, 'box', BODY, true);
    assert.match(change.diff, /^\+Host box$/m);
    assert.equal(await readFile(path, 'utf8'), 'Host mine\n');
  });

  it('writes through a symlinked config (dotfiles managers) instead of replacing the link', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-sshcfg-'));
    const real = join(dir, 'dotfiles-ssh-config');
    await writeFile(real, 'Host mine\n');
    await symlink(real, join(dir, 'config'));
    await writeManagedBlock(join(dir, 'config'), 'box', BODY);
    assert.match(await readFile(real, 'utf8'), /Host box/);
  });
});
