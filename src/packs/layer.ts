import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';

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

/** A reproducible layer of a folder's contents: sorted names, no timestamps or owners of the build machine. */
export async function createLayer(run: Runner, dir: string, output: string, compression: LayerCompression): Promise<void> {
  const compress = compression === 'zstd' ? 'zstd -q -T0 -10' : 'gzip -n -6';
  await run('bash', ['-o', 'pipefail', '-c', `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -C "$1" -cf - . | ${compress} > "$2"`, 'bash', dir, output]);
}
