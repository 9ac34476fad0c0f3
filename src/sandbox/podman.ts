import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';
import { LABEL_INSTANCE, SANDBOX_SSH_PORT } from './spec.js';

/** The part of `podman inspect` that aibox reads. */
const containerSchema = z.object({
  Id: z.string(),
  Name: z.string(),
  ImageName: z.string(),
  OCIRuntime: z.string(),
  EffectiveCaps: z.array(z.string()).nullish(),
  BoundingCaps: z.array(z.string()).nullish(),
  State: z.object({ Status: z.string(), Running: z.boolean(), Pid: z.number().nullish() }),
  /** The default bridge's address and gateway (egress: the proxy's address, where published ports arrive from). */
  NetworkSettings: z.object({ IPAddress: z.string().nullish(), Gateway: z.string().nullish() }).nullish(),
  Config: z.object({ User: z.string().nullish(), Labels: z.record(z.string(), z.string()).nullish(), Annotations: z.record(z.string(), z.string()).nullish() }),
  HostConfig: z.object({
    CapAdd: z.array(z.string()).nullish(),
    CapDrop: z.array(z.string()).nullish(),
    Privileged: z.boolean().nullish(),
    ReadonlyRootfs: z.boolean(),
    SecurityOpt: z.array(z.string()).nullish(),
    PidsLimit: z.number().nullish(),
    NetworkMode: z.string().nullish(),
    PidMode: z.string().nullish(),
    IpcMode: z.string().nullish(),
    UTSMode: z.string().nullish(),
    UsernsMode: z.string().nullish(),
    IDMappings: z.object({ UidMap: z.array(z.string()).nullish(), GidMap: z.array(z.string()).nullish() }).nullish(),
    Devices: z.array(z.object({ PathOnHost: z.string() })).nullish(),
    NanoCpus: z.number().nullish(),
    Memory: z.number().nullish(),
    PortBindings: z
      .record(z.string(), z.array(z.object({ HostIp: z.string(), HostPort: z.string() })).nullish())
      .nullish(),
  }),
  Mounts: z.array(z.object({ Type: z.string(), Name: z.string().optional(), Source: z.string().optional(), Destination: z.string(), RW: z.boolean() })),
});

export type ContainerInfo = z.infer<typeof containerSchema>;

/** The part of `podman ps --format json` that aibox reads. */
const listedSchema = z.array(
  z.object({
    Names: z.array(z.string()),
    State: z.string(),
    Image: z.string(),
    Labels: z.record(z.string(), z.string()).nullish(),
    Ports: z.array(z.object({ host_port: z.number(), container_port: z.number() })).nullish(),
  }),
);

export interface ListedContainer {
  name: string;
  running: boolean;
  image: string;
  labels: Record<string, string>;
  /** The host port published for the sandbox's SSH port. */
  port?: number;
}

const volumeSchema = z.object({ Name: z.string(), Labels: z.record(z.string(), z.string()).nullish(), Mountpoint: z.string() });

/** Parses podman's JSON output against the schema of what aibox reads from it. */
function parsePodmanJson<T extends z.ZodType>(schema: T, stdout: string, what: string): z.infer<T> {
  let data: unknown;
  try {
    data = JSON.parse(stdout);
  } catch {
    throw new AiboxError('PROCESS_FAILED', `${what} returned unreadable output: ${stdout.slice(0, 80)}`, 'check podman: podman info');
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new AiboxError('PROCESS_FAILED', `${what} returned an unexpected shape: ${parsed.error.issues[0]?.message}`, 'check podman: podman info');
  return parsed.data;
}

/** Typed helpers over the podman CLI; every call goes through the one runner. */
export class Podman {
  constructor(private readonly run: Runner) {}

  /** Containers that carry aibox's instance label naming themselves, running or not. */
  async listOwnContainers(): Promise<ListedContainer[]> {
    const result = await this.run('podman', ['ps', '--all', '--filter', `label=${LABEL_INSTANCE}`, '--format', 'json']);
    return parsePodmanJson(listedSchema, result.stdout.trim() || '[]', 'podman ps').flatMap((container) => {
      const name = container.Names[0];
      const labels = container.Labels ?? {};
      if (!name || labels[LABEL_INSTANCE] !== name) return [];
      const port = container.Ports?.find((published) => published.container_port === SANDBOX_SSH_PORT)?.host_port;
      return [{ name, running: container.State === 'running', image: container.Image, labels, port }];
    });
  }

  async inspectContainer(name: string): Promise<ContainerInfo | undefined> {
    return (await this.inspectContainers([name])).get(name);
  }

  /** Several containers in one podman call (each costs ~0.1–0.3 s), by name; absent ones are left out. */
  async inspectContainers(names: readonly string[]): Promise<Map<string, ContainerInfo>> {
    const result = await this.run('podman', ['container', 'inspect', ...names], { allowFailure: true });
    const missing = result.stderr.split('\n').filter((line) => line.trim() && !/no such container/i.test(line));
    if (result.exitCode !== 0 && missing.length > 0) throw new AiboxError('PROCESS_FAILED', `podman container inspect ${names.join(' ')} failed: ${missing.join(' ').trim()}`);
    const found = result.stdout.trim() ? parsePodmanJson(z.array(containerSchema), result.stdout, `podman inspect ${names.join(' ')}`) : [];
    return new Map(found.map((info) => [info.Name, info]));
  }

  /** One label of a local image; undefined when the image or the label is absent. */
  async imageLabel(ref: string, key: string): Promise<string | undefined> {
    const result = await this.run('podman', ['image', 'inspect', '--format', `{{index .Labels ${JSON.stringify(key)}}}`, ref], { allowFailure: true });
    const value = result.stdout.trim();
    return result.exitCode === 0 && value && value !== '<no value>' ? value : undefined;
  }

  async imageExists(ref: string): Promise<boolean> {
    return (await this.run('podman', ['image', 'exists', ref], { allowFailure: true })).exitCode === 0;
  }

  /** The volume's labels and its folder on the host, or undefined when it does not exist. */
  async inspectVolume(name: string): Promise<{ labels: Record<string, string>; mountpoint: string } | undefined> {
    const result = await this.run('podman', ['volume', 'inspect', name], { allowFailure: true });
    if (result.exitCode !== 0) {
      if (/no such volume/i.test(result.stderr)) return undefined;
      throw new AiboxError('PROCESS_FAILED', `podman volume inspect ${name} failed: ${result.stderr.trim()}`);
    }
    const [volume] = parsePodmanJson(z.array(volumeSchema).min(1), result.stdout, `podman volume inspect ${name}`);
    return volume && { labels: volume.Labels ?? {}, mountpoint: volume.Mountpoint };
  }

  async createVolume(name: string, labels: Record<string, string>): Promise<void> {
    const labelArgs = Object.entries(labels).flatMap(([key, value]) => ['--label', `${key}=${value}`]);
    await this.run('podman', ['volume', 'create', ...labelArgs, name]);
  }

  async removeVolume(name: string): Promise<void> {
    await this.run('podman', ['volume', 'rm', '--force', name]);
  }

  async runContainer(args: readonly string[]): Promise<void> {
    await this.run('podman', ['run', ...args]);
  }

  async create(args: readonly string[]): Promise<void> {
    await this.run('podman', ['create', ...args]);
  }

  /** Sets a created or stopped container up in its runtime (network namespace included) without running its process. */
  async init(name: string): Promise<void> {
    await this.run('podman', ['init', name]);
  }

  async start(name: string): Promise<void> {
    await this.run('podman', ['start', name]);
  }

  async stop(name: string): Promise<void> {
    await this.run('podman', ['stop', '--time', '5', name]);
  }

  async rename(from: string, to: string): Promise<void> {
    await this.run('podman', ['rename', from, to]);
  }

  async remove(name: string): Promise<void> {
    await this.run('podman', ['rm', '--force', '--time', '5', name]);
  }
}
