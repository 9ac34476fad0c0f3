import { mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { crashPoint } from '../core/crash.js';
import { AiboxError } from '../core/errors.js';
import { installHint } from '../core/runner.js';
import { socketAnswers, writeFileIfChanged } from '../core/files.js';
import { enforceEgress, proxyName, removeEgress, requireOwnProxy, stopEgress, type EnforceOptions } from '../egress/index.js';
import { ensureImage, planCurrentImage } from '../image/build.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { loadPolicyFor } from '../policy/load.js';
import { openSharedConnection, waitForSsh } from '../ssh/client.js';
import { controlSocket, hostEntry } from '../ssh/entry.js';
import { ensureInstanceKeys, rotateHostKey } from '../ssh/keys.js';
import { removeManagedBlock, writeManagedBlock, type ConfigChange } from '../ssh/user-config.js';
import { describeSetup, setupShell, type SetupReport } from '../shell/index.js';
import type { Config } from '../config/settings.js';
import { containerUlimits, hostFacts, isPortFree } from './host.js';
import { aiboxCommand, type Instance } from './instance.js';
import { choosePort, withInstanceLock } from './instances.js';
import { Podman, type ContainerInfo } from './podman.js';
import { parseProfile, resolveResources, type ProfileName } from './profiles.js';
import { parseRuntime, resolveRuntime, type RuntimeKind } from './runtime.js';
import { alignVolumeOwners, containerIdBase, ownSshFolder, sandboxIdBase, volumeFolders } from './idmap.js';
import { existingOwnVolumes, ownContainer, requireOwn } from './ownership.js';
import { instanceVolumes, LABEL_INSTANCE, LABEL_PROFILE, LABEL_RUNTIME, LABEL_VARIANT_BASE, podmanCreateArgs, SANDBOX_SSH_PORT, TOOLPACKS_HINT, TOOLPACKS_TARGET } from './spec.js';
import { readState, removeState, writeState, type InstanceState } from './state.js';

export interface StartOptions {
  profile?: string;
  runtime?: string;
  port?: number;
  /** An image to create the sandbox from instead of the current base image (an image variant, already built). */
  image?: string;
}

export type StartOutcome = 'created' | 'started' | 'already-running';

/** Writes the SSH entry twice: aibox's own file, and the managed block in ~/.ssh/config. */
export async function writeSshEntries(ctx: Context, instance: Instance, port: number, dryRun = false): Promise<ConfigChange> {
  const lines = hostEntry({ instance: instance.name, port, keys: instance.keys, controlDir: instance.controlDir });
  if (!dryRun) {
    await mkdir(instance.controlDir, { recursive: true, mode: 0o700 });
    await writeFileIfChanged(instance.sshConfig, `${lines.join('\n')}\n`);
  }
  return writeManagedBlock(ctx.paths.sshConfig, instance.name, lines, dryRun);
}

function publishedPort(info: ContainerInfo): number | undefined {
  const binding = info.HostConfig.PortBindings?.[`${SANDBOX_SSH_PORT}/tcp`]?.[0];
  return binding ? Number(binding.HostPort) : undefined;
}

/** Creates or starts the sandbox (one aibox command per instance at a time). */
export function startSandbox(ctx: Context, instance: Instance, options: StartOptions): Promise<{ outcome: StartOutcome; state: InstanceState; shell?: SetupReport }> {
  return withInstanceLock(ctx, instance, () => start(ctx, instance, options, true));
}

/**
 * podman recorded aibox's gVisor wrapper as the runtime: makes sure it is still there, with
 * the flags of the gVisor installed now, and warns when the container carries the packs
 * volume's mount hint that this release would overlay (spec.ts, TOOLPACKS_HINT).
 */
async function checkGvisorWrapper(ctx: Context, instance: Instance, container: ContainerInfo): Promise<void> {
  const runtime = await resolveRuntime('gvisor', ctx.env, ctx.paths.dataDir);
  if (runtime.toolpacksHint || !container.Config.Annotations?.[`${TOOLPACKS_HINT}.share`]) return;
  ctx.out.warn(`${instance.name} was made for an older gVisor: this one overlays its packs volume (what an install script writes there is lost at restart); re-create it: ${aiboxCommand(instance, 'upgrade --force')} (volumes and packs are kept)`);
}

/** `recover`: finish an upgrade a kill left midway (not when called by upgrade itself). */
async function start(ctx: Context, instance: Instance, options: StartOptions, recover = false): Promise<{ outcome: StartOutcome; state: InstanceState; shell?: SetupReport }> {
  // Every input is read and checked before the first change: config, policy, state, container, volumes, ssh config.
  const podman = new Podman(ctx.run);
  const config = await loadConfig(ctx.paths);
  const policy = await loadPolicyFor(ctx, config);
  policy.warnings.forEach((warning) => ctx.out.warn(warning));
  const requestedProfile = options.profile === undefined ? undefined : parseProfile(options.profile);
  const requestedRuntime = options.runtime === undefined ? undefined : parseRuntime(options.runtime);
  const state = await readState(instance.dir);
  // The sandbox and its egress proxy in one podman call.
  const found = await podman.inspectContainers([instance.name, proxyName(instance.name)]);
  let existing = requireOwn(instance, found.get(instance.name));
  const proxy = { info: requireOwnProxy(instance.name, found.get(proxyName(instance.name))) };
  if (!existing && recover && (await recoverUpgrade(podman, instance))) existing = await ownContainer(podman, instance);

  if (existing) {
    const current = stateFromContainer(instance, existing, state);
    const ignored = [
      requestedProfile && requestedProfile !== current.profile && `--profile ${requestedProfile}`,
      requestedRuntime && requestedRuntime !== 'auto' && requestedRuntime !== current.runtime && `--runtime ${requestedRuntime}`,
      options.image && options.image !== current.image && `--image ${options.image}`,
    ].filter(Boolean);
    if (ignored.length > 0) {
      ctx.out.warn(`${instance.name} already exists (${current.runtime}, profile ${current.profile}); to apply ${ignored.join(' ')}: aibox rm --name ${instance.name} && aibox start ${ignored.join(' ')} (volumes are kept)`);
    }
    await writeSshEntries(ctx, instance, current.port, true);
    await ensureInstanceKeys(ctx.run, instance.dir, instance.name);
    await writeSshEntries(ctx, instance, current.port);
    if (existing.State.Running) {
      // The allowlist may have changed since: the proxy gets it, the rules are made sure of.
      await enforce(ctx, instance, config, policy, current.toolpacks, { proxy });
      return { outcome: 'already-running', state: current };
    }
    requireAllowedRuntime(policy, current.runtime);
    // An initialized container (a start cut short before its process ran) holds its port already.
    const initialized = existing.State.Status === 'initialized';
    if (!initialized) await requireFreePort(current.port);
    if (current.runtime === 'gvisor') await checkGvisorWrapper(ctx, instance, existing);
    await alignVolumeOwners(ctx.out, volumeFolders(existing), containerIdBase(existing));
    await startEnforced(ctx, instance, config, policy, current.toolpacks, { initialized, proxy, idBase: containerIdBase(existing) });
    await waitUntilReachable(ctx, instance, current.port);
    const shell = await setUpShell(ctx, instance, config);
    return { outcome: 'started', state: current, shell };
  }

  const profile = requestedProfile ?? state?.profile ?? parseProfile(config.profile);
  if (profile === 'default' && existsSync(join(ctx.cwd, '.idea'))) {
    ctx.out.info('This project has .idea/: for JetBrains Gateway use more resources: aibox start --profile jetbrains');
  }
  const runtime = await resolveRuntime(requestedRuntime ?? state?.runtime ?? parseRuntime(config.runtime), ctx.env, ctx.paths.dataDir);
  requireAllowedRuntime(policy, runtime.kind);
  runtime.warnings.forEach((warning) => ctx.out.warn(warning));
  const resources = resolveResources(profile, hostFacts());
  resources.warnings.forEach((warning) => ctx.out.warn(warning));
  // Each instance its own port, kept in its state: the setting's port, or the next free one.
  const port = options.port ?? state?.port ?? (await choosePort(ctx.paths, instance, config['ssh.port']));
  await requireFreePort(port);
  if (port !== config['ssh.port'] && !options.port && !state) ctx.out.info(`port ${config['ssh.port']} is taken; ${instance.name} gets 127.0.0.1:${port} (kept in its state)`);
  const volumes = instanceVolumes(instance.name, policy.sharedCaches.value);
  const existingVolumes = await existingOwnVolumes(podman, volumes);
  const present = new Set(existingVolumes.map((volume) => volume.name));
  await writeSshEntries(ctx, instance, port, true);

  const keys = await ensureInstanceKeys(ctx.run, instance.dir, instance.name);
  const plan = await planCurrentImage(config);
  if (!options.image && (await ensureImage(ctx, plan))) ctx.out.info(`Built image ${plan.tag}`);
  const image = options.image ?? plan.tag;
  const idBase = sandboxIdBase(runtime.kind);
  await alignVolumeOwners(ctx.out, new Map(existingVolumes.map((volume) => [volume.name, volume.mountpoint])), idBase);
  for (const volume of volumes.filter((candidate) => !present.has(candidate.name))) await podman.createVolume(volume.name, volume.labels);
  const toolpacksVolume = volumes.find((volume) => volume.target === TOOLPACKS_TARGET)?.name ?? '';
  const toolpacks = (await podman.inspectVolume(toolpacksVolume))?.mountpoint;
  if (!toolpacks) throw new AiboxError('PROCESS_FAILED', `podman did not create volume ${toolpacksVolume}`, 'check podman: podman volume ls');
  const args = podmanCreateArgs({
    instance: instance.name,
    image,
    runtime,
    profile,
    port,
    cpus: resources.cpus,
    memoryGiB: resources.memoryGiB,
    sshDir: keys.sandboxSshDir,
    ulimits: await containerUlimits(),
    volumes,
    toolpacksDir: toolpacks,
    idBase,
  });
  const next: InstanceState = {
    version: 1,
    instance: instance.name,
    port,
    runtime: runtime.kind,
    profile,
    image,
    createdAt: new Date().toISOString(),
    toolpacks,
  };
  ctx.out.progress(`starting ${instance.name} (${runtime.kind})…`);
  try {
    await podman.create(args);
    await startEnforced(ctx, instance, config, policy, toolpacks, { proxy, idBase });
    await writeState(instance.dir, next);
    await writeSshEntries(ctx, instance, port);
  } catch (error) {
    // Never leave a half-made sandbox: no container, and the state as it was.
    await podman.remove(instance.name).catch(() => undefined);
    if (state) await writeState(instance.dir, state);
    else await removeState(instance.dir);
    throw error;
  }
  await waitUntilReachable(ctx, instance, port);
  const shell = await setUpShell(ctx, instance, config);
  return { outcome: 'created', state: next, shell };
}

/** Egress enforcement of the running sandbox (egress/): never a sandbox without it. */
async function enforce(ctx: Context, instance: Instance, config: Config, policy: EffectivePolicy, toolpacks: string | undefined, options: EnforceOptions = {}): Promise<void> {
  ctx.out.progress(`enforcing the egress allowlist of ${instance.name}…`);
  const toolpacksDir = toolpacks ?? (await new Podman(ctx.run).inspectVolume(`${instance.name}-toolpacks`))?.mountpoint;
  if (!toolpacksDir) throw new AiboxError('MISSING_PREREQ', `${instance.name} has no toolpacks volume for its proxy settings`, `re-create it (volumes are kept): ${aiboxCommand(instance, 'rm')} && ${aiboxCommand(instance, 'start')}`);
  await enforceEgress(ctx, instance.name, config, policy, toolpacksDir, options);
}

/**
 * Starts a created or stopped sandbox with its egress rules in place before its first
 * process runs: `podman init` makes the new network namespace, the rules go into it,
 * then `podman start` runs sshd. Never a moment of open network; a failure leaves it
 * stopped. `initialized`: a start cut short after its init.
 */
async function startEnforced(ctx: Context, instance: Instance, config: Config, policy: EffectivePolicy, toolpacks: string | undefined, options: { initialized?: boolean; proxy?: EnforceOptions['proxy']; idBase: number }): Promise<void> {
  const podman = new Podman(ctx.run);
  await ownSshFolder(instance.keys.sandboxSshDir, options.idBase);
  if (!options.initialized) await podman.init(instance.name);
  try {
    await enforce(ctx, instance, config, policy, toolpacks, { proxy: options.proxy });
  } catch (error) {
    await podman.stop(instance.name).catch(() => undefined);
    throw error;
  }
  crashPoint('start:before-process');
  await podman.start(instance.name);
}

/** A start outside `start` (upgrade rollback, key rotation): the rules with the policy as it is now. */
async function restartEnforced(ctx: Context, instance: Instance, info: ContainerInfo, toolpacks: string | undefined): Promise<void> {
  const config = await loadConfig(ctx.paths);
  await startEnforced(ctx, instance, config, await loadPolicyFor(ctx, config), toolpacks, { idBase: containerIdBase(info) });
}

/** Login shell and dotfiles, inside the sandbox as dev; a failure is one warning, never a failed start. */
async function setUpShell(ctx: Context, instance: Instance, config: Config): Promise<SetupReport> {
  const repo = config['dotfiles.repo'];
  ctx.out.progress(repo ? `syncing dotfiles from ${repo}…` : `setting up the ${config.shell} login shell…`);
  const { usedPodman, ...report } = await setupShell(ctx.run, { container: instance.name, sshConfig: instance.sshConfig }, config);
  // sshd refused dev until the setup made the login-shell link (an older home volume).
  if (usedPodman) await openSharedConnection(ctx.run, instance.sshConfig, instance.name);
  const messages = describeSetup(report);
  messages.info.forEach((line) => ctx.out.info(line));
  messages.warnings.forEach((line) => ctx.out.warn(line));
  return report;
}

async function waitUntilReachable(ctx: Context, instance: Instance, port: number): Promise<void> {
  ctx.out.progress(`waiting for ${instance.name} to answer on 127.0.0.1:${port}…`);
  await waitForSsh(port, instance.name);
  await openSharedConnection(ctx.run, instance.sshConfig, instance.name);
}

async function requireFreePort(port: number): Promise<void> {
  if (await isPortFree(port)) return;
  throw new AiboxError('CONFLICT', `port ${port} on 127.0.0.1 is already in use`, `choose another: aibox start --port ${port + 1} (or aibox config set ssh.port ${port + 1})`);
}

/** The policy's `sandbox.runtimes`: runc only where the org (and every lower layer) allows it. */
function requireAllowedRuntime(policy: EffectivePolicy, runtime: RuntimeKind): void {
  if (policy.runtimes.value.includes(runtime)) return;
  const fix = runtime === 'runc' ? `use gVisor (${installHint('runsc')}; aibox start --runtime gvisor), or ask the owner of ${policy.runtimes.origin}` : `ask the owner of ${policy.runtimes.origin}`;
  throw new AiboxError('POLICY_DENIED', `the ${runtime} runtime is not allowed: sandbox.runtimes in ${policy.runtimes.origin} allows only ${policy.runtimes.value.join(', ')}`, fix);
}

function stateFromContainer(instance: Instance, info: ContainerInfo, state: InstanceState | undefined): InstanceState {
  const labels = info.Config.Labels ?? {};
  const runtime = labels[LABEL_RUNTIME] === 'runc' ? 'runc' : 'gvisor';
  const profile: ProfileName = labels[LABEL_PROFILE] === 'jetbrains' ? 'jetbrains' : 'default';
  return {
    version: 1,
    instance: instance.name,
    port: publishedPort(info) ?? state?.port ?? 0,
    runtime,
    profile,
    image: info.ImageName,
    createdAt: state?.createdAt ?? '',
    toolpacks: state?.toolpacks,
  };
}

/**
 * The host folder of the sandbox's toolpacks volume, where aibox installs packs,
 * from its state (no podman call: the no-op install reads installed.json there).
 */
export async function toolpacksDirOf(instance: Instance): Promise<string> {
  const state = await readState(instance.dir);
  if (!state) throw notFound(instance);
  if (!state.toolpacks) {
    throw new AiboxError('MISSING_PREREQ', `${instance.name} was created by an older aibox, which installed packs another way`, `re-create it (its volumes and installed packs are kept): ${aiboxCommand(instance, 'rm')} && ${aiboxCommand(instance, 'start')}`);
  }
  return state.toolpacks;
}

async function closeMultiplexedConnection(ctx: Context, instance: Instance): Promise<void> {
  if (!existsSync(instance.sshConfig)) return;
  await ctx.run('ssh', ['-F', instance.sshConfig, '-O', 'exit', instance.name], { allowFailure: true });
}

export function stopSandbox(ctx: Context, instance: Instance): Promise<'stopped' | 'not-running'> {
  return withInstanceLock(ctx, instance, () => stop(ctx, instance));
}

async function stop(ctx: Context, instance: Instance): Promise<'stopped' | 'not-running'> {
  const podman = new Podman(ctx.run);
  const info = await ownContainer(podman, instance);
  if (!info) throw notFound(instance);
  await closeMultiplexedConnection(ctx, instance);
  if (!info.State.Running) {
    await stopEgress(ctx, instance.name);
    return 'not-running';
  }
  await podman.stop(instance.name);
  await stopEgress(ctx, instance.name);
  return 'stopped';
}

export function notFound(instance: Instance): AiboxError {
  return new AiboxError('NOT_FOUND', `no sandbox named ${instance.name}`, `create it: ${aiboxCommand(instance, 'start')}`);
}

/** Fails with a clear error unless the sandbox is running and aibox can ssh to it. */
export async function requireRunning(ctx: Context, instance: Instance): Promise<void> {
  const info = await ownContainer(new Podman(ctx.run), instance);
  if (!info) throw notFound(instance);
  if (!info.State.Running) {
    throw new AiboxError('NOT_FOUND', `${instance.name} is not running`, `start it: ${aiboxCommand(instance, 'start')}`);
  }
  if (!existsSync(instance.sshConfig)) {
    throw new AiboxError('MISSING_PREREQ', `no SSH configuration for ${instance.name} at ${instance.sshConfig}`, 'recreate it: aibox setup');
  }
}

/**
 * requireRunning in a millisecond, for `aibox install` and `uninstall`: the shared SSH
 * connection `aibox start` opened answers on its socket (podman takes 0.15 s and 0.17 s of
 * CPU, beside the download). That connection reached the sshd holding this instance's own
 * host key (pinned in its known_hosts), so it is this sandbox, and running: `aibox stop`
 * closes it, and a stopped container's sshd ends it. Without it, podman decides, with the
 * plain error.
 */
export async function requireRunningQuick(ctx: Context, instance: Instance): Promise<void> {
  if (existsSync(instance.sshConfig) && (await socketAnswers(controlSocket(instance.controlDir, instance.name)))) return;
  await requireRunning(ctx, instance);
}

export interface RemoveResult {
  container: boolean;
  volumes: string[];
}

/**
 * Removes the container; with volumes, also its own volumes (build caches
 * included; shared ones are kept), keys, state and SSH block. Everything is
 * checked first; a failure midway says what is already gone.
 */
export function removeSandbox(ctx: Context, instance: Instance, withVolumes: boolean): Promise<RemoveResult> {
  return withInstanceLock(ctx, instance, () => remove(ctx, instance, withVolumes));
}

async function remove(ctx: Context, instance: Instance, withVolumes: boolean): Promise<RemoveResult> {
  const podman = new Podman(ctx.run);
  await recoverUpgrade(podman, instance);
  const info = await ownContainer(podman, instance);
  const volumes = withVolumes ? await existingOwnVolumes(podman, instanceVolumes(instance.name)) : [];
  if (withVolumes) await removeManagedBlock(ctx.paths.sshConfig, instance.name, true); // a malformed block stops here
  if (!info && volumes.length === 0 && !(withVolumes && existsSync(instance.dir))) throw notFound(instance);
  const done: string[] = [];
  try {
    await closeMultiplexedConnection(ctx, instance);
    if (info) {
      await podman.remove(instance.name);
      done.push(`container ${instance.name}`);
    }
    await removeEgress(ctx, instance.name);
    for (const volume of volumes) {
      await podman.removeVolume(volume.name);
      done.push(`volume ${volume.name}`);
    }
    if (withVolumes) {
      await removeManagedBlock(ctx.paths.sshConfig, instance.name);
      await rm(instance.dir, { recursive: true, force: true });
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new AiboxError('PROCESS_FAILED', `removing ${instance.name} stopped midway: ${message}; removed so far: ${done.join(', ') || 'nothing'}`, `run the same command again to remove the rest: ${aiboxCommand(instance, withVolumes ? 'rm --volumes' : 'rm')}`, { cause: error });
  }
  return { container: Boolean(info), volumes: volumes.map((volume) => volume.name) };
}

export interface SandboxStatus {
  instance: string;
  state: 'running' | 'stopped' | 'absent';
  runtime?: string;
  ociRuntime?: string;
  profile?: string;
  image?: { ref: string; current: boolean };
  ssh?: { host: string; address: string; port: number; command: string };
  resources?: { cpus: number; memoryGiB: number };
  ports: { host: string; container: number }[];
  volumes: { name: string; mount: string; readOnly: boolean }[];
}

export async function sandboxStatus(ctx: Context, instance: Instance): Promise<SandboxStatus> {
  const podman = new Podman(ctx.run);
  const info = await ownContainer(podman, instance);
  if (!info) return { instance: instance.name, state: 'absent', ports: [], volumes: [] };
  const state = stateFromContainer(instance, info, await readState(instance.dir).catch(() => undefined));
  const config = await loadConfig(ctx.paths);
  const plan = await planCurrentImage(config).catch(() => undefined);
  const ports = Object.entries(info.HostConfig.PortBindings ?? {}).flatMap(([containerPort, bindings]) =>
    (bindings ?? []).map((binding) => ({ host: `${binding.HostIp || '0.0.0.0'}:${binding.HostPort}`, container: Number.parseInt(containerPort, 10) })),
  );
  return {
    instance: instance.name,
    state: info.State.Running ? 'running' : 'stopped',
    runtime: state.runtime,
    ociRuntime: info.OCIRuntime,
    profile: state.profile,
    image: { ref: info.ImageName, current: await isCurrentSandbox(podman, instance, info, plan?.tag) },
    ssh: { host: instance.name, address: '127.0.0.1', port: state.port, command: `ssh ${instance.name}` },
    resources: { cpus: (info.HostConfig.NanoCpus ?? 0) / 1e9, memoryGiB: (info.HostConfig.Memory ?? 0) / 1024 ** 3 },
    ports,
    volumes: info.Mounts.filter((mount) => mount.Type === 'volume')
      .map((mount) => ({ name: mount.Name ?? '', mount: mount.Destination, readOnly: !mount.RW }))
      .sort((a, b) => a.mount.localeCompare(b.mount)),
  };
}

/**
 * Whether a sandbox is what aibox would make now (else `status` says outdated and
 * `upgrade` re-creates it): the user namespace its runtime gets (idmap.ts), and the
 * current base image or a variant built FROM it (`current` undefined: not known).
 */
async function isCurrentSandbox(podman: Podman, instance: Instance, info: ContainerInfo, current: string | undefined): Promise<boolean> {
  if (containerIdBase(info) !== sandboxIdBase(stateFromContainer(instance, info, undefined).runtime)) return false;
  return current === undefined || info.ImageName === current || current === (await podman.imageLabel(info.ImageName, LABEL_VARIANT_BASE));
}

/** What an upgrade renames the previous container to until the new one runs. */
function previousName(instance: Instance): string {
  return `${instance.name}-aibox-previous`;
}

/**
 * Finishes an upgrade a killed aibox left midway: the new container wins when it
 * exists, else the previous one gets its name back. Runs under the instance lock:
 * in `upgrade` and `rm` first, in `start` when the container is missing. Whether
 * there was anything to finish.
 */
async function recoverUpgrade(podman: Podman, instance: Instance): Promise<boolean> {
  const previous = await podman.inspectContainer(previousName(instance));
  if (previous?.Config.Labels?.[LABEL_INSTANCE] !== instance.name) return false;
  if (await ownContainer(podman, instance)) await podman.remove(previousName(instance));
  else await podman.rename(previousName(instance), instance.name);
  return true;
}

export type UpgradeOutcome = 'upgraded' | 'up-to-date';

/**
 * Re-creates the container from the current base image when it is outdated (or
 * always, with `force`), keeping what lives in volumes and the instance folder:
 * home, workspace, caches, tool packs (baked ones too: they were copied into the
 * packs volume), keys and the pinned host key. The previous
 * container is renamed, not removed, until the new one answers; any failure, or a
 * kill at any point (see recoverUpgrade), leaves a working sandbox, old or new.
 */
export function upgradeSandbox(ctx: Context, instance: Instance, options: { force?: boolean } = {}): Promise<{ outcome: UpgradeOutcome; from: string; to: string }> {
  return withInstanceLock(ctx, instance, async () => {
    const podman = new Podman(ctx.run);
    await recoverUpgrade(podman, instance);
    const info = await ownContainer(podman, instance);
    if (!info) throw notFound(instance);
    const plan = await planCurrentImage(await loadConfig(ctx.paths));
    if (!options.force && (await isCurrentSandbox(podman, instance, info, plan.tag))) return { outcome: 'up-to-date', from: info.ImageName, to: info.ImageName };
    await closeMultiplexedConnection(ctx, instance);
    if (info.State.Running) await podman.stop(instance.name);
    await podman.rename(instance.name, previousName(instance));
    try {
      ctx.out.progress(`re-creating ${instance.name} from ${plan.tag}…`);
      await start(ctx, instance, {});
    } catch (error) {
      await podman.remove(instance.name).catch(() => undefined);
      await podman.rename(previousName(instance), instance.name);
      // The new container may have moved the volumes into its user namespace: back to the old one's.
      await alignVolumeOwners(ctx.out, volumeFolders(info), containerIdBase(info));
      if (info.State.Running) {
        await restartEnforced(ctx, instance, info, (await readState(instance.dir))?.toolpacks);
      }
      throw error;
    }
    await podman.remove(previousName(instance));
    return { outcome: 'upgraded', from: info.ImageName, to: plan.tag };
  });
}

/**
 * Replaces the sandbox's host key and its pin. A running sandbox is restarted so
 * sshd serves the new key (gVisor caches the read-only key mount until then).
 */
export function rotateSandboxHostKey(ctx: Context, instance: Instance): Promise<{ fingerprint: string; restarted: boolean }> {
  return withInstanceLock(ctx, instance, () => rotate(ctx, instance));
}

async function rotate(ctx: Context, instance: Instance): Promise<{ fingerprint: string; restarted: boolean }> {
  const podman = new Podman(ctx.run);
  const info = await ownContainer(podman, instance);
  const state = await readState(instance.dir);
  if (!info && !state) throw notFound(instance);
  const port = info ? stateFromContainer(instance, info, state).port : (state?.port ?? 0);
  await writeSshEntries(ctx, instance, port, true);
  await ensureInstanceKeys(ctx.run, instance.dir, instance.name);
  const fingerprint = await rotateHostKey(ctx.run, instance.keys, instance.name);
  if (!info?.State.Running) return { fingerprint, restarted: false };
  await closeMultiplexedConnection(ctx, instance);
  ctx.out.progress(`restarting ${instance.name} so it serves the new key…`);
  await podman.stop(instance.name);
  await restartEnforced(ctx, instance, info, state?.toolpacks);
  await waitUntilReachable(ctx, instance, port);
  return { fingerprint, restarted: true };
}
