import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { createServer } from 'node:net';

export interface HostFacts {
  cpus: number;
  memoryGiB: number;
}

export function hostFacts(): HostFacts {
  return { cpus: cpus().length, memoryGiB: totalmem() / 1024 ** 3 };
}

/**
 * Container rlimits: podman's defaults exceed this kind of host's hard limits
 * and setting exactly the hard limit fails too, so take a margin below it.
 */
export async function containerUlimits(): Promise<{ nofile: number; nproc: number }> {
  const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
  const hard = (label: string, fallback: number) => {
    const line = limits.split('\n').find((candidate) => candidate.startsWith(label));
    const value = line?.slice(label.length).trim().split(/\s+/)[1];
    if (!value || value === 'unlimited') return fallback;
    return Number(value) || fallback;
  };
  const below = (value: number, cap: number) => Math.max(256, Math.min(cap, Math.floor(value * 0.8)));
  return { nofile: below(hard('Max open files', 1 << 20), 65536), nproc: below(hard('Max processes', 1 << 20), 16384) };
}

/** True when nothing listens on 127.0.0.1:port. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}
