import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { packageRoot } from './package-root.js';

/** The single-file build of aibox that is installed into the image. */
export function bundlePath(): string {
  const path = join(packageRoot(), 'dist', 'aibox.mjs');
  if (!existsSync(path)) throw new AiboxError('MISSING_PREREQ', `${path} does not exist`, 'build aibox first: npm run build');
  return path;
}
