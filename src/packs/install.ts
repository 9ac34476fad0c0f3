import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Config } from '../config/settings.js';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { AiboxError } from '../core/errors.js';
import { withLock } from '../core/lock.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { loadPolicyFor } from '../policy/load.js';
import { decide } from '../policy/query.js';
import type { Instance } from '../sandbox/instance.js';
import { requireRunningQuick, toolpacksDirOf } from '../sandbox/lifecycle.js';
import { extractLayer } from './extract.js';
import { compressionOf } from './layer.js';
import { findLockFile, readLock, writeLock, type PackLock } from './lockfile.js';
import { parsePackSpec, type PackRequest } from './manifest.js';
import { resolvePackVars } from './pack-env.js';
import type { Registry } from './registry.js';
import { openPackRegistry } from './registry-config.js';
import { resolvePacks, type ResolvedPack } from './resolve.js';
import { cleanStaging, ensureCacheDirs, placePack, readInstalled, removePackDir, TOOLPACKS, writeInstalled, type Installed, type PackStore } from './sandbox-store.js';

const DOWNLOAD_PROGRESS_MS = 250;

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

export interface InstallOptions {
  frozen?: boolean;
  /** The project's lock (.aibox/packs.lock): versions it names are kept; the report carries the updated one. */
  lock: PackLock;
  /** Whether there is a lock file at all (--frozen needs one). */
  hasLockFile: boolean;
  /**
   * Checks that the sandbox is aibox's and running (podman, ~0.15 s). Called only when
   * something is to be installed (installed.json is read on the host), alongside the
   * first download; nothing is put in place before it passed.
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

/**
 * Extracts a pack's layer into `stage` (extract.ts): from the host's layer cache when
 * it holds this digest, else downloaded into a temp file of the cache first, which
 * becomes the cached copy once its digest matched and every entry passed. Returns
 * whether it was downloaded.
 */
export async function extractPack(ctx: Context, registry: Registry, pack: ResolvedPack, stage: string): Promise<boolean> {
  const { digest, size, mediaType } = pack.layer;
  const blobs = join(ctx.paths.cacheDir, 'blobs');
  const cached = join(blobs, digest.replace(':', '/'));
  const options = { digest, size, compression: compressionOf(mediaType), into: stage, what: `pack ${pack.reference}` };
  if ((await stat(cached).catch(() => undefined))?.size === size) {
    try {
      await extractLayer({ ...options, file: cached, source: { location: blobs, what: `layer ${digest}` } });
    } catch (error) {
      await rm(cached, { force: true }); // a damaged cached copy is downloaded again next time
      throw error;
    }
    return false;
  }
  await mkdir(dirname(cached), { recursive: true, mode: 0o700 });
  const temp = `${cached}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await withDownloadProgress(ctx, `${pack.name}@${pack.version}`, temp, size, registry.downloadBlob(pack.name, digest, size, temp));
    await extractLayer({ ...options, file: temp, source: { location: registry.location, what: `blob ${digest} of ${pack.name}` } });
    await rename(temp, cached);
  } finally {
    await rm(temp, { force: true });
  }
  return true;
}

/** On a terminal, while `download` runs: how much of the layer has arrived (the size of its file), a few times a second. */
export async function withDownloadProgress(ctx: Context, pack: string, file: string, size: number, download: Promise<void>): Promise<void> {
  if (!ctx.out.tty) return download;
  let done = false;
  const show = async () => {
    const arrived = (await stat(file).catch(() => undefined))?.size ?? 0;
    if (!done) ctx.out.progress(`downloading ${pack}: ${megabytes(arrived)} of ${megabytes(size)} MB`);
  };
  const timer = setInterval(() => void show(), DOWNLOAD_PROGRESS_MS);
  try {
    await download;
  } finally {
    done = true;
    clearInterval(timer);
  }
  ctx.out.progress(`checking and extracting ${pack}…`);
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
 * (versions, dependencies, signatures, policy); then, holding the instance's
 * install lock, stream each layer from the registry through the archive check
 * into a staging folder of the sandbox's packs volume, rename it into place and
 * record it. No restart; the next shell has it.
 */
export async function installPacks(ctx: Context, store: PackStore, config: Config, policy: EffectivePolicy, requests: readonly PackRequest[], options: InstallOptions): Promise<InstallReport> {
  const registry = await openPackRegistry(ctx, config);
  const { lock } = options;
  if (options.frozen && !options.hasLockFile) throw new AiboxError('USAGE', '--frozen needs a lock file, and there is no project here (.aibox or .git)', 'run it in the project, or pass --lock FILE');
  ctx.out.progress(`resolving ${requests.map((request) => request.name).join(', ')}…`);
  const [packs, installedBefore] = await Promise.all([resolvePacks(registry, policy, requests, lock, Boolean(options.frozen)), readInstalled(store)]);
  const denials = packs.flatMap((pack) => packDenials(policy, pack));
  if (denials.length > 0) throw new AiboxError('POLICY_DENIED', denials.join('; '), 'change the policy file named above, or ask its owner');

  const report: InstallReport = { packs: [], lock: lockWith(lock, packs) };
  const already = (pack: ResolvedPack) => report.packs.push({ name: pack.name, version: pack.version, digest: pack.digest, signedBy: pack.signedBy, outcome: 'already-installed', downloaded: false });
  if (packs.every((pack) => installedBefore.packs[pack.name]?.digest === pack.digest)) {
    packs.forEach(already); // nothing to change: no lock, no podman
    return report;
  }
  // Checked while the first layer streams; awaited before anything is put in place.
  const running = (options.ensureRunning ?? (async () => {}))();
  running.catch(() => undefined);
  // The packs' cache folders in dev's home (ssh: ~0.2 s, and gVisor's CPU beside the download), made while the
  // layers extract, once per sandbox: empty folders dev could make too (and its tools do when one is missing).
  const made = new Set(installedBefore.cacheFolders);
  const newCaches = [...new Set(packs.flatMap((pack) => pack.manifest.filesystem.caches.map((cache) => cache.path)))].filter((path) => !made.has(path));
  const caches = running.then(() => ensureCacheDirs(ctx.run, store, newCaches));
  caches.catch(() => undefined);
  for (const pack of packs) {
    if (pack.manifest.install.method === 'nix') await running.then(() => requireNix(ctx, store.container, pack));
  }
  await withInstallLock(ctx, store.container, async () => {
    await cleanStaging(store);
    const installed = await readInstalled(store);
    for (const pack of packs) {
      if (installed.packs[pack.name]?.digest === pack.digest) {
        already(pack);
        continue;
      }
      ctx.out.progress(`installing ${pack.name}@${pack.version} into ${store.container} (${megabytes(pack.layer.size)} MB)…`);
      let downloaded = false;
      await placePack(store, pack.name, pack.version, async (stage) => {
        downloaded = await extractPack(ctx, registry, pack, stage);
        if (pack.manifest.install.method === 'script') await approveScript(policy, pack, await scriptFrom(stage, pack));
        await running;
      });
      await runInstallStep(ctx, store.container, pack);
      const previous = installed.packs[pack.name];
      recordPack(installed, pack, registry.location, config);
      await writeInstalled(store, installed);
      if (previous && previous.version !== pack.version) await removePackDir(store, pack.name, previous.version);
      report.packs.push({ name: pack.name, version: pack.version, digest: pack.digest, signedBy: pack.signedBy, outcome: 'installed', downloaded });
    }
    await caches;
    if (newCaches.length > 0) await writeInstalled(store, { ...installed, cacheFolders: [...new Set([...(installed.cacheFolders ?? []), ...newCaches])].sort() });
  });
  return report;
}

function lockWith(lock: PackLock, packs: readonly ResolvedPack[]): PackLock {
  const next: PackLock = { version: 1, packs: { ...lock.packs } };
  for (const pack of packs) next.packs[pack.name] = { version: pack.version, digest: pack.digest };
  return next;
}

/** Adds a pack to installed.json: where it is, its PATH entries and variables, its caches. */
export function recordPack(installed: Installed, pack: ResolvedPack, registry: string, config: Config, source: 'install' | 'image' = 'install'): void {
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
    source,
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

/** The install script's bytes, read from the extracted (and checked) layer before anything runs in the sandbox. */
async function scriptFrom(stage: string, pack: ResolvedPack): Promise<Buffer> {
  const script = pack.manifest.install.script;
  if (!script) throw new AiboxError('INVALID_FILE', `${pack.reference} uses install.method script but names no install.script`, 'fix the manifest and republish');
  const handle = await open(join(stage, script), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => {
    throw new AiboxError('INVALID_FILE', `${pack.reference}: its install script ${script} is not a file of the pack`, 'fix the manifest and republish');
  });
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Removes packs from a running sandbox (their folders and environment). */
export async function uninstallPacks(ctx: Context, store: PackStore, names: readonly string[]): Promise<string[]> {
  const { container } = store;
  return withInstallLock(ctx, container, async () => {
    const installed = await readInstalled(store);
    const missing = names.filter((name) => !installed.packs[name]);
    if (missing.length > 0) {
      const present = Object.keys(installed.packs);
      throw new AiboxError('NOT_FOUND', `not installed in ${container}: ${missing.join(', ')}`, present.length ? `installed: ${present.join(', ')}` : 'nothing is installed');
    }
    const removed = names.map((name) => ({ name, version: installed.packs[name]?.version ?? '' }));
    for (const { name } of removed) delete installed.packs[name];
    await writeInstalled(store, installed);
    for (const { name, version } of removed) await removePackDir(store, name, version);
    return removed.map(({ name, version }) => `${name}@${version}`);
  });
}

/** Runs `fn` while no other install, uninstall or adoption of image packs changes this sandbox's packs. */
export function withInstallLock<T>(ctx: Context, container: string, fn: () => Promise<T>): Promise<T> {
  return withLock(join(ctx.paths.stateDir, 'locks', `${container}.install`), fn, (holder) => ctx.out.info(`waiting for another install into ${container} (process ${holder})…`));
}

/** A sandbox's pack store: its toolpacks volume's folder on the host (from its state), and its SSH entry. */
export async function packStoreOf(instance: Instance): Promise<PackStore> {
  return { container: instance.name, dir: await toolpacksDirOf(instance), sshConfig: instance.sshConfig };
}

/** `aibox install` on the host: the instance must be aibox's and running; specs may be comma-separated. */
export async function installIntoSandbox(ctx: Context, instance: Instance, specs: readonly string[], options: { frozen?: boolean; lock?: string }): Promise<InstallReport> {
  const requests = specs.flatMap((spec) => spec.split(',')).filter(Boolean).map(parsePackSpec);
  const config = await loadConfig(ctx.paths);
  const policy = await loadPolicyFor(ctx, config);
  const lockFile = findLockFile(ctx.cwd, ctx.paths.home, options.lock);
  const report = await installPacks(ctx, await packStoreOf(instance), config, policy, requests, {
    frozen: options.frozen,
    lock: await readLock(lockFile),
    hasLockFile: Boolean(lockFile),
    ensureRunning: () => requireRunningQuick(ctx, instance),
  });
  if (lockFile) await writeLock(lockFile, report.lock);
  return { ...report, lockFile };
}
