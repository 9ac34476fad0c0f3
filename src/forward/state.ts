import { join } from 'node:path';
import { z } from 'zod';
import { parseJson } from '../core/json.js';
import { readRegularFile, writeFileAtomic } from '../core/files.js';

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

export async function writeForwardState(instanceDir: string, state: ForwardState): Promise<void> {
  await writeFileAtomic(forwardStatePath(instanceDir), `${JSON.stringify(state, null, 2)}\n`);
}

/** The recorded forwards that belong to the master running now (pid), none when it is another or none. */
export function liveForwards(state: ForwardState | undefined, masterPid: number | undefined): ActiveForward[] {
  if (!state || masterPid === undefined || state.master !== masterPid) return [];
  return state.forwards;
}
