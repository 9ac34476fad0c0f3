import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { aibox, host, testUser, type TestUser } from '../helpers/cli.js';

/** A real keyring of Debian keys that sign no current release: debootstrap must refuse the mirror with it. */
const FOREIGN_KEYRING = '/usr/share/keyrings/debian-archive-removed-keys.gpg';

function rootfsImages(): string {
  return host('podman', ['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=localhost/aibox-rootfs']).stdout;
}

describe('the base image trusts only a mirror its keyring verifies', () => {
  let user: TestUser;
  let missing: string;
  before(async () => {
    user = await testUser('e2e-trust');
    missing = join(user.home, 'no-such-keyring.gpg');
  });
  after(async () => {
    await rm(user.home, { recursive: true, force: true });
  });

  it('image build refuses a missing keyring before anything runs', async () => {
    const images = rootfsImages();
    assert.equal((await aibox(user, ['config', 'set', 'image.keyring', missing])).code, 0);
    const result = await aibox(user, ['image', 'build', '--force']);
    assert.equal(result.code, 4);
    assert.equal(
      result.stderr,
      `error: missing on this host: ${missing} (setting image.keyring, the keyring that signs the Debian mirror)\nhint: install: sudo apt-get install -y debian-archive-keyring\n`,
    );
    assert.equal(rootfsImages(), images, 'no base image was built');
  });

  it('doctor reports the missing keyring with the fix', async () => {
    const result = await aibox(user, ['doctor']);
    assert.notEqual(result.code, 0);
    assert.match(result.stdout, new RegExp(`^FAIL\\s+keyring\\s+Debian archive keyring ${missing} \\(setting image.keyring\\) does not exist\\n\\s+fix: apt-get install -y debian-archive-keyring`, 'm'));
  });

  it('image build fails on the mirror signature with debootstrap\'s error, quickly', async () => {
    const images = rootfsImages();
    assert.equal((await aibox(user, ['config', 'set', 'image.keyring', FOREIGN_KEYRING])).code, 0);
    const started = Date.now();
    const result = await aibox(user, ['image', 'build', '--force']);
    assert.equal(result.code, 6, result.stderr);
    assert.match(result.stderr, /\nerror: debootstrap of bookworm from \S+ failed: Release signed by unknown key \(key id [0-9A-F]+\)\nhint: check the mirror/);
    assert.ok(Date.now() - started < 60_000, 'debootstrap stops after the Release file');
    assert.equal(rootfsImages(), images, 'no base image was imported');
  });
});
