import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

/**
 * Writes a file atomically: a temporary file beside it, fsync, rename. A crash
 * leaves either the old or the new content, never half. A symlinked target
 * (dotfiles managers) is written through, so the link survives.
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o600): Promise<void> {
  const target = await realpath(path).catch(() => path);
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** The file's text, or undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** writeFileAtomic, skipped when the file already holds exactly this content. */
export async function writeFileIfChanged(path: string, content: string, mode = 0o600): Promise<boolean> {
  if ((await readFileIfExists(path)) === content) return false;
  await writeFileAtomic(path, content, mode);
  return true;
}
