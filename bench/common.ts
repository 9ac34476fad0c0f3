/** What both benchmarks need: medians, timing, and a description of the machine they ran on. */
import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { host } from '../test/helpers/cli.js';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return (performance.now() - start) / 1000;
}

export async function timedAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

export function must(result: { code: number; stderr: string }, what: string): void {
  if (result.code !== 0) throw new Error(`${what} failed: ${result.stderr}`);
}

export const seconds = (value: number) => `${value.toFixed(3)} s`;

/** Cores, CPU, memory, kernel, podman, runsc and Node: compare numbers within one machine only. */
export async function machine(): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? 'unknown CPU';
  const runsc = host('runsc', ['--version']).stdout.split('\n')[0] ?? '';
  const podman = host('podman', ['--version']).stdout.trim();
  return `${cpus().length} cores (${model}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Linux ${release()}, ${podman}, ${runsc}, Node ${process.version}`;
}

/** The 1-minute load average: other work on a 2-core machine shows in every number. */
export function load(): string {
  return loadavg()[0]?.toFixed(2) ?? '?';
}
