import { open, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { AiboxError } from '../core/errors.js';
import { pipeProcess, runProcess } from '../core/runner.js';
import type { LayerCompression } from './layer.js';
import { TarGate } from './tar-gate.js';

/** tar's record size, in 512-byte blocks (1 MiB; its default of 10 KiB costs a system call per 10 KiB). */
const TAR_RECORD_BLOCKS = 2048;
/** How much of the archive the gate reads after each skip (a fresh buffer each: the gate keeps slices of it). */
const GATE_READ_BYTES = 64 * 1024;

export interface ExtractOptions {
  /** The layer's compressed bytes, verified: the iteration throws after the last chunk when the digest differs. */
  bytes: AsyncIterable<Uint8Array>;
  compression: LayerCompression;
  /**
   * An empty, private folder (the caller removes it when this throws). The decompressed
   * archive is kept beside it, in `<into>.tar`, while this runs.
   */
  into: string;
  /** The pack, for messages. */
  what: string;
  /** The layer is this file (the host's layer cache): the decompressor reads it, `bytes` (its content) are only hashed. */
  file?: string;
  /** Also keeps the compressed bytes here (the host's layer cache); the caller renames it once this succeeds. */
  copyTo?: string;
}

/** Writes with back-pressure; rejects when the stream closes first (its process exited). */
function write(stream: Writable, chunk: Uint8Array): Promise<void> {
  if (stream.destroyed) return Promise.reject(new Error('closed'));
  if (stream.write(chunk)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      stream.off('drain', drained).off('close', closed);
      if (error) reject(error);
      else resolve();
    };
    const drained = () => settle();
    const closed = () => settle(new Error('closed'));
    stream.on('drain', drained).on('close', closed);
  });
}

function unreadable(options: ExtractOptions, error: unknown): AiboxError {
  const detail = error instanceof Error ? error.message : String(error);
  return new AiboxError('INVALID_FILE', `${options.what}: its layer is not a readable ${options.compression} tar archive (${detail})`, 'rebuild and republish the pack: aibox pack build DIR && aibox pack publish DIR', { cause: error });
}

/**
 * Hashes the layer as it arrives (the digest is checked after its last byte) while the
 * decompressor writes the archive straight into `archive`: no decompressed byte crosses Node.
 */
async function decompressInto(options: ExtractOptions, archive: string): Promise<void> {
  const file = await open(archive, 'wx', 0o600);
  const copy = options.copyTo ? await open(options.copyTo, 'wx', 0o644) : undefined;
  try {
    const decompress = pipeProcess(options.compression, options.file ? ['-dc', options.file] : ['-dc'], { stdout: file.fd });
    let feeding = !options.file; // a decompressor that reads the file has no use for its stdin
    // The whole layer is read even when decompression fails: a damaged layer is then
    // reported by its digest ("does not match"), not by zstd's symptom of it.
    const feed = async () => {
      try {
        for await (const chunk of options.bytes) {
          if (copy) await copy.write(chunk);
          if (feeding) await write(decompress.stdin, chunk).catch(() => (feeding = false));
        }
      } catch (error) {
        decompress.kill();
        throw error;
      } finally {
        decompress.stdin.end();
      }
    };
    const [fed, decompressed] = await Promise.allSettled([feed(), decompress.done]);
    if (fed.status === 'rejected') throw fed.reason;
    if (decompressed.status === 'rejected') {
      const error: unknown = decompressed.reason;
      throw error instanceof AiboxError && error.code === 'MISSING_PREREQ' ? error : unreadable(options, error);
    }
  } finally {
    await Promise.all([file.close(), copy?.close()]);
  }
}

/** Reads every header of the archive (TarGate), seeking over file data; throws on the first entry it refuses. */
async function gateArchive(archive: string, what: string): Promise<void> {
  const gate = new TarGate(what);
  const file = await open(archive);
  try {
    const { size } = await file.stat();
    for (let at = 0; at < size; ) {
      const skip = Math.min(gate.skippable, size - at);
      gate.skip(skip);
      at += skip;
      if (at === size) break;
      const { bytesRead, buffer } = await file.read(Buffer.allocUnsafe(GATE_READ_BYTES), 0, Math.min(GATE_READ_BYTES, size - at), at);
      if (bytesRead === 0) break;
      gate.push(buffer.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    await file.close();
  }
  gate.end();
}

/**
 * A pack layer into `into`, in three steps on one private copy of its archive:
 * decompress it as it downloads (its digest checked at the end), read every header
 * (TarGate), and only then let `tar` extract that same file. So tar never sees an
 * entry aibox has not approved, and every byte it reads matched the digest. tar runs
 * without any capability when aibox runs as root: it cannot make device files or
 * change owners (the gate has already refused such entries). Nothing in `into` may be
 * used unless this resolves.
 */
export async function extractLayer(options: ExtractOptions): Promise<void> {
  const archive = `${options.into}.tar`;
  try {
    await decompressInto(options, archive);
    await gateArchive(archive, options.what);
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
