import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding an exclusive lock file (O_EXCL, with the holder's pid). A
 * lock whose holder died (kill -9) is taken over; `onWait` is told once when
 * another process holds it.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, onWait: (holder: number) => void): Promise<T> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let told = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (!holder || !alive(holder)) {
        // Dead holder, or a lock file being written right now: only a stale one is removed.
        if (holder) await rm(path, { force: true });
        else await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (!told) onWait(holder);
      told = true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
