import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { HttpRegistry } from '../../src/packs/oci-http.js';
import { sha256Digest, sha256File } from '../../src/packs/registry.js';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'aibox-e2e-oci-'));
}

function manifestOf(config: Buffer, layers: { digest: string; size: number }[]): Buffer {
  const configDescriptor = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(config), size: config.length };
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, config: configDescriptor, layers: layers.map((layer) => ({ mediaType: LAYER_TYPE, ...layer })) }));
}

describe('HttpRegistry against a real registry (docker-registry)', { timeout: 120_000 }, () => {
  let server: TestRegistry;
  before(async () => {
    server = await startRegistry();
  });
  after(() => server.stop());

  it('round trip: blobs, a manifest under two tags, pulled back verified; a 10 MB blob streamed both ways', async (t) => {
    const dir = await scratch();
    const registry = new HttpRegistry(`${server.ref}/packs`, { env: {}, home: dir });
    const config = Buffer.from('{"pack":"java"}');
    const layer = randomBytes(10 * 1024 * 1024);
    const layerDigest = sha256Digest(layer);
    await writeFile(join(dir, 'layer.tar.gz'), layer);

    let started = Date.now();
    await registry.putBlob('java', sha256Digest(config), config);
    await registry.putBlob('java', layerDigest, { path: join(dir, 'layer.tar.gz'), size: layer.length });
    t.diagnostic(`upload of 10 MB: ${Date.now() - started} ms`);
    await registry.putBlob('java', layerDigest, { path: join(dir, 'layer.tar.gz'), size: layer.length }); // present: skipped
    const manifest = manifestOf(config, [{ digest: layerDigest, size: layer.length }]);
    const digest = await registry.putManifest('java', '17.0.1', manifest, MANIFEST_TYPE);
    await registry.putManifest('java', '17', manifest, MANIFEST_TYPE);

    assert.equal(digest, sha256Digest(manifest));
    assert.deepEqual((await registry.listTags('java')).sort(), ['17', '17.0.1']);
    assert.deepEqual(await registry.listRepositories(), ['java']);
    assert.deepEqual(await registry.getManifest('java', '17'), { bytes: manifest, digest, mediaType: MANIFEST_TYPE });
    assert.deepEqual((await registry.getManifest('java', digest))?.bytes, manifest);
    assert.deepEqual(await registry.getBlob('java', sha256Digest(config)), config);
    assert.equal(await registry.hasBlob('java', layerDigest), true);

    started = Date.now();
    const pulled = join(dir, 'pulled');
    await registry.downloadBlob('java', layerDigest, layer.length, pulled);
    t.diagnostic(`download of 10 MB: ${Date.now() - started} ms`);
    assert.deepEqual(await sha256File(pulled), { digest: layerDigest, size: layer.length });
  });

  it('a missing tag is undefined, a missing repository has no tags, a missing blob is named', async () => {
    const registry = new HttpRegistry(server.ref, { env: {}, home: await scratch() });
    assert.equal(await registry.getManifest('java', 'no-such-tag'), undefined);
    assert.equal(await registry.getManifest('java', sha256Digest(Buffer.from('absent'))), undefined);
    assert.deepEqual(await registry.listTags('no-such-pack'), []);
    assert.equal(await registry.hasBlob('java', sha256Digest(Buffer.from('absent'))), false);
    await assert.rejects(registry.getBlob('java', sha256Digest(Buffer.from('absent'))), (error) => error instanceof AiboxError && error.code === 'NOT_FOUND');
  });

  it('Basic auth: credentials from auth.json in HOME; without them, a clear error', async () => {
    const secured = await startRegistry({ htpasswd: { user: 'publisher', password: 'correct horse' } });
    try {
      const home = await scratch();
      const config = Buffer.from('{}');
      await assert.rejects(new HttpRegistry(secured.ref, { env: {}, home }).putBlob('java', sha256Digest(config), config), (error) => {
        assert.ok(error instanceof AiboxError);
        assert.equal(error.code, 'PROCESS_FAILED');
        assert.match(error.message, new RegExp(`^registry ${secured.ref}: check of blob sha256:\\w+ in java failed: HTTP 401`));
        assert.match(error.hint ?? '', new RegExp(`podman login ${secured.ref}`));
        return true;
      });

      await mkdir(join(home, '.config', 'containers'), { recursive: true });
      const auth = Buffer.from('publisher:correct horse').toString('base64');
      await writeFile(join(home, '.config', 'containers', 'auth.json'), JSON.stringify({ auths: { [secured.ref]: { auth } } }));
      const registry = new HttpRegistry(secured.ref, { env: {}, home });
      await registry.putBlob('java', sha256Digest(config), config);
      const digest = await registry.putManifest('java', '1', manifestOf(config, []), MANIFEST_TYPE);
      assert.equal((await registry.getManifest('java', '1'))?.digest, digest);
      assert.deepEqual(await registry.listTags('java'), ['1']);
    } finally {
      await secured.stop();
    }
  });
});
