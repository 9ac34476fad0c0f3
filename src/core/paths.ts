import { AiboxError } from './errors.js';
import { join } from 'node:path';

/** Where aibox keeps its files on the host: XDG base directories under $HOME. */
export interface Paths {
  home: string;
  configDir: string;
  dataDir: string;
  stateDir: string;
  /** Downloaded pack layers, by digest ($XDG_CACHE_HOME/aibox). */
  cacheDir: string;
  sshConfig: string;
  /** One folder per sandbox instance: keys, host key, known_hosts, state. */
  instanceDir(instance: string): string;
}

export function resolvePaths(env: NodeJS.ProcessEnv): Paths {
  const home = env.HOME;
  if (!home) throw new AiboxError('MISSING_PREREQ', 'HOME is not set', 'set HOME to your home directory');
  const xdg = (name: string, fallback: string) => {
    const value = env[name];
    return value && value.startsWith('/') ? value : join(home, fallback);
  };
  const dataDir = join(xdg('XDG_DATA_HOME', '.local/share'), 'aibox');
  return {
    home,
    configDir: join(xdg('XDG_CONFIG_HOME', '.config'), 'aibox'),
    dataDir,
    stateDir: join(xdg('XDG_STATE_HOME', '.local/state'), 'aibox'),
    cacheDir: join(xdg('XDG_CACHE_HOME', '.cache'), 'aibox'),
    sshConfig: join(home, '.ssh', 'config'),
    instanceDir: (instance) => join(dataDir, 'instances', instance),
  };
}
