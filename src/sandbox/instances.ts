import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { withLock } from '../core/lock.js';
import type { Paths } from '../core/paths.js';
import { isPortFree } from './host.js';
import { resolveInstance, type Instance } from './instance.js';
import { Podman } from './podman.js';
import { LABEL_PROFILE, LABEL_RUNTIME } from './spec.js';
import { readState } from './state.js';

/** How far above the first port (setting ssh.port) a new sandbox looks for a free one. */
const PORT_RANGE = 200;

/**
 * Runs a command on one instance while no other aibox command changes it (start,
 * stop, rm, rotate-host-key): two `aibox start` of a new sandbox at once create it
 * once. A lock left by a killed process is taken over.
 */
export function withInstanceLock<T>(ctx: Context, instance: Instance, fn: () => Promise<T>): Promise<T> {
  return withLock(join(ctx.paths.stateDir, 'locks', `${instance.name}.lifecycle`), fn, (holder) =>
    ctx.out.info(`waiting for another aibox command on ${instance.name} (process ${holder})…`),
  );
}

/** The names of every instance with a state folder on this host. */
async function knownNames(paths: Paths): Promise<string[]> {
  return readdir(join(paths.dataDir, 'instances')).catch(() => []);
}

/**
 * The SSH port for a new sandbox: the first port from `first` up that is free on
 * 127.0.0.1 and not kept by another instance's state (a stopped sandbox keeps its
 * port), so every instance has its own, stable across stop, start and re-creation.
 */
export async function choosePort(paths: Paths, instance: Instance, first: number): Promise<number> {
  const kept = new Set<number>();
  for (const name of await knownNames(paths)) {
    if (name === instance.name) continue;
    const state = await readState(paths.instanceDir(name)).catch(() => undefined);
    if (state) kept.add(state.port);
  }
  for (let port = first; port < first + PORT_RANGE && port <= 65535; port++) {
    if (!kept.has(port) && (await isPortFree(port))) return port;
  }
  throw new AiboxError('CONFLICT', `no free port on 127.0.0.1 from ${first} to ${first + PORT_RANGE - 1} for ${instance.name}`, 'choose one: aibox start --port PORT (or aibox config set ssh.port PORT)');
}

export interface InstanceSummary {
  name: string;
  state: 'running' | 'stopped' | 'absent';
  port?: number;
  runtime?: string;
  profile?: string;
  image?: string;
  ssh: string;
}

/** Every sandbox aibox knows on this host: a state folder (kept by `rm`) or a container with aibox's label. */
export async function listInstances(ctx: Context): Promise<InstanceSummary[]> {
  const containers = new Map((await new Podman(ctx.run).listOwnContainers()).map((container) => [container.name, container]));
  const names = [...new Set([...(await knownNames(ctx.paths)), ...containers.keys()])].sort();
  const summaries: InstanceSummary[] = [];
  for (const name of names) {
    let instance: Instance;
    try {
      instance = resolveInstance(ctx.paths, name);
    } catch {
      continue; // not a name aibox would give
    }
    const state = await readState(instance.dir).catch(() => undefined);
    const container = containers.get(name);
    summaries.push({
      name,
      state: container ? (container.running ? 'running' : 'stopped') : 'absent',
      port: container?.port ?? state?.port,
      runtime: container?.labels[LABEL_RUNTIME] ?? state?.runtime,
      profile: container?.labels[LABEL_PROFILE] ?? state?.profile,
      image: container?.image ?? state?.image,
      ssh: `ssh ${name}`,
    });
  }
  return summaries;
}
