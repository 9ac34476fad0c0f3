import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { AiboxError } from '../../src/core/errors.js';
import { generateKeyPair, readPrivateKey, readPublicKey } from '../../src/packs/cosign-keys.js';
import { sha256Digest as sha256, type FetchedManifest, type Registry } from '../../src/packs/registry.js';
import {
  attachSignature,
  signatureTag,
  signPayload,
  simpleSigningPayload,
  verifyPackSignature,
  verifyPayload,
} from '../../src/packs/signing.js';

// CI clones the repository with shared/ beside it; tests run from the repository root.
const VECTOR = path.resolve('..', 'shared', 'reference', 'cosign-test-vector');
const VECTOR_REFERENCE = '192.168.64.2:5000/cosign-signed-single-sample';
const VECTOR_DIGEST = 'sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00';
const FIXTURES = 'test/fixtures/cosign';

function aiboxError(code: AiboxError['code'], message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof AiboxError, `expected an AiboxError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

/** An in-memory registry: manifests by `repo:reference`, blobs by `repo@digest`, digests checked like the real ones. */
class MemoryRegistry implements Registry {
  readonly location = 'registry.example.com/packs';
  readonly manifests = new Map<string, FetchedManifest>();
  readonly blobs = new Map<string, Buffer>();

  async listRepositories(): Promise<string[]> {
    return [...new Set([...this.manifests.keys()].map((key) => key.slice(0, key.indexOf(':'))))];
  }
  async listTags(repo: string): Promise<string[]> {
    const prefix = `${repo}:`;
    return [...this.manifests.keys()].filter((key) => key.startsWith(prefix) && !key.startsWith(`${prefix}sha256:`)).map((key) => key.slice(prefix.length));
  }
  async getManifest(repo: string, reference: string): Promise<FetchedManifest | undefined> {
    return this.manifests.get(`${repo}:${reference}`);
  }
  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const manifest = { bytes, digest: sha256(bytes), mediaType };
    this.manifests.set(`${repo}:${reference}`, manifest);
    this.manifests.set(`${repo}:${manifest.digest}`, manifest);
    return manifest.digest;
  }
  async hasBlob(repo: string, digest: string): Promise<boolean> {
    return this.blobs.has(`${repo}@${digest}`);
  }
  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const blob = this.blobs.get(`${repo}@${digest}`);
    if (!blob) throw new AiboxError('NOT_FOUND', `blob ${digest} is not in ${repo}`);
    if (sha256(blob) !== digest) throw new AiboxError('INVALID_FILE', `blob ${digest} does not match its digest`);
    return blob;
  }
  async downloadBlob(): Promise<void> {
    throw new Error('not used by signing');
  }
  async putBlob(repo: string, digest: string, source: Buffer | { path: string; size: number }): Promise<void> {
    assert.ok(Buffer.isBuffer(source));
    this.blobs.set(`${repo}@${digest}`, source);
  }
}

const vector = {
  payload: await readFile(path.join(VECTOR, 'payload.json')),
  signature: (await readFile(path.join(VECTOR, 'signature.b64'), 'utf8')).trim(),
  publicKey: readPublicKey(await readFile(path.join(VECTOR, 'cosign.pub'), 'utf8'), 'cosign.pub'),
};

describe('cosign signatures (test vector made by real cosign)', () => {
  const { payload, signature, publicKey } = vector;

  it('writes the same payload bytes as cosign', () => {
    assert.deepEqual(simpleSigningPayload(VECTOR_REFERENCE, VECTOR_DIGEST), payload);
  });

  it('accepts the signature', () => {
    assert.equal(verifyPayload(payload, signature, publicKey), true);
  });

  it('rejects the payload after any bit of any byte changes', () => {
    for (let index = 0; index < payload.length; index++) {
      for (let bit = 0; bit < 8; bit++) {
        const tampered = Buffer.from(payload);
        tampered[index] = (tampered[index] ?? 0) ^ (1 << bit);
        assert.equal(verifyPayload(tampered, signature, publicKey), false, `byte ${index} bit ${bit}`);
      }
    }
    assert.equal(verifyPayload(Buffer.concat([payload, Buffer.from('\n')]), signature, publicKey), false);
  });

  it('rejects a changed, truncated or malformed signature without throwing', () => {
    const der = Buffer.from(signature, 'base64');
    for (let index = 0; index < der.length; index++) {
      const tampered = Buffer.from(der);
      tampered[index] = (tampered[index] ?? 0) ^ 0x01;
      assert.equal(verifyPayload(payload, tampered.toString('base64'), publicKey), false, `signature byte ${index}`);
    }
    for (const bad of ['', 'not base64!', der.subarray(0, 20).toString('base64'), `${signature}AAAA`]) {
      assert.equal(verifyPayload(payload, bad, publicKey), false, bad);
    }
  });

  it('names the signature tag after the digest', () => {
    assert.equal(signatureTag(VECTOR_DIGEST), 'sha256-634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00.sig');
    assert.throws(() => signatureTag('latest'), aiboxError('USAGE', /not a manifest digest: latest/));
  });
});

describe('cosign key files', () => {
  it('generates a key pair whose encrypted private key opens with the password', async () => {
    const { privatePem, publicPem } = await generateKeyPair('correct horse');
    assert.match(privatePem, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n(.{64}\n)+.{1,64}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n$/);
    const envelope: unknown = JSON.parse(Buffer.from(privatePem.split('\n').slice(1, -2).join(''), 'base64').toString());
    assert.deepEqual(Object.keys(envelope ?? {}), ['kdf', 'cipher', 'ciphertext']);
    assert.match(JSON.stringify(envelope), /^\{"kdf":\{"name":"scrypt","params":\{"N":65536,"r":8,"p":1\},"salt":"[A-Za-z0-9+/]{43}="\},"cipher":\{"name":"nacl\/secretbox","nonce":"[A-Za-z0-9+/]{32}"\},"ciphertext":"/);
    assert.match(publicPem, /^-----BEGIN PUBLIC KEY-----\n/);

    const privateKey = await readPrivateKey(privatePem, 'correct horse', '/keys/cosign.key');
    const payload = simpleSigningPayload('registry.example.com/packs/java', VECTOR_DIGEST);
    assert.equal(verifyPayload(payload, signPayload(payload, privateKey), readPublicKey(publicPem, 'cosign.pub')), true);

    await assert.rejects(readPrivateKey(privatePem, 'wrong', '/keys/cosign.key'), aiboxError('USAGE', /^wrong password for the cosign key \/keys\/cosign\.key$/));
  });

  it('opens keys written by real cosign (its own test data), old PEM label included', async () => {
    const key = await readPrivateKey(await readFile(`${FIXTURES}/sigstore-hello.key`, 'utf8'), 'hello', 'sigstore-hello.key');
    const payload = simpleSigningPayload('registry.example.com/packs/java', VECTOR_DIGEST);
    assert.equal(verifyPayload(payload, signPayload(payload, key), createPublicKey(key)), true);
    const legacy = await readPrivateKey(await readFile(`${FIXTURES}/cosign-hello.key`, 'utf8'), 'hello', 'cosign-hello.key');
    assert.equal(legacy.asymmetricKeyType, 'ec');
    await assert.rejects(
      readPrivateKey(await readFile(`${FIXTURES}/sigstore-hello.key`, 'utf8'), 'hell', 'sigstore-hello.key'),
      aiboxError('USAGE', /wrong password for the cosign key sigstore-hello\.key/),
    );
    // cosign itself refuses this one: the encrypted key is SEC1, not PKCS#8.
    await assert.rejects(
      readPrivateKey(await readFile(`${FIXTURES}/cosign-sec1-hello.key`, 'utf8'), 'hello', 'cosign-sec1-hello.key'),
      aiboxError('INVALID_FILE', /^cosign-sec1-hello\.key is not a cosign private key: the decrypted key is not PKCS#8$/),
    );
  });

  it('rejects garbage key files naming the file', async () => {
    const pem = (type: string, body: string) => `-----BEGIN ${type}-----\n${Buffer.from(body).toString('base64')}\n-----END ${type}-----\n`;
    const envelope = (N: number) =>
      JSON.stringify({ kdf: { name: 'scrypt', params: { N, r: 8, p: 1 }, salt: 'AAAA' }, cipher: { name: 'nacl/secretbox', nonce: Buffer.alloc(24).toString('base64') }, ciphertext: 'AAAA' });
    const garbage = [
      '',
      'hello',
      pem('PRIVATE KEY', 'x'),
      pem('ENCRYPTED SIGSTORE PRIVATE KEY', 'not json'),
      pem('ENCRYPTED SIGSTORE PRIVATE KEY', '{"kdf":{}}'),
      pem('ENCRYPTED SIGSTORE PRIVATE KEY', envelope(1 << 20)),
    ];
    for (const text of garbage) {
      await assert.rejects(readPrivateKey(text, 'pw', '/keys/bad.key'), aiboxError('INVALID_FILE', /^\/keys\/bad\.key is not a cosign private key: /), text);
    }
    // Right format, but the box does not open: indistinguishable from a wrong password.
    await assert.rejects(readPrivateKey(pem('ENCRYPTED COSIGN PRIVATE KEY', envelope(32768)), 'pw', '/keys/bad.key'), aiboxError('USAGE', /wrong password/));
  });

  it('accepts only ECDSA P-256 public keys in PEM', () => {
    const what = 'the key "ci" in packs.trusted_keys';
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const text of ['', 'garbage', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()]) {
      assert.throws(() => readPublicKey(text, what), aiboxError('INVALID_FILE', /^the key "ci" in packs\.trusted_keys is not a PEM public key$/));
    }
    assert.throws(() => readPublicKey(rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(), what), aiboxError('INVALID_FILE', /is a rsa key, not ECDSA P-256/));
  });
});

describe('pack signatures in a registry', () => {
  const repo = 'java';
  const reference = 'registry.example.com/packs/java';
  const digest = sha256(Buffer.from('the java pack manifest'));
  const otherDigest = sha256(Buffer.from('another manifest'));
  const tag = signatureTag(digest);
  const newKey = (name: string) => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { name, privateKey: pair.privateKey, trusted: { name, key: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() } };
  };
  const ci = newKey('ci');
  const release = newKey('release');
  const stranger = newKey('stranger');

  async function signed(signer = ci, signedDigest = digest): Promise<MemoryRegistry> {
    const registry = new MemoryRegistry();
    const payload = simpleSigningPayload(reference, signedDigest);
    await attachSignature(registry, repo, digest, payload, signPayload(payload, signer.privateKey));
    return registry;
  }

  it('stores the signature as cosign does and verifies it with a trusted key', async () => {
    const registry = await signed();
    const stored = await registry.getManifest(repo, tag);
    assert.ok(stored);
    const manifest = JSON.parse(stored.bytes.toString());
    assert.equal(stored.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
    assert.equal(manifest.layers.length, 1);
    assert.equal(manifest.layers[0].mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    assert.match(manifest.layers[0].annotations['dev.cosignproject.cosign/signature'], /^MEU|^MEY|^MEQ/);
    const config = JSON.parse((await registry.getBlob(repo, manifest.config.digest)).toString());
    assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [manifest.layers[0].digest] });
    assert.deepEqual(await registry.getBlob(repo, manifest.layers[0].digest), simpleSigningPayload(reference, digest));

    assert.deepEqual(await verifyPackSignature(registry, repo, reference, digest, [stranger.trusted, ci.trusted]), { keyName: 'ci' });
  });

  it('appends a second signature, keeps the first, and does not add the same one twice', async () => {
    const registry = await signed();
    const payload = simpleSigningPayload(reference, digest);
    const signature = signPayload(payload, release.privateKey);
    await attachSignature(registry, repo, digest, payload, signature);
    await attachSignature(registry, repo, digest, payload, signature);
    const stored = await registry.getManifest(repo, tag);
    assert.equal(JSON.parse(stored?.bytes.toString() ?? '{}').layers.length, 2);
    assert.deepEqual(await verifyPackSignature(registry, repo, reference, digest, [ci.trusted]), { keyName: 'ci' });
    assert.deepEqual(await verifyPackSignature(registry, repo, reference, digest, [release.trusted]), { keyName: 'release' });
  });

  it('denies an unsigned pack, naming the tag and `aibox pack sign`', async () => {
    await assert.rejects(verifyPackSignature(new MemoryRegistry(), repo, reference, digest, [ci.trusted]), (error) => {
      assert.ok(error instanceof AiboxError);
      assert.equal(error.code, 'POLICY_DENIED');
      assert.equal(error.message, `pack ${reference} is not signed (no signature at ${tag})`);
      assert.match(error.hint ?? '', /aibox pack sign/);
      return true;
    });
  });

  it('denies when the policy trusts no key', async () => {
    await assert.rejects(verifyPackSignature(await signed(), repo, reference, digest, []), aiboxError('POLICY_DENIED', /the policy has no packs\.trusted_keys/));
  });

  it('denies a signature by a key the policy does not trust', async () => {
    await assert.rejects(
      verifyPackSignature(await signed(stranger), repo, reference, digest, [ci.trusted, release.trusted]),
      aiboxError('POLICY_DENIED', /^pack registry\.example\.com\/packs\/java is signed, but by no key in packs\.trusted_keys$/),
    );
  });

  it('denies a trusted signature made for another manifest', async () => {
    await assert.rejects(
      verifyPackSignature(await signed(ci, otherDigest), repo, reference, digest, [ci.trusted]),
      aiboxError('POLICY_DENIED', new RegExp(`the signature is for a different manifest \\(${otherDigest}\\)$`)),
    );
  });

  it('denies a payload blob changed after signing', async () => {
    const registry = await signed();
    const stored = await registry.getManifest(repo, tag);
    const manifest = JSON.parse(stored?.bytes.toString() ?? '{}');
    // Reuse the signature over another claim: the layer now points at a payload for another manifest.
    const forged = Buffer.from(simpleSigningPayload(reference, digest).toString().replace(digest, otherDigest));
    await registry.putBlob(repo, sha256(forged), forged);
    manifest.layers[0].digest = sha256(forged);
    await registry.putManifest(repo, tag, Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
    await assert.rejects(verifyPackSignature(registry, repo, reference, digest, [ci.trusted]), aiboxError('POLICY_DENIED', /signed, but by no key in packs\.trusted_keys/));
  });

  it('turns garbage into AiboxErrors: a bad trusted key, a bad annotation, a bad signature manifest', async () => {
    const registry = await signed();
    await assert.rejects(
      verifyPackSignature(registry, repo, reference, digest, [{ name: 'broken', key: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }]),
      aiboxError('INVALID_FILE', /the key "broken" in packs\.trusted_keys is not a PEM public key/),
    );

    const stored = await registry.getManifest(repo, tag);
    const manifest = JSON.parse(stored?.bytes.toString() ?? '{}');
    manifest.layers[0].annotations['dev.cosignproject.cosign/signature'] = '%%% not base64 %%%';
    await registry.putManifest(repo, tag, Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
    await assert.rejects(verifyPackSignature(registry, repo, reference, digest, [ci.trusted]), aiboxError('POLICY_DENIED', /by no key in packs\.trusted_keys/));

    await registry.putManifest(repo, tag, Buffer.from('{"layers": "nope"'), 'application/vnd.oci.image.manifest.v1+json');
    await assert.rejects(
      verifyPackSignature(registry, repo, reference, digest, [ci.trusted]),
      aiboxError('INVALID_FILE', new RegExp(`^the signature manifest registry\\.example\\.com/packs/java:${tag} is not an OCI image manifest`)),
    );
  });
});
