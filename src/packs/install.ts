import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/settings.js';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { withLock } from '../core/lock.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { loadPolicyFor } from '../policy/load.js';
import { decide } from '../policy/query.js';
import type { Instance } from '../sandbox/instance.js';
import { requireRunning } from '../sandbox/lifecycle.js';
import { checkLayer, compressionOf } from './layer.js';
import { findLockFile, readLock, writeLock, type PackLock } from './lockfile.js';
import { parsePackSpec, type PackRequest } from './manifest.js';
import { resolvePackVars } from './pack-env.js';
import { openPackRegistry } from './registry-config.js';
import { resolvePacks, type ResolvedPack } from './resolve.js';
import { ensureCacheDirs, prepareInstall, extractLayer, readInstalled, removePackDir, TOOLPACKS, writeInstalled, type Installed, type SandboxTarget } from './sandbox-store.js';

export interface InstallOptions {
  frozen?: boolean;
  /** The project's lock (.aibox/packs.lock): versions it names are kept; the report carries the updated one. */
  lock: PackLock;
  /** Whether there is a lock file at all (--frozen needs one). */
  hasLockFile: boolean;
  /**
   * Checks that the sandbox is aibox's and running (podman, ~0.15 s). Called only when
   * something is to be installed or the sandbox did not answer: a pack already there
   * needs one SSH round trip, which the pinned host key already ties to the sandbox.
   */
  ensureRunning?: () => Promise<void>;
}

export interface InstallReport {
  packs: { name: string; version: string; digest: string; signedBy: string; outcome: 'installed' | 'already-installed'; downloaded: boolean }[];
  lock: PackLock;
  lockFile?: string;
}

/** Everything the policy must allow before a pack is installed: the pack itself and the endpoints it needs. */
export function packDenials(policy: EffectivePolicy, pack: ResolvedPack): string[] {
  const denials: string[] = [];
  const allowed = decide(policy, { kind: 'pack', pack: `${pack.name}@${pack.version}` });
  if (!allowed.allowed) denials.push(allowed.explanation);
  for (const endpoint of pack.manifest.network.requires) {
    const [host = '', port = '443'] = endpoint.split(':');
    const egress = decide(policy, { kind: 'egress', host, port: Number(port) });
    if (!egress.allowed) denials.push(`${pack.name}@${pack.version} needs ${endpoint}: ${egress.explanation}`);
  }
  return denials;
}

function blobPath(ctx: Context, digest: string): string {
  return join(ctx.paths.cacheDir, 'blobs', digest.replace(':', '/'));
}

/**
 * The pack's layer on the host, downloaded once per digest (content-addressed:
 * a layer already there is neither downloaded nor checked again). A layer is
 * kept only after its digest matched and every archive entry was found safe.
 */
async function fetchLayer(ctx: Context, registry: Awaited<ReturnType<typeof openPackRegistry>>, pack: ResolvedPack): Promise<{ path: string; downloaded: boolean }> {
  const path = blobPath(ctx, pack.layer.digest);
  const checked = `${path}.checked`;
  if (existsSync(checked) && (await stat(path).catch(() => undefined))?.size === pack.layer.size) return { path, downloaded: false };
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  ctx.out.progress(`downloading ${pack.name}@${pack.version} (${(pack.layer.size / 1e6).toFixed(1)} MB)…`);
  await registry.downloadBlob(pack.name, pack.layer.digest, path);
  ctx.out.progress(`checking ${pack.name}@${pack.version}…`);
  await checkLayer(path, compressionOf(pack.layer.mediaType), `pack ${pack.reference}`);
  await writeFile(checked, '');
  return { path, downloaded: true };
}

/** The sha256 of the pack's install script, which the policy must approve (method script). */
async function approveScript(policy: EffectivePolicy, pack: ResolvedPack, scriptFile: Buffer): Promise<void> {
  const digest = `sha256:${createHash('sha256').update(scriptFile).digest('hex')}`;
  if (!policy.approvedScripts.value.includes(digest)) {
    throw new AiboxError('POLICY_DENIED', `the install script of ${pack.name}@${pack.version} (${digest}) is not approved: it is not in packs.approved_scripts of ${policy.approvedScripts.origin}`, `if it was reviewed, add ${digest} to packs.approved_scripts in ${policy.approvedScripts.origin}`);
  }
}

/**
 * Installs packs into a running sandbox: resolve and verify everything first
 * (versions, dependencies, signatures, policy), download and check each layer,
 * then, holding the instance's install lock, extract each into
 * /opt/toolpacks/NAME/VERSION and record it. No restart; the next shell has it.
 */
export async function installPacks(ctx: Context, target: SandboxTarget, config: Config, policy: EffectivePolicy, requests: readonly PackRequest[], options: InstallOptions): Promise<InstallReport> {
  const { container } = target;
  const registry = await openPackRegistry(ctx, config);
  const { lock } = options;
  if (options.frozen && !options.hasLockFile) throw new AiboxError('USAGE', '--frozen needs a lock file, and there is no project here (.aibox or .git)', 'run it in the project, or pass --lock FILE');
  ctx.out.progress(`resolving ${requests.map((request) => request.name).join(', ')}…`);
  const ensureRunning = options.ensureRunning ?? (async () => {});
  // What is installed is read while the registry answers (the two are independent).
  const [packs, installedBefore] = await Promise.all([
    resolvePacks(registry, policy, requests, lock, Boolean(options.frozen)),
    readInstalled(ctx.run, target).catch(async (error: unknown) => {
      await ensureRunning(); // the clearer error when the sandbox is not running
      throw error;
    }),
  ]);
  const denials = packs.flatMap((pack) => packDenials(policy, pack));
  if (denials.length > 0) throw new AiboxError('POLICY_DENIED', denials.join('; '), 'change the policy file named above, or ask its owner');
  if (packs.some((pack) => installedBefore.packs[pack.name]?.digest !== pack.digest)) await ensureRunning();
  for (const pack of packs) {
    if (pack.manifest.install.method === 'nix') await requireNix(ctx, container, pack);
  }

  const layers = new Map<string, { path: string; downloaded: boolean }>();
  for (const pack of packs) {
    if (installedBefore.packs[pack.name]?.digest === pack.digest) continue;
    const layer = await fetchLayer(ctx, registry, pack);
    if (pack.manifest.install.method === 'script') await approveScript(policy, pack, await scriptFrom(ctx, layer.path, pack));
    layers.set(pack.name, layer);
  }

  const report: InstallReport = { packs: [], lock: lockWith(lock, packs) };
  const already = (pack: ResolvedPack) => report.packs.push({ name: pack.name, version: pack.version, digest: pack.digest, signedBy: pack.signedBy, outcome: 'already-installed', downloaded: false });
  if (layers.size === 0) {
    packs.forEach(already); // nothing to change: no lock, no podman exec
  } else await withLock(join(ctx.paths.stateDir, 'locks', `${container}.install`), async () => {
    const installed = await prepareInstall(ctx.run, container);
    for (const pack of packs) {
      const layer = layers.get(pack.name);
      if (!layer || installed.packs[pack.name]?.digest === pack.digest) {
        already(pack);
        continue;
      }
      ctx.out.progress(`installing ${pack.name}@${pack.version} into ${container}…`);
      await extractLayer(ctx.run, container, layer.path, compressionOf(pack.layer.mediaType), pack.name, pack.version);
      await runInstallStep(ctx, container, pack);
      const previous = installed.packs[pack.name];
      recordPack(installed, pack, registry.location, config);
      await writeInstalled(ctx.run, container, installed);
      if (previous && previous.version !== pack.version) await removePackDir(ctx.run, container, pack.name, previous.version);
      await ensureCacheDirs(ctx.run, container, pack.manifest.filesystem.caches.map((cache) => cache.path));
      report.packs.push({ name: pack.name, version: pack.version, digest: pack.digest, signedBy: pack.signedBy, outcome: 'installed', downloaded: layer.downloaded });
    }
  }, (holder) => ctx.out.info(`waiting for another install into ${container} (process ${holder})…`));

  return report;
}

function lockWith(lock: PackLock, packs: readonly ResolvedPack[]): PackLock {
  const next: PackLock = { version: 1, packs: { ...lock.packs } };
  for (const pack of packs) next.packs[pack.name] = { version: pack.version, digest: pack.digest };
  return next;
}

function recordPack(installed: Installed, pack: ResolvedPack, registry: string, config: Config): void {
  const dir = `${TOOLPACKS}/${pack.name}/${pack.version}`;
  installed.packs[pack.name] = {
    version: pack.version,
    digest: pack.digest,
    layer: pack.layer.digest,
    registry,
    installedAt: new Date().toISOString(),
    path: pack.manifest.env.path.map((entry) => `${dir}/${entry}`),
    vars: resolvePackVars(pack.manifest.env.vars, dir, config),
    caches: pack.manifest.filesystem.caches,
    source: 'install',
  };
}

async function requireNix(ctx: Context, container: string, pack: ResolvedPack): Promise<void> {
  const found = await ctx.run('podman', ['exec', container, 'sh', '-c', 'command -v nix'], { allowFailure: true });
  if (found.exitCode !== 0) {
    throw new AiboxError('MISSING_PREREQ', `${pack.name}@${pack.version} installs with nix (install.method nix), and this sandbox's image has no nix`, 'use a docker-layer version of the pack, or an image with nix (image.from)');
  }
}

/** The method's own step after the pack's files are in place: the approved script, or nix. */
async function runInstallStep(ctx: Context, container: string, pack: ResolvedPack): Promise<void> {
  const dir = `${TOOLPACKS}/${pack.name}/${pack.version}`;
  const { method, script, packages } = pack.manifest.install;
  if (method === 'script' && script) {
    await ctx.run('podman', ['exec', '--user', '0', '--env', `PACK_DIR=${dir}`, container, 'sh', `${dir}/${script}`]);
  } else if (method === 'nix' && packages.length > 0) {
    await ctx.run('podman', ['exec', '--user', '1000:1000', container, 'nix', '--extra-experimental-features', 'nix-command flakes', 'profile', 'install', ...packages]);
  }
}

/** The install script's bytes, read from the checked layer on the host (before anything runs in the sandbox). */
async function scriptFrom(ctx: Context, layerPath: string, pack: ResolvedPack): Promise<Buffer> {
  const script = pack.manifest.install.script;
  if (!script) throw new AiboxError('INVALID_FILE', `${pack.reference} uses install.method script but names no install.script`, 'fix the manifest and republish');
  const dir = join(ctx.paths.cacheDir, 'scripts', pack.layer.digest.replace(':', '-'));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await ctx.run('tar', ['-x', `--${compressionOf(pack.layer.mediaType)}`, '-f', layerPath, '-C', dir, `./${script}`]);
  return readFile(join(dir, script));
}

/** Removes packs from a running sandbox (their folders and environment). */
export async function uninstallPacks(ctx: Context, target: SandboxTarget, names: readonly string[]): Promise<string[]> {
  const { container } = target;
  return withLock(join(ctx.paths.stateDir, 'locks', `${container}.install`), async () => {
    const installed = await readInstalled(ctx.run, target, { asRoot: true });
    const missing = names.filter((name) => !installed.packs[name]);
    if (missing.length > 0) {
      const present = Object.keys(installed.packs);
      throw new AiboxError('NOT_FOUND', `not installed in ${container}: ${missing.join(', ')}`, present.length ? `installed: ${present.join(', ')}` : 'nothing is installed');
    }
    const removed = names.map((name) => ({ name, version: installed.packs[name]?.version ?? '' }));
    for (const { name } of removed) delete installed.packs[name];
    await writeInstalled(ctx.run, container, installed);
    for (const { name, version } of removed) await removePackDir(ctx.run, container, name, version);
    return removed.map(({ name, version }) => `${name}@${version}`);
  }, (holder) => ctx.out.info(`waiting for another install into ${container} (process ${holder})…`));
}

/** `aibox install` on the host: the instance must be aibox's and running; specs may be comma-separated. */
export async function installIntoSandbox(ctx: Context, instance: Instance, specs: readonly string[], options: { frozen?: boolean; lock?: string }): Promise<InstallReport> {
  const requests = specs.flatMap((spec) => spec.split(',')).filter(Boolean).map(parsePackSpec);
  const config = await loadConfig(ctx.paths);
  const policy = await loadPolicyFor(ctx, config);
  const lockFile = options.lock ?? findLockFile(ctx.cwd, ctx.paths.home);
  const report = await installPacks(ctx, { container: instance.name, sshConfig: instance.sshConfig }, config, policy, requests, {
    frozen: options.frozen,
    lock: await readLock(lockFile),
    hasLockFile: Boolean(lockFile),
    ensureRunning: () => requireRunning(ctx, instance),
  });
  if (lockFile) await writeLock(lockFile, report.lock);
  return { ...report, lockFile };
}
