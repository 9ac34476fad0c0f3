import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { readRegularFile, writeFileAtomic } from '../core/files.js';
import { mergeMachineSettings } from './vscode.js';

/** ~/.vscode-server/data/Machine/settings.json: the VS Code server's machine-wide settings. */
export function machineSettingsPath(home: string): string {
  return join(home, '.vscode-server', 'data', 'Machine', 'settings.json');
}

/**
 * Inside the sandbox as dev (the start's shell setup runs it): telemetry off merged into the
 * machine settings, the file's other bytes and its mode kept. Returns whether it changed.
 */
export async function applyMachineSettings(home: string): Promise<boolean> {
  const file = machineSettingsPath(home);
  const mode = await stat(file).then((info) => info.mode & 0o777, () => 0o600);
  const current = await readRegularFile(file);
  if (current === undefined && (await stat(file).then(() => true, () => false))) {
    throw new AiboxError('INVALID_FILE', `${file} is not a regular file of at most 1 MiB; aibox left it unchanged`, `move ${file} aside, then run aibox start again`);
  }
  const merged = mergeMachineSettings(current ?? '', file);
  if (merged === undefined) return false;
  await writeFileAtomic(file, merged, mode);
  return true;
}
