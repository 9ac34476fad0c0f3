import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { writeFileIfChanged } from '../core/files.js';
import { packageRoot } from '../image/package-root.js';
import { containerUlimits } from '../sandbox/host.js';
import { Podman, type ContainerInfo } from '../sandbox/podman.js';
import { DENY_PAGE, PROXY_CONFIG_DIR, type SquidFiles } from './squid-config.js';

/**
 * The egress proxy of one sandbox: Debian's squid in its own hardened container
 * (`<instance>-egress`, runc, no capability, read-only root, user proxy), on podman's
 * default bridge, its config in a volume of the same name that aibox writes from the host.
 */

/** Marks the proxy container and its config volume: the value is the sandbox instance. */
export const LABEL_EGRESS = 'dev.aibox.egress';
const PROXY_REPOSITORY = 'localhost/aibox-proxy';

export function proxyName(instance: string): string {
  return `${instance}-egress`;
}

/** localhost/aibox-proxy:<hash of the system image and the Containerfile>. */
export async function proxyImageTag(systemTag: string): Promise<string> {
  const containerfile = await readFile(join(packageRoot(), 'images', 'proxy', 'Containerfile'));
  return `${PROXY_REPOSITORY}:${createHash('sha256').update(`${systemTag}\0`).update(containerfile).digest('hex').slice(0, 16)}`;
}

/** Builds the proxy image FROM the sandbox image's system stage unless it exists (one apt-get install, ~15 s). */
export async function ensureProxyImage(ctx: Context, systemTag: string): Promise<string> {
  const tag = await proxyImageTag(systemTag);
  const podman = new Podman(ctx.run);
  if (await podman.imageExists(tag)) return tag;
  ctx.out.progress(`building the egress proxy image ${tag}…`);
  await ctx.run('podman', [
    'build', '--runtime', 'runc', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192',
    '--build-arg', `SYSTEM=${systemTag}`, '--tag', tag, join(packageRoot(), 'images', 'proxy'),
  ]);
  return tag;
}

/** The `podman run` arguments of a proxy (pure). */
export function proxyRunArgs(instance: string, image: string, ulimits: { nofile: number; nproc: number }): string[] {
  const name = proxyName(instance);
  return [
    '--detach',
    '--name', name,
    '--runtime', 'runc',
    '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges',
    '--read-only',
    '--read-only-tmpfs',
    '--pids-limit', '256',
    '--memory', '256m',
    '--cpus', '1',
    '--ulimit', `nofile=${ulimits.nofile}:${ulimits.nofile}`,
    '--ulimit', `nproc=${ulimits.nproc}:${ulimits.nproc}`,
    '--volume', `${name}:${PROXY_CONFIG_DIR}:ro`,
    '--label', `${LABEL_EGRESS}=${instance}`,
    image,
  ];
}

/** Writes squid.conf and the deny page into the proxy's config volume (created when absent). Whether anything changed. */
export async function writeProxyConfig(podman: Podman, instance: string, files: SquidFiles): Promise<boolean> {
  const name = proxyName(instance);
  let volume = await podman.inspectVolume(name);
  if (volume && volume.labels[LABEL_EGRESS] !== instance) {
    throw new AiboxError('CONFLICT', `volume ${name} was not made by aibox for ${instance}'s egress proxy`, `remove it if it is yours: podman volume rm ${name}`);
  }
  if (!volume) {
    await podman.createVolume(name, { [LABEL_EGRESS]: instance });
    volume = await podman.inspectVolume(name);
  }
  if (!volume) throw new AiboxError('PROCESS_FAILED', `podman did not create volume ${name}`, 'check podman: podman volume ls');
  return writeConfigFiles(volume.mountpoint, files);
}

/** The host folder of a proxy's config volume, from its inspect (no podman call). */
export function proxyConfigDir(proxy: ContainerInfo): string | undefined {
  return proxy.Mounts.find((mount) => mount.Destination === PROXY_CONFIG_DIR)?.Source;
}

/** squid.conf and the deny page into the config volume's folder on the host. Whether anything changed. */
export async function writeConfigFiles(dir: string, files: SquidFiles): Promise<boolean> {
  // squid runs as user proxy: the folder and files are root's, readable by all.
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const conf = await writeFileIfChanged(join(dir, 'squid.conf'), files['squid.conf'], 0o644);
  const page = await writeFileIfChanged(join(dir, DENY_PAGE), files[DENY_PAGE], 0o644);
  return conf || page;
}

/** The proxy container, or undefined; one without aibox's label for this instance is refused. */
export async function ownProxy(podman: Podman, instance: string): Promise<ContainerInfo | undefined> {
  return requireOwnProxy(instance, await podman.inspectContainer(proxyName(instance)));
}

/** The proxy as inspected, refused without aibox's label for this instance. */
export function requireOwnProxy(instance: string, info: ContainerInfo | undefined): ContainerInfo | undefined {
  if (info && info.Config.Labels?.[LABEL_EGRESS] !== instance) {
    throw new AiboxError('CONFLICT', `container ${proxyName(instance)} was not made by aibox (it lacks the label ${LABEL_EGRESS}=${instance})`, `remove it if it is yours: podman rm ${proxyName(instance)}`);
  }
  return info;
}

/**
 * Tells a running squid to re-read its config (new ACLs apply to new requests; open
 * tunnels stay): SIGHUP, what `squid -k reconfigure` sends (which refuses to signal
 * squid as the container's PID 1). Sent from here to squid's host PID (runc, no
 * PID namespace in between), which saves a podman call.
 */
export function reconfigureProxy(instance: string, proxy: ContainerInfo): void {
  if (!proxy.State.Pid) throw new AiboxError('PROCESS_FAILED', `the egress proxy ${proxyName(instance)} has no process to reload`, `see why: podman logs ${proxyName(instance)}`);
  process.kill(proxy.State.Pid, 'SIGHUP');
}

/** Removes the proxy (of an older image) if there is one, then runs a new one with `image`. */
export async function replaceProxy(ctx: Context, instance: string, image: string, existing: ContainerInfo | undefined): Promise<void> {
  const podman = new Podman(ctx.run);
  if (existing) await podman.remove(proxyName(instance));
  await podman.runContainer(proxyRunArgs(instance, image, await containerUlimits()));
}
