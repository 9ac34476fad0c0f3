import { z } from 'zod';
import { askHost } from '../broker/client.js';
import type { Context } from '../core/context.js';
import type { InstallReport } from './install.js';
import { findLockFile, lockSchema, readLock, writeLock } from './lockfile.js';
import { parsePackSpec } from './manifest.js';

const reportSchema = z.object({
  packs: z.array(z.object({ name: z.string(), version: z.string(), digest: z.string(), signedBy: z.string(), outcome: z.enum(['installed', 'already-installed']), downloaded: z.boolean() })),
  lock: lockSchema,
});

/**
 * `aibox install` in a terminal inside the sandbox: the request goes to the
 * host side (src/broker/), which verifies and installs exactly as on the host;
 * the project's lock file is read and written here, where the project lives.
 */
export async function installThroughHost(ctx: Context, specs: readonly string[], options: { frozen?: boolean; lock?: string }, port?: number): Promise<InstallReport> {
  const packs = specs.flatMap((spec) => spec.split(',')).filter(Boolean);
  packs.forEach(parsePackSpec); // a typo fails here, with the same message as on the host
  const lockFile = findLockFile(ctx.cwd, ctx.paths.home, options.lock);
  const report = reportSchema.parse(await askHost(ctx, { v: 1, op: 'install', packs, frozen: Boolean(options.frozen), lock: await readLock(lockFile), hasLockFile: Boolean(lockFile) }, port));
  if (lockFile) await writeLock(lockFile, report.lock);
  return { ...report, lockFile };
}
