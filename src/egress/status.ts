import { join } from 'node:path';
import type { Context } from '../core/context.js';
import { readRegularFile } from '../core/files.js';
import { Podman, type ContainerInfo } from '../sandbox/podman.js';
import { ownProxy, proxyConfigDir, proxyName } from './proxy.js';
import { enforcedRules, PROXY_PORT } from './squid-config.js';

/** A sandbox's egress proxy as `aibox status` shows it: its state and what its config enforces. */
export interface EgressStatus {
  proxy: string;
  state: 'running' | 'stopped' | 'absent';
  /** Its address on podman's bridge while it runs. */
  address?: string;
  port: number;
  /** The network.egress rules its squid.conf enforces and the policy file they came from. */
  rules?: number;
  origin?: string;
}

export async function egressStatus(ctx: Context, instance: string): Promise<EgressStatus> {
  const podman = new Podman(ctx.run);
  const name = proxyName(instance);
  const info = await ownProxy(podman, instance);
  if (!info) return { proxy: name, state: 'absent', port: PROXY_PORT };
  const running = info.State.Running;
  const address = running ? (info.NetworkSettings?.IPAddress ?? undefined) : undefined;
  return { proxy: name, state: running ? 'running' : 'stopped', address, port: PROXY_PORT, ...(await enforcedConfig(info)) };
}

/** What the proxy's config volume enforces (written by aibox from the host), if it is readable. */
export async function enforcedConfig(proxy: ContainerInfo): Promise<{ rules: number; origin: string } | undefined> {
  const dir = proxyConfigDir(proxy);
  const conf = dir && (await readRegularFile(join(dir, 'squid.conf')).catch(() => undefined));
  return conf === undefined ? undefined : enforcedRules(conf);
}

/** The `aibox status` line of the proxy. */
export function describeEgress(status: EgressStatus, startCommand: string): string {
  const rules = status.rules === undefined ? '' : `, ${status.rules} rule${status.rules === 1 ? '' : 's'} from ${status.origin}`;
  if (status.state === 'absent') return `${status.proxy} absent: the sandbox reaches nothing outside (create it: ${startCommand})`;
  if (status.state === 'stopped') return `${status.proxy} stopped${rules} (${startCommand} starts it)`;
  return `${status.proxy} running at ${status.address ?? '?'}:${status.port}${rules}`;
}
