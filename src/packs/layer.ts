import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';
import { streamProcess } from '../core/runner.js';

/** Media types of a pack artifact (docs/packs.md). */
export const MEDIA_TYPES = {
  artifact: 'application/vnd.aibox.pack.v1',
  config: 'application/vnd.aibox.pack.config.v1+json',
  layerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
} as const;

export type LayerCompression = 'zstd' | 'gzip';

export function compressionOf(mediaType: string): LayerCompression {
  if (mediaType === MEDIA_TYPES.layerZstd) return 'zstd';
  if (mediaType === MEDIA_TYPES.layerGzip) return 'gzip';
  throw new AiboxError('INVALID_FILE', `unsupported pack layer media type ${mediaType}`, `packs have one layer of ${MEDIA_TYPES.layerZstd} or ${MEDIA_TYPES.layerGzip}`);
}

/** Why one archive entry may not be extracted into a pack folder, or undefined when it is safe. */
export function entryProblem(header: Pick<Header, 'name' | 'type' | 'linkname' | 'mode'>): string | undefined {
  const name = header.name;
  if (name.startsWith('/')) return 'an absolute path';
  const normalized = posix.normalize(name);
  if (normalized === '..' || normalized.startsWith('../') || name.split('/').includes('..')) return 'a path with ".."';
  const type = header.type ?? 'file';
  if (!['file', 'directory', 'symlink', 'link'].includes(type)) return `a ${type} entry (only files, folders and links inside the pack)`;
  const mode = header.mode ?? 0;
  if (mode & 0o6000) return 'a setuid or setgid file';
  if (mode & 0o002 && type !== 'symlink') return 'a world-writable file (the sandbox user could change the pack)';
  if (type === 'symlink' || type === 'link') {
    const target = header.linkname ?? '';
    if (target.startsWith('/')) return `a link to the absolute path ${target}`;
    const resolved = posix.normalize(type === 'symlink' ? posix.join(posix.dirname(normalized), target) : target);
    if (resolved === '..' || resolved.startsWith('../')) return `a link to ${target}, outside the pack`;
  }
  return undefined;
}

/**
 * Why an entry would change what an earlier one put in place, or undefined. tar
 * replaces a path given twice and writes through the archive's own links, so the
 * extracted pack would differ from what aibox read (an approved install script's
 * digest is taken from the archive). `seen`: the earlier entries' paths and types.
 */
export function shadowProblem(header: Pick<Header, 'name' | 'type'>, seen: Map<string, string>): string | undefined {
  const path = posix.normalize(header.name).replace(/\/+$/, '');
  const type = header.type ?? 'file';
  const parts = path.split('/');
  for (let end = 1; end < parts.length; end++) {
    const parent = parts.slice(0, end).join('/');
    if (seen.get(parent) === 'symlink') return `a path through the link ${parent} (of the archive)`;
  }
  const earlier = seen.get(path);
  seen.set(path, type);
  return earlier && !(earlier === 'directory' && type === 'directory') ? 'a second entry for the same path' : undefined;
}

/**
 * Reads the whole layer and refuses it when any entry could land outside the
 * pack folder or weaken it (absolute paths, "..", devices, escaping links,
 * setuid), or would change an earlier entry. Runs before a single byte is extracted.
 */
export async function checkLayer(path: string, compression: LayerCompression, what: string): Promise<void> {
  const decompress = streamProcess(compression, ['-dc'], { inputFile: path });
  const parser = extract();
  let problem: string | undefined;
  const seen = new Map<string, string>();
  parser.on('entry', (header, stream, next) => {
    const why = entryProblem(header) ?? shadowProblem(header, seen);
    if (why && !problem) problem = `${header.name}: ${why}`;
    stream.on('end', next);
    stream.resume();
  });
  try {
    await Promise.all([pipeline(decompress.stdout, parser), decompress.done]);
  } catch (error) {
    if (!problem) throw new AiboxError('INVALID_FILE', `${what}: the layer is not a readable ${compression} tar archive`, 'rebuild and republish the pack: aibox pack build DIR && aibox pack publish DIR', { cause: error });
  }
  if (problem) throw new AiboxError('INVALID_FILE', `${what} is refused: its archive holds ${problem}`, 'the pack is unsafe to install; tell its maintainer');
}

/** A reproducible layer of a folder's contents: sorted names, no timestamps or owners of the build machine. */
export async function createLayer(run: Runner, dir: string, output: string, compression: LayerCompression): Promise<void> {
  const compress = compression === 'zstd' ? 'zstd -q -T0 -10' : 'gzip -n -6';
  await run('bash', ['-o', 'pipefail', '-c', `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -C "$1" -cf - . | ${compress} > "$2"`, 'bash', dir, output]);
}
