import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { extractLayer } from '../../src/packs/extract.js';
import { sha256Digest } from '../../src/packs/registry.js';
import { TarGate } from '../../src/packs/tar-gate.js';
import { failsWith as fails } from '../helpers/errors.js';
import { tarball, type Entry } from '../helpers/tarball.js';

/** Feeds `bytes` in chunks of `size`; returns what the gate let through and its error, if any. */
function gate(bytes: Buffer, size = 512): { passed: Buffer; error?: unknown } {
  const gate = new TarGate('pack test:1.0.0');
  const passed: Buffer[] = [];
  try {
    for (let at = 0; at < bytes.length; at += size) passed.push(...gate.push(bytes.subarray(at, at + size)));
    gate.end();
    return { passed: Buffer.concat(passed) };
  } catch (error) {
    return { passed: Buffer.concat(passed), error };
  }
}

const good: Entry[] = [
  [{ name: './', type: 'directory', mode: 0o755 }],
  [{ name: './bin/tool', type: 'file', mode: 0o755 }, '#!/bin/sh\necho tool\n'],
  [{ name: `./lib/${'long-name-'.repeat(20)}.so`, type: 'file', mode: 0o644 }, 'x'.repeat(1000)],
  [{ name: './lib/current', type: 'symlink', linkname: `${'long-name-'.repeat(20)}.so`, mode: 0o777 }],
];

describe('TarGate', () => {
  it('passes a safe archive through unchanged, however it is chunked (ustar, pax long names)', async () => {
    const archive = await tarball(good);
    for (const size of [1, 100, 512, 4096, archive.length]) assert.deepEqual(gate(archive, size), { passed: archive }, `chunks of ${size}`);
  });

  it('passes what GNU tar writes (aibox pack build: --format=gnu, long names as L headers)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-gate-'));
    await mkdir(join(dir, 'tree', 'a'.repeat(120)), { recursive: true });
    await writeFile(join(dir, 'tree', 'a'.repeat(120), 'b'.repeat(120)), 'deep');
    await symlink(`${'a'.repeat(120)}/${'b'.repeat(120)}`, join(dir, 'tree', 'link'));
    const archive = execFileSync('tar', ['--sort=name', '--format=gnu', '-C', join(dir, 'tree'), '-cf', '-', '.']);
    assert.deepEqual(gate(archive, 700), { passed: archive });
  });

  const refusals: [string, Entry[], RegExp][] = [
    ['a path with ..', [[{ name: '../x', type: 'file', mode: 0o644 }, 'x']], /\.\.\/x: a path with "\.\."/],
    ['an absolute path', [[{ name: '/etc/x', type: 'file', mode: 0o644 }, 'x']], /\/etc\/x: an absolute path/],
    ['a link out of the pack', [[{ name: 'etc', type: 'symlink', linkname: '../../etc', mode: 0o777 }]], /outside the pack/],
    ['a device', [[{ name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }]], /character-device entry/],
    ['a setuid file', [[{ name: 'su', type: 'file', mode: 0o4755 }, 'x']], /setuid/],
    ['a path given twice', [[{ name: 'a', type: 'file', mode: 0o644 }, 'x'], [{ name: 'a', type: 'file', mode: 0o644 }, 'y']], /a second entry/],
    ['a path through the archive\'s link', [[{ name: 'lib', type: 'symlink', linkname: '.', mode: 0o777 }], [{ name: 'lib/x', type: 'file', mode: 0o644 }, 'x']], /through the link lib/],
    ['a long (pax) name with ..', [[{ name: `${'d/'.repeat(60)}../../${'../'.repeat(60)}x`, type: 'file', mode: 0o644 }, 'x']], /a path with "\.\."/],
    ['a FIFO', [[{ name: 'fifo', type: 'fifo', mode: 0o644 }]], /fifo entry/],
  ];
  for (const [what, entries, problem] of refusals) {
    it(`refuses ${what} before tar sees a byte of its header`, async () => {
      const before = await tarball([[{ name: './ok', type: 'file', mode: 0o644 }, 'fine']]);
      const archive = await tarball([[{ name: './ok', type: 'file', mode: 0o644 }, 'fine'], ...entries]);
      const okEntry = before.length - 1024; // without the end-of-archive blocks
      const result = gate(archive);
      assert.ok(result.error, 'refused');
      fails('INVALID_FILE', new RegExp(`^pack test:1\\.0\\.0 is refused: its archive holds .*${problem.source}`))(result.error);
      assert.ok(result.passed.length <= okEntry + (entries.length > 1 ? 1024 : 0), `only the entries before it passed (${result.passed.length} bytes)`);
    });
  }

  it('refuses a pax header that renames an innocent entry to a path outside', () => {
    const result = gate(paxArchive({ path: '../../etc/cron.d/x' }));
    fails('INVALID_FILE', /\.\.\/\.\.\/etc\/cron\.d\/x: a path with/)(result.error);
    assert.equal(result.passed.length, 0, 'neither the pax header nor the entry passed');
  });

  it('refuses what it cannot read the way tar would: a bad checksum, data after the end, a cut archive, sparse files', async () => {
    const archive = await tarball(good);
    const damaged = Buffer.from(archive);
    damaged[0] = damaged[0]! ^ 1;
    fails('INVALID_FILE', /bad checksum/)(gate(damaged).error);
    fails('INVALID_FILE', /data after the end/)(gate(Buffer.concat([archive, await tarball([[{ name: 'late', type: 'file', mode: 0o644 }, 'x']])])).error);
    fails('INVALID_FILE', /cut short/)(gate(archive.subarray(0, 1000)).error);
    const sparse = await tarball([[{ name: 'sparse', type: 'file', mode: 0o644 }, 'x']]);
    sparse[156] = 'S'.charCodeAt(0);
    rechecksum(sparse);
    fails('INVALID_FILE', /type "S" entry/)(gate(sparse).error);
  });
});

describe('extractLayer', () => {
  /** A zstd layer of `entries`, written to a file as a download or the cache would leave it. */
  async function layer(entries: Entry[]): Promise<{ file: string; digest: string; size: number }> {
    const bytes = execFileSync('zstd', ['-q', '-c'], { input: await tarball(entries) });
    return layerFile(bytes);
  }
  async function layerFile(bytes: Buffer): Promise<{ file: string; digest: string; size: number }> {
    const file = join(await mkdtemp(join(tmpdir(), 'aibox-layer-')), 'layer.tar.zst');
    await writeFile(file, bytes);
    return { file, digest: sha256Digest(bytes), size: bytes.length };
  }
  const options = (into: string) => ({ compression: 'zstd' as const, into, what: 'pack test', source: { location: 'test', what: 'layer' } });

  it('reads headers only, seeking over file data larger than its reads, and extracts every byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    const big = 'x'.repeat(300_000);
    const built = await layer([[{ name: './a', type: 'file', mode: 0o644 }, big], [{ name: './b', type: 'file', mode: 0o644 }, 'after'], [{ name: './c', type: 'file', mode: 0o644 }, big]]);
    await extractLayer({ ...built, ...options(dir) });
    assert.deepEqual([await readFile(join(dir, 'a'), 'utf8'), await readFile(join(dir, 'b'), 'utf8'), await readFile(join(dir, 'c'), 'utf8')], [big, 'after', big]);
    assert.ok(!existsSync(`${dir}.tar`));
  });

  it('refuses a layer file that does not match its digest or size, with nothing of it extracted', async () => {
    const built = await layer(good);
    const damaged = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    await assert.rejects(extractLayer({ ...built, digest: sha256Digest(Buffer.from('other')), ...options(damaged) }), fails('INVALID_FILE', /^registry test: layer does not match its digest sha256:\w+ \(its content is sha256:/));
    await assert.rejects(extractLayer({ ...built, size: built.size + 1, ...options(damaged) }), fails('INVALID_FILE', new RegExp(`^registry test: layer has ${built.size} bytes; expected ${built.size + 1}`)));
    assert.deepEqual(await readdir(damaged), []);
    assert.ok(!existsSync(`${damaged}.tar`));
    // Garbage that is not zstd at all: named by its digest, not by zstd's complaint.
    const garbage = await layerFile(Buffer.from('not a layer'));
    await assert.rejects(extractLayer({ ...garbage, digest: sha256Digest(Buffer.from('other')), ...options(damaged) }), fails('INVALID_FILE', /does not match its digest/));
    await assert.rejects(extractLayer({ ...garbage, ...options(damaged) }), fails('INVALID_FILE', /^pack test: its layer is not a readable zstd tar archive/));
  });

  it('reports an unsafe entry by name, with nothing of it extracted', async () => {
    const built = await layer(good);
    const evil = await layer([[{ name: './ok', type: 'file', mode: 0o644 }, 'fine'], [{ name: './dev-null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }]]);
    const into = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    await assert.rejects(extractLayer({ ...evil, ...options(into) }), fails('INVALID_FILE', /^pack test is refused: its archive holds \.\/dev-null: a character-device entry/));
    assert.deepEqual(await readdir(into), [], 'tar ran only after every header passed: not even ./ok');
    assert.ok(!existsSync(`${into}.tar`), 'the decompressed archive beside it is gone');
    await assert.rejects(extractLayer({ ...built, ...options(join(into, 'absent')) }), fails('PROCESS_FAILED', /^pack test: extracting it into \S+absent failed \(.*tar/));
    const cut = (await tarball([[{ name: './big', type: 'file', mode: 0o644 }, 'b'.repeat(200_000)]])).subarray(0, 100_000);
    const short = await layerFile(execFileSync('zstd', ['-q', '-c'], { input: cut }));
    await assert.rejects(extractLayer({ ...short, ...options(into) }), fails('INVALID_FILE', /an archive cut short/));
  });
});

/** One pax-headed entry whose own header name is innocent; the pax record overrides it. */
function paxArchive(records: Record<string, string>): Buffer {
  const body = Object.entries(records).map(([key, value]) => {
    const line = ` ${key}=${value}\n`;
    let length = line.length + 1;
    while (String(length).length + line.length !== length) length++;
    return `${length}${line}`;
  }).join('');
  const header = (name: string, flag: string, size: number) => {
    const block = Buffer.alloc(512);
    block.write(name, 0);
    block.write('0000644\0', 100);
    block.write(size.toString(8).padStart(11, '0') + '\0', 124);
    block.write('00000000000\0', 136);
    block.write(flag, 156);
    block.write('ustar\x0000', 257);
    rechecksum(block);
    return block;
  };
  const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
  return Buffer.concat([header('PaxHeader/innocent', 'x', Buffer.byteLength(body)), pad(Buffer.from(body)), header('innocent', '0', 1), pad(Buffer.from('x')), Buffer.alloc(1024)]);
}

function rechecksum(block: Buffer): void {
  block.fill(32, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
}
