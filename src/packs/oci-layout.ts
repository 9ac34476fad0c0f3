import { constants, type Dirent } from 'node:fs';
import { copyFile, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';
import {
  checkDigest,
  checkReference,
  checkRepository,
  declaredMediaType,
  describeRef,
  errorCode,
  isDigest,
  isRepositoryName,
  MAX_MANIFEST_BYTES,
  openBlobFile,
  readJsonFile,
  mismatchError,
  missingBlobError,
  saveVerified,
  sizeError,
  sha256Digest,
  verifyDigest,
  type FetchedManifest,
  type Registry,
} from './registry.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
/** index.json grows by about 250 bytes a tag. */
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
const LOCK_WAIT_MS = 10_000;
/** How deep listRepositories looks for nested repositories (`team/java`). */
const MAX_REPOSITORY_DEPTH = 4;

// Loose: fields aibox does not read (platform, artifactType, annotations of the index) survive a rewrite.
const descriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 hex digits>'),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const indexSchema = z.looseObject({ schemaVersion: z.literal(2), manifests: z.array(descriptorSchema) });
type Index = z.infer<typeof indexSchema>;
type IndexEntry = z.infer<typeof descriptorSchema>;

/**
 * Packs in OCI image-layout folders: repository `java` is `<root>/java/` with
 * `oci-layout`, `index.json` (one entry per tag, named by the annotation
 * `org.opencontainers.image.ref.name`) and `blobs/sha256/<hex>`. Every write is
 * a temp file + rename; index.json changes under a lock file, so concurrent
 * publishers of different tags keep each other's entries.
 */
export class LayoutRegistry implements Registry {
  /** root: an absolute path. */
  constructor(readonly location: string) {}

  async listRepositories(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string, name: string, depth: number): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch((): Dirent[] => []);
      if (name && entries.some((entry) => entry.isFile() && entry.name === 'index.json')) found.push(name);
      if (depth === MAX_REPOSITORY_DEPTH) return;
      for (const entry of entries) {
        const child = name ? `${name}/${entry.name}` : entry.name;
        if (entry.isDirectory() && entry.name !== 'blobs' && isRepositoryName(child)) await walk(join(dir, entry.name), child, depth + 1);
      }
    };
    await walk(this.location, '', 0);
    return found.sort();
  }

  async listTags(repo: string): Promise<string[]> {
    const index = await this.readIndex(repo);
    const tags = (index?.manifests ?? []).map((entry) => entry.annotations?.[REF_NAME]).filter((tag): tag is string => tag !== undefined);
    return [...new Set(tags)].sort();
  }

  async getManifest(repo: string, reference: string): Promise<FetchedManifest | undefined> {
    checkReference(this.location, reference);
    const what = `manifest ${describeRef(repo, reference)}`;
    const entry = isDigest(reference) ? undefined : (await this.readIndex(repo))?.manifests.filter((candidate) => candidate.annotations?.[REF_NAME] === reference).at(-1);
    const digest = isDigest(reference) ? reference : entry?.digest;
    if (!digest) return undefined;
    const bytes = await this.readSmallBlob(repo, digest, what);
    if (!bytes && entry) throw new AiboxError('INVALID_FILE', `registry ${this.location}: ${what} is in ${this.indexPath(repo)} but its blob ${digest} is missing`, 'publish the pack again');
    if (!bytes) return undefined;
    verifyDigest(this.location, what, bytes, digest);
    return { bytes, digest, mediaType: entry?.mediaType ?? declaredMediaType(bytes) };
  }

  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    checkReference(this.location, reference);
    const digest = sha256Digest(bytes);
    if (isDigest(reference) && reference !== digest) throw mismatchError(this.location, `manifest ${describeRef(repo, reference)}`, reference, digest);
    await this.putBlob(repo, digest, bytes);
    if (!isDigest(reference)) {
      const entry: IndexEntry = { mediaType, digest, size: bytes.length, annotations: { [REF_NAME]: reference } };
      await this.withIndexLock(repo, async () => {
        const index: Index = (await this.readIndex(repo)) ?? { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [] };
        index.manifests = [...index.manifests.filter((other) => other.annotations?.[REF_NAME] !== reference), entry];
        await writeFileAtomic(this.indexPath(repo), `${JSON.stringify(index)}\n`, 0o644);
      });
    }
    return digest;
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const info = await stat(this.blobPath(repo, digest)).catch(() => undefined);
    return info?.isFile() ?? false;
  }

  async getBlob(repo: string, digest: string): Promise<Buffer> {
    const what = `blob ${digest} of ${repo}`;
    const bytes = await this.readSmallBlob(repo, digest, what);
    if (!bytes) throw missingBlobError(this.location, what);
    verifyDigest(this.location, what, bytes, digest);
    return bytes;
  }

  /** A copy of the layout's file (a reflink where the filesystem has them): the caller hashes it. */
  async downloadBlob(repo: string, digest: string, size: number, path: string): Promise<void> {
    const what = `blob ${digest} of ${repo}`;
    const file = this.blobPath(repo, digest);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw missingBlobError(this.location, what);
    if (info.size !== size) throw sizeError(this.location, what, size, info.size);
    await copyFile(file, path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  }

  async putBlob(repo: string, digest: string, source: Buffer | { path: string; size: number }): Promise<void> {
    if (await this.hasBlob(repo, digest)) return;
    const dir = this.repoDir(repo);
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    if (!(await stat(join(dir, 'oci-layout')).catch(() => undefined))) {
      await writeFileAtomic(join(dir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`, 0o644);
    }
    const what = `blob ${digest} for ${repo}`;
    const content = Buffer.isBuffer(source) ? Readable.from([source]) : (await openBlobFile(source.path, source.size)).stream();
    const size = Buffer.isBuffer(source) ? source.length : source.size;
    await saveVerified(this.location, what, content, digest, this.blobPath(repo, digest), size);
  }

  private repoDir(repo: string): string {
    checkRepository(this.location, repo);
    return join(this.location, repo);
  }

  private indexPath(repo: string): string {
    return join(this.repoDir(repo), 'index.json');
  }

  private blobPath(repo: string, digest: string): string {
    checkDigest(this.location, digest);
    return join(this.repoDir(repo), 'blobs', 'sha256', digest.slice('sha256:'.length));
  }

  /** The repository's index.json, validated; undefined when the root or the repository does not exist. */
  private async readIndex(repo: string): Promise<Index | undefined> {
    const path = this.indexPath(repo);
    return readJsonFile(indexSchema, path, `restore ${path}, or publish the pack again`, MAX_INDEX_BYTES);
  }

  /** A manifest or small blob, read whole; undefined when absent. A file, not a link to a device or a FIFO. */
  private async readSmallBlob(repo: string, digest: string, what: string): Promise<Buffer | undefined> {
    const path = this.blobPath(repo, digest);
    // O_NONBLOCK: a FIFO put in a blob's place must not block the open.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK).catch((error: unknown) => {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw new AiboxError('INVALID_FILE', `registry ${this.location}: cannot read ${what} at ${path}: ${errorCode(error)}`, `check the permissions of ${this.location}`);
    });
    if (!handle) return undefined;
    try {
      const info = await handle.stat();
      if (!info.isFile() || info.size > MAX_MANIFEST_BYTES) {
        throw new AiboxError('INVALID_FILE', `registry ${this.location}: ${what} at ${path} is not a file of at most ${MAX_MANIFEST_BYTES} bytes`, 'publish the pack again');
      }
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  /** Runs `change` while holding `index.json.lock` (created with O_EXCL), waiting up to LOCK_WAIT_MS for it. */
  private async withIndexLock(repo: string, change: () => Promise<void>): Promise<void> {
    const lock = `${this.indexPath(repo)}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        await (await open(lock, 'wx', 0o644)).close();
        break;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
        if (Date.now() > deadline) {
          throw new AiboxError('CONFLICT', `registry ${this.location}: ${lock} is held by another publisher (waited ${LOCK_WAIT_MS / 1000} s)`, `if no aibox is publishing to ${this.location}, remove ${lock}`);
        }
        await sleep(10 + Math.random() * 40);
      }
    }
    try {
      await change();
    } finally {
      await rm(lock, { force: true });
    }
  }
}
