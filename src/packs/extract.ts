import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { AiboxError } from '../core/errors.js';
import { pipeProcess, runProcess } from '../core/runner.js';
import type { LayerCompression } from './layer.js';
import { checkBlob, sha256File } from './registry.js';
import { TarGate } from './tar-gate.js';

/** tar's record size, in 512-byte blocks (1 MiB; its default of 10 KiB costs a system call per 10 KiB). */
const TAR_RECORD_BLOCKS = 2048;
/** How much of the archive the gate reads after each skip (a fresh buffer each: the gate keeps slices of it). */
const GATE_READ_BYTES = 8 * 1024;

export interface ExtractOptions {
  /**
   * The layer's compressed bytes: a local file (just downloaded, or the host's layer
   * cache), not trusted until it matched `digest` and `size`.
   */
  file: string;
  digest: string;
  size: number;
  /** Where the file came from and what it is, for a mismatch: `registry LOCATION: blob D of java does not match…`. */
  source: { location: string; what: string };
  compression: LayerCompression;
  /**
   * An empty, private folder (the caller removes it when this throws). The decompressed
   * archive is kept beside it, in `<into>.tar`, while this runs.
   */
  into: string;
  /** The pack, for messages. */
  what: string;
}

function unreadable(options: ExtractOptions, error: unknown): AiboxError {
  const detail = error instanceof Error ? error.message : String(error);
  return new AiboxError('INVALID_FILE', `${options.what}: its layer is not a readable ${options.compression} tar archive (${detail})`, 'rebuild and republish the pack: aibox pack build DIR && aibox pack publish DIR', { cause: error });
}

/**
 * The decompressor writes the archive straight into `archive` while Node hashes the
 * same file on the other core: no decompressed byte crosses Node. A layer that does not
 * match is reported by its digest (even when decompression failed too), not by zstd's
 * symptom of it.
 */
async function decompressInto(options: ExtractOptions, archive: string): Promise<void> {
  const file = await open(archive, 'wx', 0o600);
  try {
    const decompress = pipeProcess(options.compression, ['-dc', options.file], { stdout: file.fd });
    decompress.stdin.end();
    const [hashed, decompressed] = await Promise.allSettled([sha256File(options.file), decompress.done]);
    if (hashed.status === 'rejected') throw hashed.reason;
    checkBlob(options.source.location, options.source.what, options, hashed.value);
    if (decompressed.status === 'rejected') {
      const error: unknown = decompressed.reason;
      throw error instanceof AiboxError && error.code === 'MISSING_PREREQ' ? error : unreadable(options, error);
    }
  } finally {
    await file.close();
  }
}

/**
 * Reads every header of the archive (TarGate), seeking over file data; throws on the
 * first entry it refuses. Synchronous reads: one per entry or so (460 for a JDK), each a
 * thread-pool round trip when asynchronous (70 ms against 7 here); it blocks only as long.
 */
function gateArchive(archive: string, what: string): void {
  const gate = new TarGate(what);
  const fd = openSync(archive, 'r');
  try {
    const { size } = fstatSync(fd);
    for (let at = 0; at < size; ) {
      const skip = Math.min(gate.skippable, size - at);
      gate.skip(skip);
      at += skip;
      if (at === size) break;
      const buffer = Buffer.allocUnsafe(Math.min(GATE_READ_BYTES, size - at));
      const bytesRead = readSync(fd, buffer, 0, buffer.length, at);
      if (bytesRead === 0) break;
      gate.push(buffer.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    closeSync(fd);
  }
  gate.end();
}

/**
 * A pack layer into `into`, in three steps on one private copy of its archive:
 * decompress the layer file while hashing it (its digest and size checked before
 * anything reads the archive), read every header (TarGate), and only then let `tar`
 * extract that same archive. So tar never sees an entry aibox has not approved, and
 * every byte it reads came from a layer that matched the digest. tar runs
 * without any capability when aibox runs as root: it cannot make device files or
 * change owners (the gate has already refused such entries). Nothing in `into` may be
 * used unless this resolves.
 */
export async function extractLayer(options: ExtractOptions): Promise<void> {
  const archive = `${options.into}.tar`;
  try {
    await decompressInto(options, archive);
    gateArchive(archive, options.what);
    const tar = ['-x', '-b', String(TAR_RECORD_BLOCKS), '--no-same-owner', '-C', options.into, '-f', archive];
    const asRoot = ['--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', 'tar', ...tar];
    const result = await (process.getuid?.() === 0 ? runProcess('setpriv', asRoot, { allowFailure: true }) : runProcess('tar', tar, { allowFailure: true }));
    if (result.exitCode !== 0) {
      throw new AiboxError('PROCESS_FAILED', `${options.what}: extracting it into ${options.into} failed (${result.stderr.trim().split('\n').pop() || `exit code ${result.exitCode}`})`, 'check the free space and permissions of the packs volume: podman volume inspect');
    }
  } finally {
    await rm(archive, { force: true });
  }
}
