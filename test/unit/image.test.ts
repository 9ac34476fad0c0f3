import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/settings.js';
import { planImage } from '../../src/image/build.js';
import { packageRoot } from '../../src/image/package-root.js';

describe('image plan', () => {
  it('is tagged by a hash of every input, and changes when one changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-image-'));
    const bundle = join(dir, 'aibox.mjs');
    const ca = join(dir, 'ca.pem');
    await writeFile(bundle, 'console.log(1)');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\n');
    const config = configSchema.parse({ 'image.caBundle': ca });
    const root = packageRoot();
    const plan = await planImage(config, root, bundle);
    assert.match(plan.tag, /^localhost\/aibox:[0-9a-f]{16}$/);
    assert.equal(plan.debootstrap, true);
    assert.equal((await planImage(config, root, bundle)).tag, plan.tag, 'stable');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nother\n');
    assert.notEqual((await planImage(config, root, bundle)).tag, plan.tag, 'the org CA is an input');
    await writeFile(bundle, 'console.log(2)');
    const fromOrg = await planImage(configSchema.parse({ 'image.caBundle': ca, 'image.from': 'registry.acme.dev/debian:bookworm' }), root, bundle);
    assert.deepEqual([fromOrg.debootstrap, fromOrg.base], [false, 'registry.acme.dev/debian:bookworm']);
  });

  it('names a missing or non-PEM org CA bundle and the setting to fix', async () => {
    const config = configSchema.parse({ 'image.caBundle': '/nonexistent/ca.pem' });
    await assert.rejects(planImage(config, packageRoot(), join(packageRoot(), 'package.json')), /org CA bundle \/nonexistent\/ca.pem \(setting image.caBundle\) does not exist/);
    const notPem = join(await mkdtemp(join(tmpdir(), 'aibox-image-')), 'ca.pem');
    await writeFile(notPem, 'garbage');
    await assert.rejects(planImage(configSchema.parse({ 'image.caBundle': notPem }), packageRoot(), join(packageRoot(), 'package.json')), /holds no PEM certificate/);
  });
});
