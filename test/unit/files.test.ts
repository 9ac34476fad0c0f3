import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { loadConfig } from '../../src/config/store.js';
import { MAX_FILE_BYTES, readRegularFile, writeFileAtomic } from '../../src/core/files.js';
import { resolvePaths } from '../../src/core/paths.js';
import { readYamlFile } from '../../src/core/yaml-file.js';
import { failsWith } from '../helpers/errors.js';

const anything = z.unknown();

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'aibox-files-'));
}

const invalidFile = (pattern: RegExp) => failsWith('INVALID_FILE', pattern);

// A regression would hang on the FIFO or read /dev/zero for long: fail instead.
describe('reading config and policy files', { timeout: 10_000 }, () => {
  it('reads a regular file, through a symlink; absent is undefined', async () => {
    const dir = await scratch();
    await writeFile(join(dir, 'a.yaml'), 'a: 1\n');
    await symlink(join(dir, 'a.yaml'), join(dir, 'link.yaml'));
    assert.equal(await readRegularFile(join(dir, 'link.yaml')), 'a: 1\n');
    assert.equal(await readRegularFile(join(dir, 'absent.yaml')), undefined);
  });

  it('refuses a directory, a FIFO and a device, naming the file', async () => {
    const dir = await scratch();
    await mkdir(join(dir, 'folder.yaml'));
    execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
    await symlink('/dev/zero', join(dir, 'zero.yaml'));
    await assert.rejects(readYamlFile(anything, join(dir, 'folder.yaml')), invalidFile(/folder.yaml is a directory, not a regular file/));
    await assert.rejects(readYamlFile(anything, join(dir, 'fifo.yaml')), invalidFile(/fifo.yaml is a FIFO, not a regular file/));
    await assert.rejects(readYamlFile(anything, join(dir, 'zero.yaml')), invalidFile(/zero.yaml is a device, not a regular file/));
  });

  it('refuses a file over 1 MiB, naming its size and the limit', async () => {
    const dir = await scratch();
    await writeFile(join(dir, 'big.yaml'), `# ${'x'.repeat(MAX_FILE_BYTES)}\n`);
    await assert.rejects(readYamlFile(anything, join(dir, 'big.yaml')), invalidFile(new RegExp(`big.yaml is ${MAX_FILE_BYTES + 3} bytes; aibox reads files of at most ${MAX_FILE_BYTES} bytes`)));
  });

  it('refuses a YAML alias bomb and an alias without its anchor, naming the file', async () => {
    const dir = await scratch();
    const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const name = String.fromCharCode(97 + level);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    await writeFile(join(dir, 'bomb.yaml'), `${levels.join('\n')}\n`);
    await assert.rejects(readYamlFile(anything, join(dir, 'bomb.yaml')), invalidFile(/bomb.yaml is not valid YAML: Excessive alias count/));
    await writeFile(join(dir, 'dangling.yaml'), 'a: *nowhere\n');
    await assert.rejects(readYamlFile(anything, join(dir, 'dangling.yaml')), invalidFile(/dangling.yaml(:\d+)? is not valid YAML/));
  });

  it('the config file goes through the same reader', async () => {
    const home = await scratch();
    const paths = resolvePaths({ HOME: home });
    await mkdir(join(paths.configDir, 'config.yaml'), { recursive: true });
    await assert.rejects(loadConfig(paths), invalidFile(/config.yaml is a directory/));
  });
});

describe('writing files atomically', () => {
  it('gives the file exactly its mode, whatever the umask (a git hook must be executable by the server)', async () => {
    const dir = await scratch();
    const previous = process.umask(0o077);
    try {
      await writeFileAtomic(join(dir, 'hook'), '#!/bin/sh\n', 0o755);
    } finally {
      process.umask(previous);
    }
    assert.equal((await lstat(join(dir, 'hook'))).mode & 0o777, 0o755);
  });

  it('writes through a symlink, or with replaceLink replaces the link and leaves its target alone', async () => {
    const dir = await scratch();
    await writeFile(join(dir, 'target'), 'old\n');
    await symlink(join(dir, 'target'), join(dir, 'through'));
    await writeFileAtomic(join(dir, 'through'), 'new\n');
    assert.equal(await readlink(join(dir, 'through')), join(dir, 'target'));
    assert.equal(await readFile(join(dir, 'target'), 'utf8'), 'new\n');
    await symlink(join(dir, 'target'), join(dir, 'replaced'));
    await writeFileAtomic(join(dir, 'replaced'), 'mine\n', 0o644, { replaceLink: true });
    assert.ok((await lstat(join(dir, 'replaced'))).isFile());
    assert.equal(await readFile(join(dir, 'target'), 'utf8'), 'new\n');
  });
});
