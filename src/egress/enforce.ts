import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/settings.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { findOnPath, installHint } from '../core/runner.js';
import { writeFileIfChanged } from '../core/files.js';
import { ensureImage, planCurrentImage } from '../image/build.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { Podman, type ContainerInfo } from '../sandbox/podman.js';
import { SANDBOX_SSH_PORT } from '../sandbox/spec.js';
import { nftRuleset } from './nft-rules.js';
import { ensureProxyImage, LABEL_EGRESS, ownProxy, proxyConfigDir, proxyImageTag, proxyName, reconfigureProxy, replaceProxy, requireOwnProxy, writeConfigFiles, writeProxyConfig } from './proxy.js';
import { proxyEnvFile } from './proxy-env.js';
import { PROXY_PORT, squidFiles, type SquidFiles } from './squid-config.js';

/**
 * Egress enforcement of one sandbox, from the host: its proxy (config from the
 * effective policy), the nftables ruleset in its network namespace (which a
 * container restart recreates, so it is applied after every start), and the proxy
 * environment file its shells source.
 */

export interface EgressReport {
  proxy: string;
  /** http://ADDRESS:PORT, as the sandbox's shells get it. */
  proxyUrl: string;
  rules: number;
}

/** The proxy's files for the effective policy. */
export function proxyFilesFor(policy: EffectivePolicy): SquidFiles {
  const origin = policy.egress.origin;
  const index = policy.layers.findIndex((layer) => layer.origin === origin);
  const upper = policy.layers.slice(0, Math.max(index, 0)).map((layer) => layer.origin);
  return squidFiles({ rules: policy.egress.value, origin, upper });
}

/** The policy's `direct` egress rules, which the sandbox reaches without the proxy. */
function directRules(policy: EffectivePolicy): { address: string; ports: number[] }[] {
  return policy.egress.value.filter((rule) => rule.direct).map((rule) => ({ address: rule.host, ports: rule.ports }));
}

/** Address of a running container on podman's default bridge. */
function bridgeAddress(name: string, address: string | null | undefined): string {
  if (address) return address;
  throw new AiboxError('PROCESS_FAILED', `container ${name} has no address on podman's bridge network`, `aibox needs podman's default network: podman network inspect podman`);
}

export interface EnforceOptions {
  /** The proxy as the caller already inspected it (`info` undefined: there is none), which saves an inspect. */
  proxy?: { info: ContainerInfo | undefined };
}

/**
 * Starts (or reconfigures) the sandbox's proxy, then locks the sandbox's network
 * namespace to it and writes its shells' proxy variables. Called between `podman init`
 * and `podman start` of the sandbox (so its first process already runs under the
 * rules) and by `aibox start` on a running one. A usual start costs three podman
 * calls: the proxy's start, one inspect of both containers, and nsenter.
 */
export async function enforceEgress(ctx: Context, instance: string, config: Config, policy: EffectivePolicy, toolpacksDir: string, options: EnforceOptions = {}): Promise<EgressReport> {
  const podman = new Podman(ctx.run);
  const before = options.proxy ? options.proxy.info : await ownProxy(podman, instance);
  await readyProxy(ctx, podman, instance, config, policy, before);
  const found = await podman.inspectContainers([instance, proxyName(instance)]);
  const proxy = requireOwnProxy(instance, found.get(proxyName(instance)));
  if (!proxy?.State.Running) throw new AiboxError('PROCESS_FAILED', `the egress proxy ${proxyName(instance)} did not start`, `see why: podman logs ${proxyName(instance)}`);
  const proxyAddress = await lockNetwork(ctx, instance, found.get(instance), proxy, policy);
  const proxyUrl = `http://${proxyAddress}:${PROXY_PORT}`;
  await writeProxyEnv(toolpacksDir, proxyUrl);
  return { proxy: proxyName(instance), proxyUrl, rules: policy.egress.value.length };
}

/**
 * The proxy running the current image with the policy's config. The usual case (the
 * proxy of the current image exists; its config folder is known from its inspect)
 * costs at most a `podman start`; a first start or a new image builds what is missing
 * and runs a new proxy, which reads its config as it starts.
 */
async function readyProxy(ctx: Context, podman: Podman, instance: string, config: Config, policy: EffectivePolicy, existing: ContainerInfo | undefined): Promise<void> {
  const plan = await planCurrentImage(config);
  const image = await proxyImageTag(plan.systemTag);
  const files = proxyFilesFor(policy);
  const dir = existing?.ImageName === image ? proxyConfigDir(existing) : undefined;
  if (existing && dir) {
    const changed = await writeConfigFiles(dir, files);
    if (!existing.State.Running) await podman.start(proxyName(instance));
    else if (changed) reconfigureProxy(instance, existing);
    return;
  }
  if (!(await podman.imageExists(plan.systemTag)) && (await ensureImage(ctx, plan))) ctx.out.info(`Built image ${plan.tag}`);
  await ensureProxyImage(ctx, plan.systemTag);
  await writeProxyConfig(podman, instance, files);
  await replaceProxy(ctx, instance, image, existing);
}

/** Puts the ruleset into the running sandbox's network namespace; returns the proxy's address. */
async function lockNetwork(ctx: Context, instance: string, sandbox: ContainerInfo | undefined, proxy: ContainerInfo, policy: EffectivePolicy): Promise<string> {
  // Running, or initialized (`podman init`: its network namespace exists, its process has not started).
  const pid = sandbox?.State.Pid;
  if (!pid || !(sandbox.State.Running || sandbox.State.Status === 'initialized')) throw new AiboxError('PROCESS_FAILED', `${instance} is not running, so its egress rules cannot be applied`, `see why: podman logs ${instance}`);
  const proxyAddress = bridgeAddress(proxyName(instance), proxy.NetworkSettings?.IPAddress);
  const gateway = bridgeAddress(instance, sandbox.NetworkSettings?.Gateway);
  await applyRuleset(ctx, pid, nftRuleset({ proxy: { address: proxyAddress, port: PROXY_PORT }, gateway, sshPort: SANDBOX_SSH_PORT, direct: directRules(policy) }));
  return proxyAddress;
}

/** Replaces the `inet aibox` table in the network namespace of the process `pid` (one nft transaction). */
export async function applyRuleset(ctx: Context, pid: number, ruleset: string): Promise<void> {
  // nsenter would only say that it could not execute nft.
  if (!(await findOnPath('nft', ctx.env))) throw new AiboxError('MISSING_PREREQ', 'nft (nftables) is not installed: aibox cannot lock the sandbox\'s network to its egress proxy', installHint('nft'));
  await ctx.run('nsenter', ['--target', String(pid), '--net', 'nft', '-f', '-'], { input: ruleset });
}

/** `/opt/toolpacks/.aibox/proxy.sh` in the sandbox: root's folder and file in the packs volume, which dev only reads. */
async function writeProxyEnv(toolpacksDir: string, proxyUrl: string): Promise<void> {
  const dir = join(toolpacksDir, '.aibox');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeFileIfChanged(join(dir, 'proxy.sh'), proxyEnvFile(proxyUrl), 0o644);
}

/**
 * `aibox policy apply`: the proxy's config from the effective policy, the ruleset (the
 * policy's direct rules) and squid told to re-read it; the sandbox keeps running. With
 * both containers from one inspect, this costs one podman call. A stopped proxy gets
 * its config at the next start.
 */
export async function reloadEgress(ctx: Context, instance: string, sandbox: ContainerInfo, proxy: ContainerInfo | undefined, policy: EffectivePolicy): Promise<'reloaded' | 'unchanged' | 'not-running'> {
  const dir = proxy && proxyConfigDir(proxy);
  if (!proxy?.State.Running || !dir) return 'not-running';
  const changed = await writeConfigFiles(dir, proxyFilesFor(policy));
  if (sandbox.State.Running) await lockNetwork(ctx, instance, sandbox, proxy, policy);
  if (!changed) return 'unchanged';
  reconfigureProxy(instance, proxy);
  return 'reloaded';
}

export async function stopEgress(ctx: Context, instance: string): Promise<void> {
  const podman = new Podman(ctx.run);
  if ((await ownProxy(podman, instance))?.State.Running) await podman.stop(proxyName(instance));
}

/** Removes the proxy container and its config volume. */
export async function removeEgress(ctx: Context, instance: string): Promise<void> {
  const podman = new Podman(ctx.run);
  if (await ownProxy(podman, instance)) await podman.remove(proxyName(instance));
  if ((await podman.inspectVolume(proxyName(instance)))?.labels[LABEL_EGRESS] === instance) await podman.removeVolume(proxyName(instance));
}
