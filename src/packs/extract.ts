import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { AiboxError } from '../core/errors.js';
import { pipeProcess, type PipedProcess } from '../core/runner.js';
import type { LayerCompression } from './layer.js';
import { TarGate } from './tar-gate.js';

/** tar's record size, in 512-byte blocks (1 MiB; its default of 10 KiB costs a system call per 10 KiB). */
const TAR_RECORD_BLOCKS = 2048;

export interface ExtractOptions {
  /** The layer's compressed bytes, verified: the iteration throws after the last chunk when the digest differs. */
  bytes: AsyncIterable<Uint8Array>;
  compression: LayerCompression;
  /** An empty, private folder (the caller removes it when this throws). */
  into: string;
  /** The pack, for messages. */
  what: string;
  /** Also keeps the compressed bytes here (the host's layer cache); the caller renames it once this succeeds. */
  copyTo?: string;
}

/**
 * tar, without any capability when aibox runs as root: it cannot make device
 * files or change owners (the gate has already refused such entries).
 */
function tarProcess(into: string): PipedProcess {
  const tar = ['-x', '-b', String(TAR_RECORD_BLOCKS), '--no-same-owner', '-C', into, '-f', '-'];
  if (process.getuid?.() !== 0) return pipeProcess('tar', tar, { stdout: 'ignore' });
  return pipeProcess('setpriv', ['--bounding-set=-all', '--inh-caps=-all', '--no-new-privs', 'tar', ...tar], { stdout: 'ignore' });
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

/**
 * One pass over a pack layer as it downloads: hash it (the digest is checked at
 * the end), decompress it, read every archive header (TarGate) and extract only
 * what the gate approved. Nothing in `into` may be used unless this resolves: a
 * layer that fails its digest or any check throws, after its processes have exited.
 */
export async function extractLayer(options: ExtractOptions): Promise<void> {
  const decompress = pipeProcess(options.compression, ['-dc']);
  const tar = tarProcess(options.into);
  const gate = new TarGate(options.what);
  const copy = options.copyTo ? await open(options.copyTo, 'wx', 0o644) : undefined;
  let refused: AiboxError | undefined;
  let broken = false;
  const stop = () => {
    broken = true;
    decompress.kill();
    tar.kill();
  };
  const check = <T>(step: () => T): T => {
    try {
      return step();
    } catch (error) {
      refused = error instanceof AiboxError ? error : new AiboxError('INVALID_FILE', `${options.what}: ${String(error)}`);
      throw refused;
    }
  };
  // The whole layer is read even when decompression fails: a damaged layer is then
  // reported by its digest ("does not match"), not by zstd's symptom of it.
  const feed = async () => {
    for await (const chunk of options.bytes) {
      if (refused) throw refused;
      if (copy) await copy.write(chunk);
      if (!broken) await write(decompress.stdin, chunk).catch(stop);
    }
    decompress.stdin.end();
  };
  const relay = async () => {
    try {
      for await (const chunk of decompress.stdout ?? []) {
        for (const part of check(() => gate.push(chunk as Buffer))) await write(tar.stdin, part);
      }
      await decompress.done; // a failed decompression is reported by its own step
      check(() => gate.end());
    } finally {
      tar.stdin.end();
    }
  };
  let first: { step: string; error: unknown } | undefined;
  const steps = { feed: feed(), relay: relay(), decompress: decompress.done, tar: tar.done };
  const results = await Promise.allSettled(Object.entries(steps).map(([step, done]) => done.catch((error: unknown) => {
    first ??= { step, error };
    stop();
    throw error;
  })));
  await copy?.close();
  if (!first) return;
  // Which to show: the digest (or the download), then the archive check, then the process that failed first.
  const [fed] = results;
  if (fed?.status === 'rejected' && fed.reason instanceof AiboxError && fed.reason !== refused) throw fed.reason;
  if (refused) throw refused;
  const { step, error } = first;
  if (error instanceof AiboxError && error.code === 'MISSING_PREREQ') throw error;
  const detail = error instanceof Error ? error.message : String(error);
  if (step === 'tar') {
    throw new AiboxError('PROCESS_FAILED', `${options.what}: extracting it into ${options.into} failed (${detail})`, 'check the free space and permissions of the packs volume: podman volume inspect', { cause: error });
  }
  throw new AiboxError('INVALID_FILE', `${options.what}: its layer is not a readable ${options.compression} tar archive (${detail})`, 'rebuild and republish the pack: aibox pack build DIR && aibox pack publish DIR', { cause: error });
}
