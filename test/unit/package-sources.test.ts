import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { debianMirror } from '../../src/config/package-sources.js';

/** An apt folder with these files (relative paths) and contents. */
async function aptDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-apt-'));
  await mkdir(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe('debianMirror', () => {
  it('reads deb822 sources, skipping disabled stanzas, deb-src and other suites', async () => {
    const dir = await aptDir({
      'sources.list.d/debian.sources': [
        'Types: deb\nURIs: http://disabled.example.com/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n',
        'Types: deb-src\nURIs: http://source.example.com/debian\nSuites: bookworm\nComponents: main\n',
        'Types: deb\nURIs: http://mirror.example.com/debian-security\nSuites: bookworm-security\nComponents: main\n',
        'Types: deb\n# a comment\nURIs: http://mirror.example.com/debian/\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
      ].join('\n'),
    });
    assert.equal(await debianMirror('bookworm', dir), 'http://mirror.example.com/debian');
    assert.equal(await debianMirror('bookworm-security', dir), 'http://mirror.example.com/debian-security');
    assert.equal(await debianMirror('trixie', dir), undefined);
  });

  it('reads one-line sources, ignoring comments, options and suites that only end in the name', async () => {
    const dir = await aptDir({
      'sources.list': '# deb http://commented.example.com/debian bookworm main\n',
      'sources.list.d/cloud.list': 'deb [signed-by=/usr/share/keyrings/cloud.gpg] https://cloud.example.com/apt cloud-sdk-bookworm main\n',
      'sources.list.d/debian.list': 'deb-src http://source.example.com/debian bookworm main\ndeb [arch=amd64] http://mirror.example.com/debian bookworm main\n',
    });
    assert.equal(await debianMirror('bookworm', dir), 'http://mirror.example.com/debian');
  });

  it('finds nothing without apt sources', async () => {
    assert.equal(await debianMirror('bookworm', join(tmpdir(), 'aibox-no-such-apt-dir')), undefined);
  });
});
