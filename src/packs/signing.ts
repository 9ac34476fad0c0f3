/**
 * Pack signatures as cosign and containers/image store them, made and checked with
 * Node's crypto. Formats, from sigstore/sigstore `pkg/signature/payload/payload.go`
 * (the payload), sigstore/cosign `pkg/oci/static/signature.go` and `pkg/oci/empty/empty.go`
 * (layer media type, annotation, OCI manifest + config media types), and
 * containers/image `docker/docker_image_dest.go` putSignaturesToSigstoreAttachments (append to the tag):
 * - tag `sha256-<hex>.sig` of the signed manifest's repository holds an OCI image manifest;
 * - each layer: media type `application/vnd.dev.cosign.simplesigning.v1+json`, the blob is the
 *   payload, annotation `dev.cosignproject.cosign/signature` = base64(ASN.1 DER ECDSA-SHA256(payload));
 * - config (`application/vnd.oci.image.config.v1+json`): what go-containerregistry writes for
 *   cosign (as captured from `cosign sign` 1.13 in jeffhuang4704/just-notes cosign/cosign-traffic.md), e.g. {"architecture":"","created":…,"history":[{"created":"0001-01-01T00:00:00Z"}],
 *   "os":"","rootfs":{"type":"layers","diff_ids":[<payload digests>]},"config":{}}.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { readPublicKey } from './cosign-keys.js';
import { isDigest, sha256Digest, type Registry } from './registry.js';

const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';
const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';

// Loose: layers written by other tools keep every field when aibox appends to the manifest.
const layerSchema = z.looseObject({
  mediaType: z.string(),
  digest: z.string(),
  size: z.number(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const signatureManifestSchema = z.object({ layers: z.array(layerSchema) });
type Layer = z.infer<typeof layerSchema>;

const payloadSchema = z.object({
  critical: z.object({
    identity: z.object({ 'docker-reference': z.string() }),
    image: z.object({ 'docker-manifest-digest': z.string() }),
    type: z.literal(COSIGN_SIGNATURE_TYPE),
  }),
});

/**
 * cosign's payload for a manifest: Go's json.Marshal of its struct, so keys in this order and
 * `"optional":null`. (Go also escapes `<>&`, which a docker reference or digest never contains.)
 * `dockerReference` is the repository without tag, e.g. `registry.example.com/packs/java`.
 */
export function simpleSigningPayload(dockerReference: string, manifestDigest: string): Buffer {
  const payload = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': requireDigest(manifestDigest) },
      type: COSIGN_SIGNATURE_TYPE,
    },
    optional: null,
  };
  return Buffer.from(JSON.stringify(payload));
}

/** base64 of the ASN.1 DER ECDSA-SHA256 signature, as cosign stores it in the annotation. */
export function signPayload(payload: Buffer, key: KeyObject): string {
  return sign('sha256', payload, key).toString('base64');
}

export function verifyPayload(payload: Buffer, signatureBase64: string, publicKey: KeyObject): boolean {
  if (!z.base64().safeParse(signatureBase64).success) return false;
  try {
    return verify('sha256', payload, publicKey, Buffer.from(signatureBase64, 'base64'));
  } catch {
    return false;
  }
}

export function signatureTag(manifestDigest: string): string {
  return `${requireDigest(manifestDigest).replace(':', '-')}.sig`;
}

/** Adds a signature layer to the `.sig` manifest of `manifestDigest`, keeping the layers already there. */
export async function attachSignature(
  registry: Registry,
  repo: string,
  manifestDigest: string,
  payload: Buffer,
  signatureBase64: string,
): Promise<void> {
  const tag = signatureTag(manifestDigest);
  const existing = await registry.getManifest(repo, tag);
  const layers = existing ? parseSignatureManifest(existing.bytes, `${registry.location}/${repo}:${tag}`) : [];
  const layer: Layer = {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    digest: sha256Digest(payload),
    size: payload.length,
    annotations: { [SIGNATURE_ANNOTATION]: signatureBase64 },
  };
  if (layers.some((other) => other.digest === layer.digest && other.annotations?.[SIGNATURE_ANNOTATION] === signatureBase64)) return;
  await registry.putBlob(repo, layer.digest, payload);
  layers.push(layer);
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: new Date().toISOString(),
      history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((each) => each.digest) },
      config: {},
    }),
  );
  const configDigest = sha256Digest(config);
  await registry.putBlob(repo, configDigest, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: OCI_CONFIG_MEDIA_TYPE, size: config.length, digest: configDigest },
    layers,
  };
  await registry.putManifest(repo, tag, Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST_MEDIA_TYPE);
}

/**
 * Checks that a trusted key signed `manifestDigest`; returns the key's name. As cosign does,
 * the signature is checked before the payload's claims: an unsigned payload says nothing.
 */
export async function verifyPackSignature(
  registry: Registry,
  repo: string,
  dockerReference: string,
  manifestDigest: string,
  trustedKeys: readonly { name: string; key: string }[],
): Promise<{ keyName: string }> {
  const signHint = `sign it with \`aibox pack sign ${dockerReference}\` and a key listed in packs.trusted_keys`;
  if (trustedKeys.length === 0) {
    throw new AiboxError('POLICY_DENIED', `cannot verify pack ${dockerReference}: the policy has no packs.trusted_keys`, 'add the signer\'s public key (PEM) to packs.trusted_keys in the policy');
  }
  const keys = trustedKeys.map(({ name, key }) => ({ name, key: readPublicKey(key, `the key "${name}" in packs.trusted_keys`) }));
  const tag = signatureTag(manifestDigest);
  const fetched = await registry.getManifest(repo, tag);
  const layers = fetched ? parseSignatureManifest(fetched.bytes, `${registry.location}/${repo}:${tag}`) : [];
  const signatures = layers.flatMap((layer) => {
    const signature = layer.annotations?.[SIGNATURE_ANNOTATION];
    return layer.mediaType === SIMPLE_SIGNING_MEDIA_TYPE && signature ? [{ digest: layer.digest, signature }] : [];
  });
  if (signatures.length === 0) {
    throw new AiboxError('POLICY_DENIED', `pack ${dockerReference} is not signed (no signature at ${tag})`, signHint);
  }
  let denial: string | undefined;
  for (const { digest, signature } of signatures) {
    const payload = await registry.getBlob(repo, digest);
    const signer = keys.find(({ key }) => verifyPayload(payload, signature, key));
    if (!signer) continue;
    const claims = payloadSchema.safeParse(parseJson(payload));
    if (!claims.success) {
      denial = `pack ${dockerReference}: the signed payload ${digest} is not a cosign container image signature`;
    } else if (claims.data.critical.image['docker-manifest-digest'] !== manifestDigest) {
      denial = `pack ${dockerReference}: the signature is for a different manifest (${claims.data.critical.image['docker-manifest-digest']})`;
    } else {
      return { keyName: signer.name };
    }
  }
  throw new AiboxError('POLICY_DENIED', denial ?? `pack ${dockerReference} is signed, but by no key in packs.trusted_keys`, signHint);
}

function parseSignatureManifest(bytes: Buffer, what: string): Layer[] {
  const parsed = signatureManifestSchema.safeParse(parseJson(bytes));
  if (!parsed.success) {
    throw new AiboxError('INVALID_FILE', `the signature manifest ${what} is not an OCI image manifest: ${z.prettifyError(parsed.error).replaceAll('\n', ' ')}`, 'sign the pack again with `aibox pack sign`');
  }
  return parsed.data.layers;
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

function requireDigest(digest: string): string {
  if (!isDigest(digest)) {
    throw new AiboxError('USAGE', `not a manifest digest: ${digest}`, 'expected sha256:<64 lowercase hex digits>');
  }
  return digest;
}
