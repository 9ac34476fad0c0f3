import { createTwoFilesPatch } from 'diff';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readRegularFile, writeFileAtomic } from '../core/files.js';
import { removeBlock, upsertBlock } from './config-block.js';

export interface ConfigChange {
  path: string;
  changed: boolean;
  /** Unified diff of the change, empty when nothing changes. */
  diff: string;
}

async function applyEdit(path: string, edit: (text: string) => string, dryRun: boolean): Promise<ConfigChange> {
  const before = (await readRegularFile(path)) ?? '';
  const after = edit(before); // throws on malformed markers, before anything is written
  const changed = after !== before;
  const diff = changed ? createTwoFilesPatch(path, path, before, after, '', '', { context: 2 }) : '';
  if (changed && !dryRun) {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, after, 0o600);
  }
  return { path, changed, diff };
}

/** Writes (or with dryRun only shows) the instance's managed block in the user's ssh config. */
export function writeManagedBlock(path: string, instance: string, lines: readonly string[], dryRun = false): Promise<ConfigChange> {
  return applyEdit(path, (text) => upsertBlock(text, instance, lines, path), dryRun);
}

export function removeManagedBlock(path: string, instance: string, dryRun = false): Promise<ConfigChange> {
  return applyEdit(path, (text) => removeBlock(text, instance, path), dryRun);
}
