import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import type { Paths } from '../core/paths.js';
import { instanceKeys, type InstanceKeys } from '../ssh/keys.js';
import { SHARED_CACHE_PREFIX } from './spec.js';

/** Names a sandbox; prefixes its container, its volumes and its SSH host alias. */
export interface Instance {
  name: string;
  dir: string;
  keys: InstanceKeys;
  /** aibox's own ssh config for this instance (same entry as the managed block). */
  sshConfig: string;
  controlDir: string;
}

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

export const DEFAULT_INSTANCE = 'aibox';

/** An aibox command line for this instance, for hints: `aibox start`, `aibox start --name web`. */
export function aiboxCommand(instance: Pick<Instance, 'name'>, verb: string): string {
  return `aibox ${verb}${instance.name === DEFAULT_INSTANCE ? '' : ` --name ${instance.name}`}`;
}

export function resolveInstance(paths: Paths, name: string): Instance {
  if (name === SHARED_CACHE_PREFIX) {
    throw new AiboxError('USAGE', `the sandbox name "${name}" is reserved (shared build caches use it)`, 'choose another name, e.g. --name myproject');
  }
  if (!NAME.test(name)) {
    throw new AiboxError(
      'USAGE',
      `invalid sandbox name "${name}"`,
      'use 1-40 characters: lowercase letters, digits and "-", starting with a letter (e.g. --name myproject)',
    );
  }
  const dir = paths.instanceDir(name);
  return {
    name,
    dir,
    keys: instanceKeys(dir, name),
    sshConfig: join(dir, 'ssh_config'),
    controlDir: join(paths.stateDir, 'ssh'),
  };
}
