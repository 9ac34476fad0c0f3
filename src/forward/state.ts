import { join } from 'node:path';
import { z } from 'zod';
import { parseJson } from '../core/json.js';
import { readRegularFile, writeFileAtomic } from '../core/files.js';
import { withLock } from '../core/lock.js';

/**
 * The forwards aibox asked the shared connection for. ssh cannot list a
 * master's forwards, so aibox keeps them with the master's pid: when that
 * master is gone (stopped sandbox, ControlPersist expired), so are they.
 */
const stateSchema = z
  .object({
    version: z.literal(1),
    master: z.number().int().positive(),
    forwards: z.array(z.object({ bind: z.string(), local: z.number().int(), remote: z.number().int(), since: z.string() }).strict()),
  })
  .strict();

export type ForwardState = z.infer<typeof stateSchema>;
export type ActiveForward = ForwardState['forwards'][number];

export function forwardStatePath(instanceDir: string): string {
  return join(instanceDir, 'forwards.json');
}

/** The recorded forwards; a missing or unreadable file means none (it is only a record, never the truth). */
export async function readForwardState(instanceDir: string): Promise<ForwardState | undefined> {
  const text = await readRegularFile(forwardStatePath(instanceDir)).catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = stateSchema.safeParse(parseJson(text));
  return parsed.success ? parsed.data : undefined;
}

async function writeForwardState(instanceDir: string, state: ForwardState): Promise<void> {
  await writeFileAtomic(forwardStatePath(instanceDir), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Read, change, write of forwards.json under its lock: two `aibox port-forward`
 * at once on one instance both land (unlocked, the later write drops the
 * earlier one's entry). `change` gets the live forwards of `master` and
 * returns the ones to record; nothing is written when it throws.
 */
export function updateForwardState(instanceDir: string, master: number, change: (active: ActiveForward[]) => Promise<ActiveForward[]>, onWait: (holder: number) => void): Promise<ActiveForward[]> {
  return withLock(`${forwardStatePath(instanceDir)}.lock`, async () => {
    const forwards = await change(liveForwards(await readForwardState(instanceDir), master));
    await writeForwardState(instanceDir, { version: 1, master, forwards });
    return forwards;
  }, onWait);
}

/** The recorded forwards that belong to the master running now (pid), none when it is another or none. */
export function liveForwards(state: ForwardState | undefined, masterPid: number | undefined): ActiveForward[] {
  if (!state || masterPid === undefined || state.master !== masterPid) return [];
  return state.forwards;
}
