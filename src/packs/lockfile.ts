import { existsSync } from 'node:fs';
import { parseJson } from '../core/json.js';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { readRegularFile, writeFileIfChanged } from '../core/files.js';

/** .aibox/packs.lock: the resolved version and digest of each pack, so installs are reproducible. */
export const lockSchema = z
  .object({
    version: z.literal(1),
    packs: z.record(z.string(), z.object({ version: z.string(), digest: z.string().regex(/^sha256:[a-f0-9]{64}$/) }).strict()),
  })
  .strict();

export type PackLock = z.infer<typeof lockSchema>;

/**
 * The lock file: `--lock FILE` (relative to the caller's folder, which a command server's
 * process is not in), else the project's .aibox/packs.lock at the nearest folder with
 * .aibox or .git (not above home), else none.
 */
export function findLockFile(cwd: string, home: string, given?: string): string | undefined {
  if (given !== undefined) return resolve(cwd, given);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, '.aibox')) || existsSync(join(dir, '.git'))) return join(dir, '.aibox', 'packs.lock');
    if (dir === resolve(home) || dirname(dir) === dir) return undefined;
  }
}

export async function readLock(path: string | undefined): Promise<PackLock> {
  const text = path && (await readRegularFile(path));
  if (!path || text === undefined || text === '') return { version: 1, packs: {} };
  const parsed = lockSchema.safeParse(parseJson(text));
  if (!parsed.success) throw new AiboxError('INVALID_FILE', `${path} is not a valid pack lock file`, `delete it and install again to re-create it: rm ${path}`);
  return parsed.data;
}

export async function writeLock(path: string, lock: PackLock): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(lock.packs).sort(([a], [b]) => a.localeCompare(b)));
  await writeFileIfChanged(path, `${JSON.stringify({ version: 1, packs: sorted }, null, 2)}\n`, 0o644);
}
