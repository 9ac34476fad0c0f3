/**
 * cosign's key files, written and read with Node's crypto (Debian's skopeo and podman
 * have sigstore patched out). Formats, from sigstore/cosign `pkg/cosign/keys.go` and
 * secure-systems-lab/go-securesystemslib `encrypted/encrypted.go`:
 * - private key: PEM `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`)
 *   whose body is the JSON that Go's json.Marshal writes (byte slices as padded base64):
 *   {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":…32 bytes},
 *    "cipher":{"name":"nacl/secretbox","nonce":…24 bytes},"ciphertext":…}
 *   ciphertext = secretbox(PKCS#8 DER of the key, nonce, scrypt(password, salt) → 32 bytes);
 * - public key: PEM `PUBLIC KEY` (SPKI). Keys are ECDSA P-256, cosign's default.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, scrypt, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';

const PRIVATE_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY';
const LEGACY_PRIVATE_PEM_TYPE = 'ENCRYPTED COSIGN PRIVATE KEY';

// go-securesystemslib's legacy, standard (what it writes) and OWASP levels. Like its
// CheckParams, accept only these: a key file must not choose how much memory scrypt takes.
const SCRYPT_LEVELS = [
  { N: 32768, r: 8, p: 1 },
  { N: 65536, r: 8, p: 1 },
  { N: 131072, r: 8, p: 1 },
] as const;
const SCRYPT_STANDARD = SCRYPT_LEVELS[1];

const bytes = z.base64().transform((text) => Buffer.from(text, 'base64'));
const envelopeSchema = z.object({
  kdf: z.object({
    name: z.literal('scrypt'),
    params: z
      .object({ N: z.number(), r: z.number(), p: z.number() })
      .refine((params) => SCRYPT_LEVELS.some((level) => level.N === params.N && level.r === params.r && level.p === params.p), {
        message: 'unsupported scrypt parameters',
      }),
    salt: bytes,
  }),
  cipher: z.object({
    name: z.literal('nacl/secretbox'),
    nonce: bytes.refine((nonce) => nonce.length === nacl.secretbox.nonceLength, { message: 'the nonce must be 24 bytes' }),
  }),
  ciphertext: bytes,
});

export async function generateKeyPair(password: string): Promise<{ privatePem: string; publicPem: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const salt = randomBytes(32);
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const secret = await deriveKey(password, salt, SCRYPT_STANDARD);
  const ciphertext = nacl.secretbox(privateKey.export({ type: 'pkcs8', format: 'der' }), nonce, secret);
  // Key order as in go-securesystemslib's structs, so the file matches what cosign writes.
  const envelope = {
    kdf: { name: 'scrypt', params: SCRYPT_STANDARD, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(ciphertext).toString('base64'),
  };
  return {
    privatePem: encodePem(PRIVATE_PEM_TYPE, Buffer.from(JSON.stringify(envelope))),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Decrypts a cosign private key file; `path` names it in errors. */
export async function readPrivateKey(pem: string, password: string, path: string): Promise<KeyObject> {
  const block = decodePem(pem);
  if (!block || (block.type !== PRIVATE_PEM_TYPE && block.type !== LEGACY_PRIVATE_PEM_TYPE)) {
    throw notAPrivateKey(path, `no PEM block "${PRIVATE_PEM_TYPE}"`);
  }
  const envelope = envelopeSchema.safeParse(parseJson(block.body.toString('utf8')));
  if (!envelope.success) throw notAPrivateKey(path, z.prettifyError(envelope.error).replaceAll('\n', ' '));
  const { kdf, cipher, ciphertext } = envelope.data;
  const secret = await deriveKey(password, kdf.salt, kdf.params);
  const der = nacl.secretbox.open(ciphertext, cipher.nonce, secret);
  if (!der) {
    throw new AiboxError('USAGE', `wrong password for the cosign key ${path}`, 'give the password the key was created with ($COSIGN_PASSWORD or the prompt)');
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch {
    throw notAPrivateKey(path, 'the decrypted key is not PKCS#8');
  }
  requireP256(key, `the cosign key ${path}`);
  return key;
}

/** Parses a PEM `PUBLIC KEY` (SPKI); `what` names it in errors, e.g. `the key "ci" in packs.trusted_keys`. */
export function readPublicKey(pem: string, what: string): KeyObject {
  const block = decodePem(pem);
  let key: KeyObject | undefined;
  try {
    if (block?.type === 'PUBLIC KEY') key = createPublicKey({ key: block.body, format: 'der', type: 'spki' });
  } catch {
    // reported below
  }
  if (!key) {
    throw new AiboxError('INVALID_FILE', `${what} is not a PEM public key`, 'use the cosign.pub that `cosign generate-key-pair` or `aibox` wrote (-----BEGIN PUBLIC KEY-----)');
  }
  requireP256(key, what);
  return key;
}

function requireP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const actual = key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType;
    throw new AiboxError('INVALID_FILE', `${what} is a ${actual} key, not ECDSA P-256`, 'generate an ECDSA P-256 key pair (cosign\'s default)');
  }
}

function notAPrivateKey(path: string, reason: string): AiboxError {
  return new AiboxError('INVALID_FILE', `${path} is not a cosign private key: ${reason}`, `use the cosign.key that \`cosign generate-key-pair\` or \`aibox\` wrote (-----BEGIN ${PRIVATE_PEM_TYPE}-----)`);
}

function deriveKey(password: string, salt: Buffer, { N, r, p }: { N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node's default limit (32 MiB) is below go-securesystemslib's levels.
  const options = { N, r, p, maxmem: 256 * N * r };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, nacl.secretbox.keyLength, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function encodePem(type: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}

function decodePem(text: string): { type: string; body: Buffer } | undefined {
  const match = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END \1-----/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  return { type: match[1], body: Buffer.from(match[2].replace(/\s/g, ''), 'base64') };
}
