import { createHash, randomBytes } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { readRegularFile } from '../core/files.js';
import { validateFile } from '../core/yaml-file.js';

/**
 * Where packs live: any OCI distribution registry (Harbor, distribution, Zot,
 * GHCR) or an OCI image-layout directory (the embedded default, no server).
 * A pack `java` of a registry `REF` is the repository `<REF>/java`; for a layout
 * directory DIR it is the image layout `DIR/java/`.
 */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface FetchedManifest {
  /** The exact bytes: the digest and any signature are over these. */
  bytes: Buffer;
  /** sha256:<hex> of bytes, computed by aibox (never trusted from the server). */
  digest: string;
  mediaType: string;
}

export interface Registry {
  /** How to name this registry in messages, e.g. `127.0.0.1:5000/packs` or `/home/u/.local/share/aibox/packs`. */
  readonly location: string;
  /** Names of the repositories (packs) under this registry; [] when there are none. */
  listRepositories(): Promise<string[]>;
  /** Tags of a repository; [] when the repository does not exist. */
  listTags(repo: string): Promise<string[]>;
  /** A manifest by tag or digest; undefined when absent. A digest reference is verified against the bytes. */
  getManifest(repo: string, reference: string): Promise<FetchedManifest | undefined>;
  /** Stores a manifest under a tag (or its digest); returns its digest. */
  putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string>;
  hasBlob(repo: string, digest: string): Promise<boolean>;
  /** A small blob (config, signature payload), verified against its digest. */
  getBlob(repo: string, digest: string): Promise<Buffer>;
  /**
   * Writes a blob into `path` (a new file), stopping past `size` bytes. **Not verified**:
   * whoever reads the file hashes it first (`sha256File`; extractLayer does so while it
   * decompresses) and trusts nothing of it on a mismatch.
   */
  downloadBlob(repo: string, digest: string, size: number, path: string): Promise<void>;
  /** Uploads a blob from memory or from a file, unless the registry has it already. */
  putBlob(repo: string, digest: string, source: Buffer | { path: string; size: number }): Promise<void>;
}

// What every backend checks the same way: names before they reach a URL or a path, digests of what it reads and writes.

/** A repository name as the OCI distribution spec allows it: lowercase components joined by `.`, `_`, `__`, `-` and `/`. */
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The largest manifest or small blob aibox reads into memory (distribution's own manifest limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export function isRepositoryName(name: string): boolean {
  return REPOSITORY.test(name);
}

export function isDigest(reference: string): boolean {
  return SHA256_DIGEST.test(reference);
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `java:17` or `java@sha256:...`, for messages. */
export function describeRef(repo: string, reference: string): string {
  return isDigest(reference) ? `${repo}@${reference}` : `${repo}:${reference}`;
}

export function checkRepository(location: string, repo: string): void {
  if (!REPOSITORY.test(repo)) throw new AiboxError('USAGE', `registry ${location}: "${repo}" is not a repository name`, 'use lowercase letters, digits and . _ - / (e.g. java)');
}

export function checkDigest(location: string, digest: string): void {
  if (!isDigest(digest)) throw new AiboxError('USAGE', `registry ${location}: "${digest}" is not a digest`, 'give a digest as sha256:<64 lowercase hex digits>');
}

/** A tag or a digest. */
export function checkReference(location: string, reference: string): void {
  if (!TAG.test(reference) && !isDigest(reference)) {
    throw new AiboxError('USAGE', `registry ${location}: "${reference}" is neither a tag nor a digest`, 'use a tag of letters, digits and . _ - (at most 128), or sha256:<hex>');
  }
}

export function missingBlobError(location: string, what: string): AiboxError {
  return new AiboxError('NOT_FOUND', `registry ${location}: ${what} does not exist`, 'publish the pack again: one of its parts is missing');
}

export function mismatchError(location: string, what: string, expected: string, actual: string): AiboxError {
  return new AiboxError(
    'INVALID_FILE',
    `registry ${location}: ${what} does not match its digest ${expected} (its content is ${actual})`,
    'the content was damaged or altered: publish it again from its source',
  );
}

/** A file's sha256 digest and size, read through one reused buffer (fresh buffers cost more than the hash here). */
export async function sha256File(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const file = await open(path);
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await file.close();
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** A blob (file) as long as its descriptor says and with its digest; else the error that says which differs. */
export function checkBlob(location: string, what: string, expected: { digest: string; size: number }, actual: { digest: string; size: number }): void {
  if (actual.size !== expected.size) throw sizeError(location, what, expected.size, actual.size);
  if (actual.digest !== expected.digest) throw mismatchError(location, what, expected.digest, actual.digest);
}

export function verifyDigest(location: string, what: string, bytes: Uint8Array, digest: string): void {
  const actual = sha256Digest(bytes);
  if (actual !== digest) throw mismatchError(location, what, digest, actual);
}

/** A JSON file of aibox's or another tool's (index.json, auth.json), validated; undefined when absent. */
export async function readJsonFile<T extends z.ZodType>(schema: T, path: string, hint: string, maxBytes?: number): Promise<z.infer<T> | undefined> {
  const text = await readRegularFile(path, maxBytes);
  if (text === undefined) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new AiboxError('INVALID_FILE', `${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, hint);
  }
  return validateFile(schema, data, path);
}

const manifestTypeSchema = z.object({ mediaType: z.string().optional() });

/** The `mediaType` a manifest declares in its own JSON; '' when it declares none or is not JSON. */
export function declaredMediaType(bytes: Buffer): string {
  try {
    const parsed = manifestTypeSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return parsed.success ? (parsed.data.mediaType ?? '') : '';
  } catch {
    return '';
  }
}

/** A file to upload, as a Blob: its length is known, and it can be read again (a retry after a 401). */
export async function openBlobFile(path: string, size: number): Promise<Blob> {
  let blob: Blob;
  try {
    blob = await openAsBlob(path);
  } catch (error) {
    throw new AiboxError('NOT_FOUND', `cannot read ${path}: ${errorCode(error)}`, `check that ${path} exists and is readable`);
  }
  if (blob.size !== size) throw new AiboxError('INVALID_FILE', `${path} is ${blob.size} bytes; expected ${size}`, `${path} changed after it was measured: build it again`);
  return blob;
}

/**
 * Passes content on while hashing it; after the last chunk, throws when the size
 * (when known) or the digest differs.
 */
async function* verifiedBytes(location: string, what: string, source: AsyncIterable<Uint8Array>, digest: string, size?: number): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let received = 0;
  for await (const chunk of source) {
    received += chunk.length;
    if (size !== undefined && received > size) throw sizeError(location, what, size, received);
    hash.update(chunk);
    yield chunk;
  }
  if (size !== undefined && received !== size) throw sizeError(location, what, size, received);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== digest) throw mismatchError(location, what, digest, actual);
}

/**
 * Streams content into `path` through `<path>.<random>.tmp` while hashing it,
 * checks size (when known) and digest, then renames. On any failure the temp
 * file is removed and nothing appears at `path`.
 */
export async function saveVerified(
  location: string,
  what: string,
  source: AsyncIterable<Uint8Array>,
  digest: string,
  path: string,
  size?: number,
): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  // A local write failure (no folder, disk full) is named as such, not as a failure of the source.
  const writing = <T>(promise: Promise<T>): Promise<T> =>
    promise.catch((error: unknown) => {
      throw new AiboxError('INVALID_FILE', `cannot write ${path}: ${errorCode(error)}`, `check that ${dirname(path)} exists, is writable and has room`);
    });
  try {
    const handle = await writing(open(temp, 'wx', 0o644));
    try {
      for await (const chunk of verifiedBytes(location, what, source, digest, size)) await writing(handle.write(chunk));
      await writing(handle.sync());
    } finally {
      await handle.close();
    }
    await writing(rename(temp, path));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** ENOENT, ECONNREFUSED, ...: the code of a system error, else its message. */
export function errorCode(error: unknown): string {
  if (error instanceof Error) return 'code' in error && typeof error.code === 'string' ? error.code : error.message;
  return String(error);
}

export function sizeError(location: string, what: string, size: number, received: number): AiboxError {
  const amount = received > size ? `over ${size}` : String(received);
  return new AiboxError('INVALID_FILE', `registry ${location}: ${what} has ${amount} bytes; expected ${size}`, 'the content was cut short or altered: try again, or publish it again from its source');
}
