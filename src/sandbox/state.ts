import { rm } from 'node:fs/promises';
import { parseJson } from '../core/json.js';
import { join } from 'node:path';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { readRegularFile, writeFileAtomic } from '../core/files.js';
import { PROFILE_NAMES } from './profiles.js';

/** What aibox remembers about an instance between runs (kept by `rm`, dropped by `rm --volumes`). */
const stateSchema = z
  .object({
    version: z.literal(1),
    instance: z.string(),
    port: z.number().int().min(1024).max(65535),
    runtime: z.enum(['gvisor', 'runc']),
    profile: z.enum(PROFILE_NAMES),
    image: z.string(),
    createdAt: z.string(),
    /** The toolpacks volume's folder on the host, where aibox installs packs (absent: made by an older aibox). */
    toolpacks: z.string().optional(),
  })
  .strict();

export type InstanceState = z.infer<typeof stateSchema>;

export function statePath(instanceDir: string): string {
  return join(instanceDir, 'state.json');
}

export async function readState(instanceDir: string): Promise<InstanceState | undefined> {
  const path = statePath(instanceDir);
  const text = await readRegularFile(path);
  if (text === undefined) return undefined;
  const corrupted = (why: string) =>
    new AiboxError(
      'INVALID_FILE',
      `state file ${path} is corrupted (${why})`,
      `delete it and start again: rm ${path} (volumes and keys are kept)`,
    );
  const data = parseJson(text);
  if (data === undefined) throw corrupted('not JSON');
  const parsed = stateSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw corrupted(`${issue?.path.join('.') || 'top level'}: ${issue?.message}`);
  }
  return parsed.data;
}

export async function writeState(instanceDir: string, state: InstanceState): Promise<void> {
  await writeFileAtomic(statePath(instanceDir), `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeState(instanceDir: string): Promise<void> {
  await rm(statePath(instanceDir), { force: true });
}
