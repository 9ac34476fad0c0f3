import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { extractLayer } from '../../src/packs/extract.js';
import { sha256Digest, verifiedBytes } from '../../src/packs/registry.js';
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
  async function layer(entries: Entry[]): Promise<{ bytes: Buffer; digest: string }> {
    const bytes = execFileSync('zstd', ['-q', '-c'], { input: await tarball(entries) });
    return { bytes, digest: sha256Digest(bytes) };
  }
  const source = (bytes: Buffer, digest: string) => verifiedBytes('test', 'layer', (async function* () {
    yield bytes.subarray(0, 100);
    yield bytes.subarray(100);
  })(), digest);

  it('extracts a verified layer in one pass and keeps a copy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    const { bytes, digest } = await layer(good);
    await extractLayer({ bytes: source(bytes, digest), compression: 'zstd', into: dir, what: 'pack test', copyTo: join(dir, '..', `${digest.slice(7, 19)}.copy`) });
    assert.equal(await readFile(join(dir, 'bin', 'tool'), 'utf8'), '#!/bin/sh\necho tool\n');
    assert.deepEqual(await readFile(join(dir, '..', `${digest.slice(7, 19)}.copy`)), bytes);
  });

  it('reads headers only, seeking over file data larger than its reads, and extracts every byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    const big = 'x'.repeat(300_000);
    const { bytes, digest } = await layer([[{ name: './a', type: 'file', mode: 0o644 }, big], [{ name: './b', type: 'file', mode: 0o644 }, 'after'], [{ name: './c', type: 'file', mode: 0o644 }, big]]);
    await extractLayer({ bytes: source(bytes, digest), compression: 'zstd', into: dir, what: 'pack test' });
    assert.deepEqual([await readFile(join(dir, 'a'), 'utf8'), await readFile(join(dir, 'b'), 'utf8'), await readFile(join(dir, 'c'), 'utf8')], [big, 'after', big]);
    assert.ok(!existsSync(`${dir}.tar`));
    // From a cached layer file: the decompressor reads the file, the bytes are only hashed.
    const file = join(dir, '..', `${digest.slice(7, 19)}.layer`);
    await writeFile(file, bytes);
    const again = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    await extractLayer({ file, bytes: source(bytes, digest), compression: 'zstd', into: again, what: 'pack test' });
    assert.equal(await readFile(join(again, 'b'), 'utf8'), 'after');
    const damaged = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    await assert.rejects(extractLayer({ file, bytes: source(bytes, sha256Digest(Buffer.from('other'))), compression: 'zstd', into: damaged, what: 'pack test' }), fails('INVALID_FILE', /does not match its digest/));
    assert.deepEqual(await readdir(damaged), []);
  });

  it('reports a digest mismatch as such, and an unsafe entry by name, with nothing of it extracted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    const { bytes } = await layer(good);
    await assert.rejects(extractLayer({ bytes: source(bytes, sha256Digest(Buffer.from('other'))), compression: 'zstd', into: dir, what: 'pack test' }), fails('INVALID_FILE', /layer does not match its digest/));
    const evil = await layer([[{ name: './ok', type: 'file', mode: 0o644 }, 'fine'], [{ name: './dev-null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 }]]);
    const into = await mkdtemp(join(tmpdir(), 'aibox-extract-'));
    await assert.rejects(extractLayer({ bytes: source(evil.bytes, evil.digest), compression: 'zstd', into, what: 'pack test' }), fails('INVALID_FILE', /^pack test is refused: its archive holds \.\/dev-null: a character-device entry/));
    assert.deepEqual(await readdir(into), [], 'tar ran only after every header passed: not even ./ok');
    assert.ok(!existsSync(`${into}.tar`), 'the decompressed archive beside it is gone');
    await assert.rejects(extractLayer({ bytes: source(bytes, sha256Digest(bytes)), compression: 'zstd', into: join(into, 'absent'), what: 'pack test' }), fails('PROCESS_FAILED', /^pack test: extracting it into \S+absent failed \(.*tar/));
    const cut = (await tarball([[{ name: './big', type: 'file', mode: 0o644 }, 'b'.repeat(200_000)]])).subarray(0, 100_000);
    const short = execFileSync('zstd', ['-q', '-c'], { input: cut });
    await assert.rejects(extractLayer({ bytes: source(short, sha256Digest(short)), compression: 'zstd', into, what: 'pack test' }), fails('INVALID_FILE', /an archive cut short/));
    const garbage = Buffer.from('not zstd at all');
    await assert.rejects(extractLayer({ bytes: source(garbage, sha256Digest(garbage)), compression: 'zstd', into, what: 'pack test' }), fails('INVALID_FILE', /^pack test: its layer is not a readable zstd tar archive/));
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
