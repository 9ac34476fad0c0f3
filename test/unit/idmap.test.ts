import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { alignVolumeOwners, rangeOf, SANDBOX_ID_BASE, shiftId, shiftTree } from '../../src/sandbox/idmap.js';
import { createOutput } from '../../src/core/output.js';

const B = SANDBOX_ID_BASE;
const asRoot = process.getuid?.() === 0;

describe('sandbox user namespace ids', () => {
  it('moves ids of one range into the other and leaves the rest', () => {
    assert.equal(shiftId(1000, 0, B), B + 1000);
    assert.equal(shiftId(0, 0, B), B);
    assert.equal(shiftId(B + 1000, B, 0), 1000);
    assert.equal(shiftId(0, B, 0), 0, 'a host root file in a mapped volume stays root');
    assert.equal(shiftId(70000, 0, B), 70000, 'outside the 65536 ids');
  });
  it('tells a volume\'s range from its folder\'s owner, and refuses to guess otherwise', () => {
    assert.equal(rangeOf(1000), 0);
    assert.equal(rangeOf(B), B);
    assert.equal(rangeOf(B + 65535), B);
    assert.equal(rangeOf(B + 65536), undefined);
    assert.equal(rangeOf(500_000), undefined);
  });
  it('shifts a whole tree, never through a link, and aligns only a volume in the other range', { skip: !asRoot && 'needs root (lchown)' }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-idmap-'));
    try {
      const volume = join(dir, 'home');
      await mkdir(join(volume, 'a', 'b'), { recursive: true });
      await writeFile(join(volume, 'a', 'b', 'f'), 'x');
      const outside = join(dir, 'outside');
      await writeFile(outside, 'host file');
      await symlink(outside, join(volume, 'link'));
      const { lchown } = await import('node:fs/promises');
      for (const path of [volume, join(volume, 'a'), join(volume, 'a', 'b'), join(volume, 'a', 'b', 'f'), join(volume, 'link')]) await lchown(path, 1000, 1000);

      const err = { isTTY: false, text: '', write(chunk: string) { this.text += chunk; return true; } };
      const out = { output: createOutput(false, { isTTY: false, write: () => true }, err), text: () => err.text };
      await alignVolumeOwners(out.output, new Map([['proj-home', volume]]), B);
      for (const path of [volume, join(volume, 'a', 'b', 'f'), join(volume, 'link')]) {
        const info = await lstat(path);
        assert.deepEqual([info.uid, info.gid], [B + 1000, B + 1000], path);
      }
      assert.equal((await lstat(outside)).uid, 0, 'the link\'s target is not followed');
      assert.match(out.text(), /moving volume proj-home into the sandbox's user namespace/);

      // Aligned already: nothing is walked (a file changed behind aibox's back stays as it is).
      await lchown(join(volume, 'a', 'b', 'f'), 1000, 1000);
      await alignVolumeOwners(out.output, new Map([['proj-home', volume]]), B);
      assert.equal((await lstat(join(volume, 'a', 'b', 'f'))).uid, 1000);

      // Back (an upgrade rolled back to a container without the namespace).
      assert.equal(await shiftTree(volume, B, 0), 4);
      assert.equal((await lstat(volume)).uid, 1000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
