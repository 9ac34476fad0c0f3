import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';

/** The part of `podman inspect` that aibox reads. */
const containerSchema = z.object({
  Id: z.string(),
  ImageName: z.string(),
  OCIRuntime: z.string(),
  State: z.object({ Status: z.string(), Running: z.boolean() }),
  Config: z.object({ Labels: z.record(z.string(), z.string()).nullish() }),
  HostConfig: z.object({
    CapAdd: z.array(z.string()).nullish(),
    CapDrop: z.array(z.string()).nullish(),
    ReadonlyRootfs: z.boolean(),
    SecurityOpt: z.array(z.string()).nullish(),
    NanoCpus: z.number().nullish(),
    Memory: z.number().nullish(),
    PortBindings: z
      .record(z.string(), z.array(z.object({ HostIp: z.string(), HostPort: z.string() })).nullish())
      .nullish(),
  }),
  Mounts: z.array(z.object({ Type: z.string(), Name: z.string().optional(), Destination: z.string(), RW: z.boolean() })),
});

export type ContainerInfo = z.infer<typeof containerSchema>;

/** Typed helpers over the podman CLI; every call goes through the one runner. */
export class Podman {
  constructor(private readonly run: Runner) {}

  async inspectContainer(name: string): Promise<ContainerInfo | undefined> {
    const result = await this.run('podman', ['container', 'inspect', name], { allowFailure: true });
    if (result.exitCode !== 0) {
      if (/no such container/i.test(result.stderr)) return undefined;
      throw new AiboxError('PROCESS_FAILED', `podman container inspect ${name} failed: ${result.stderr.trim()}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(result.stdout);
    } catch {
      throw new AiboxError('PROCESS_FAILED', `podman inspect ${name} returned unreadable output: ${result.stdout.slice(0, 80)}`, 'check podman: podman info');
    }
    const parsed = z.array(containerSchema).min(1).safeParse(data);
    if (!parsed.success) {
      throw new AiboxError('PROCESS_FAILED', `podman inspect ${name} returned an unexpected shape: ${parsed.error.issues[0]?.message}`);
    }
    return parsed.data[0];
  }

  async imageExists(ref: string): Promise<boolean> {
    return (await this.run('podman', ['image', 'exists', ref], { allowFailure: true })).exitCode === 0;
  }

  async ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    if ((await this.run('podman', ['volume', 'exists', name], { allowFailure: true })).exitCode === 0) return;
    const labelArgs = Object.entries(labels).flatMap(([key, value]) => ['--label', `${key}=${value}`]);
    await this.run('podman', ['volume', 'create', ...labelArgs, name]);
  }

  async removeVolume(name: string): Promise<boolean> {
    const result = await this.run('podman', ['volume', 'rm', '--force', name], { allowFailure: true });
    return result.exitCode === 0;
  }

  async runContainer(args: readonly string[]): Promise<void> {
    await this.run('podman', ['run', ...args]);
  }

  async start(name: string): Promise<void> {
    await this.run('podman', ['start', name]);
  }

  async stop(name: string): Promise<void> {
    await this.run('podman', ['stop', '--time', '5', name]);
  }

  async remove(name: string): Promise<void> {
    await this.run('podman', ['rm', '--force', '--time', '5', name], { allowFailure: true });
  }
}
