import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/settings.js';
import type { Context } from '../../src/core/context.js';
import { createOutput } from '../../src/core/output.js';
import { resolvePaths } from '../../src/core/paths.js';
import type { Runner } from '../../src/core/runner.js';
import { ensureImage, planImage, resolveMirror } from '../../src/image/build.js';
import { checkKeyring } from '../../src/image/keyring.js';
import { packageRoot } from '../../src/image/package-root.js';

const MIRROR = 'http://mirror.example.com/debian';

/** A temp folder with a bundle, an org CA and a keyring, and settings that use them. */
async function fixture() {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-image-'));
  const bundle = join(dir, 'aibox.mjs');
  const ca = join(dir, 'ca.pem');
  const keyring = join(dir, 'keyring.gpg');
  await writeFile(bundle, 'console.log(1)');
  await writeFile(ca, '-----BEGIN CERTIFICATE-----\n');
  await writeFile(keyring, 'key 1');
  const config = configSchema.parse({ 'image.caBundle': ca, 'image.mirror': MIRROR, 'image.keyring': keyring });
  return { dir, bundle, ca, keyring, config };
}

describe('image plan', () => {
  it('is tagged by a hash of every input, and changes when one changes', async () => {
    const { bundle, ca, keyring, config } = await fixture();
    const root = packageRoot();
    const plan = await planImage(config, root, bundle);
    assert.match(plan.tag, /^localhost\/aibox:[0-9a-f]{16}$/);
    assert.match(plan.base, /^localhost\/aibox-rootfs:bookworm-[0-9a-f]{8}$/);
    assert.equal(plan.debootstrap, true);
    assert.equal((await planImage(config, root, bundle)).tag, plan.tag, 'stable');
    await writeFile(keyring, 'key 2');
    const rekeyed = await planImage(config, root, bundle);
    assert.notEqual(rekeyed.base, plan.base, 'the keyring is an input of the debootstrap base');
    assert.notEqual(rekeyed.tag, plan.tag);
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nother\n');
    assert.notEqual((await planImage(config, root, bundle)).tag, rekeyed.tag, 'the org CA is an input');
    await writeFile(bundle, 'console.log(2)');
    const fromOrg = await planImage({ ...config, 'image.from': 'registry.acme.dev/debian:bookworm', 'image.keyring': '/nonexistent/keyring.gpg' }, root, bundle);
    assert.deepEqual([fromOrg.debootstrap, fromOrg.base], [false, 'registry.acme.dev/debian:bookworm'], 'no keyring needed without debootstrap');
  });

  it('names a missing or non-PEM org CA bundle and the setting to fix', async () => {
    const { config, dir } = await fixture();
    const bundle = join(packageRoot(), 'package.json');
    await assert.rejects(planImage({ ...config, 'image.caBundle': '/nonexistent/ca.pem' }, packageRoot(), bundle), /org CA bundle \/nonexistent\/ca.pem \(setting image.caBundle\) does not exist/);
    const notPem = join(dir, 'not.pem');
    await writeFile(notPem, 'garbage');
    await assert.rejects(planImage({ ...config, 'image.caBundle': notPem }, packageRoot(), bundle), /holds no PEM certificate/);
  });

  it('refuses a missing or empty keyring before anything runs, naming the path, the setting and the fix', async () => {
    const { config, dir, bundle } = await fixture();
    const missing = { code: 'MISSING_PREREQ', message: 'Debian archive keyring /nonexistent/k.gpg (setting image.keyring) does not exist' };
    await assert.rejects(planImage({ ...config, 'image.keyring': '/nonexistent/k.gpg' }, packageRoot(), bundle), missing);
    const empty = join(dir, 'empty.gpg');
    await writeFile(empty, '');
    await assert.rejects(planImage({ ...config, 'image.keyring': empty }, packageRoot(), bundle), { message: `Debian archive keyring ${empty} (setting image.keyring) is empty` });
    const check = await checkKeyring({ ...config, 'image.keyring': '/nonexistent/k.gpg' });
    assert.deepEqual([check.ok, check.detail], [false, missing.message]);
    assert.match(check.fix ?? '', /^apt-get install -y debian-archive-keyring/);
    assert.equal((await checkKeyring(config)).ok, true);
  });
});

describe('image mirror', () => {
  it('is the setting, or else the bookworm mirror of apt, or else an error with the fix', async () => {
    const { config } = await fixture();
    const apt = await mkdtemp(join(tmpdir(), 'aibox-apt-'));
    assert.equal(await resolveMirror(config, apt), MIRROR);
    await writeFile(join(apt, 'sources.list'), 'deb http://apt.example.com/debian bookworm main\n');
    assert.equal(await resolveMirror({ ...config, 'image.mirror': '' }, apt), 'http://apt.example.com/debian');
    for (const source of ['deb http://apt.example.com/debian trixie main', 'deb cdrom:[Debian 12]/ bookworm main']) {
      await writeFile(join(apt, 'sources.list'), `${source}\n`);
      await assert.rejects(resolveMirror({ ...config, 'image.mirror': '' }, apt), {
        message: 'no Debian mirror: setting image.mirror is empty and apt has no http(s) source for bookworm',
        hint: 'aibox config set image.mirror http://mirror.example.com/debian',
      });
    }
  });

  it('accepts an http(s) URL or empty, nothing else', () => {
    const mirror = configSchema.shape['image.mirror'];
    assert.equal(mirror.parse(''), '');
    assert.equal(mirror.parse(MIRROR), MIRROR);
    assert.equal(mirror.safeParse('mirror.example.com/debian').success, false);
    assert.equal(mirror.safeParse('file:///srv/debian').success, false);
  });
});

describe('debootstrap', () => {
  it('checks the keyring, keeps its warnings and fails with its E: line', { skip: process.getuid?.() !== 0 && 'debootstrap needs root' }, async () => {
    const { config, bundle, keyring } = await fixture();
    const plan = await planImage(config, packageRoot(), bundle);
    const calls: string[][] = [];
    const run: Runner = async (command, args, options) => {
      calls.push([command, ...args]);
      if (command === 'debootstrap') {
        for (const line of ['I: Retrieving InRelease', 'W: an unchecked thing', 'E: Release signed by unknown key (key id 0123ABCD)', '   The specified keyring may be incorrect']) options?.onLine?.(line);
      }
      return { exitCode: 1, stdout: '', stderr: '' };
    };
    let stderr = '';
    const out = createOutput(false, { write: () => true }, { isTTY: true, write: (text: string) => (stderr += text) });
    const ctx: Context = { run, out, paths: resolvePaths({ HOME: '/nonexistent' }), env: {}, cwd: '/' };
    await assert.rejects(ensureImage(ctx, plan, true), {
      code: 'PROCESS_FAILED',
      message: `debootstrap of bookworm from ${MIRROR} failed: Release signed by unknown key (key id 0123ABCD)`,
    });
    assert.deepEqual(calls.find(([command]) => command === 'debootstrap')?.slice(1, 3), ['--variant=minbase', `--keyring=${keyring}`]);
    assert.ok(calls.some((call) => call.includes('--force-check-gpg')));
    assert.match(stderr, /warning: debootstrap: an unchecked thing\n/, 'a warning is a line of its own, never overwritten');
    assert.ok(!calls.some(([command]) => command === 'sh'), 'nothing is imported');
  });
});
