import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AiboxError } from '../core/errors.js';

/** The aibox package folder (holds images/), found from wherever this code runs. */
export function packageRoot(from = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && existsSync(join(dir, 'images'))) {
      const name: unknown = JSON.parse(readFileSync(manifest, 'utf8')).name;
      if (name === 'aibox') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new AiboxError('MISSING_PREREQ', `cannot find the aibox package (with images/) above ${from}`, 'reinstall aibox');
    }
    dir = parent;
  }
}

/** The single-file build of aibox that is installed into the image (on the host, dist/aibox.mjs is its launcher). */
export function bundlePath(): string {
  const path = join(packageRoot(), 'dist', 'aibox-cli.mjs');
  if (!existsSync(path)) throw new AiboxError('MISSING_PREREQ', `${path} does not exist`, 'build aibox first: npm run build');
  return path;
}
