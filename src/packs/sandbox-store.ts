import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lchown, lstat, mkdir, mkdtemp, open, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { AiboxError } from '../core/errors.js';
import { parseJson } from '../core/json.js';
import type { Runner } from '../core/runner.js';
import { rangeOf, shiftTree } from '../sandbox/idmap.js';
import { TOOLPACKS_TARGET } from '../sandbox/spec.js';
import { shellQuote } from '../ssh/client.js';

/**
 * The packs installed in one sandbox, kept in its toolpacks volume (so they
 * survive re-creation), mounted at TOOLPACKS. aibox writes it from the host, in
 * the volume's folder there; in the sandbox its folders are root's 0755, so `dev`
 * can read and run packs but never change them. gVisor sees the host's writes
 * because the sandbox is created with a per-mount hint for this one volume
 * (sandbox/spec.ts; ARCHITECTURE.md).
 */
export const TOOLPACKS = TOOLPACKS_TARGET;
const STATE = '.aibox';
const STAGING = '.staging';
export const INSTALLED_FILE = `${TOOLPACKS}/${STATE}/installed.json`;
export const ENV_FILE = `${TOOLPACKS}/${STATE}/env.sh`;

const installedPackSchema = z
  .object({
    version: z.string(),
    /** Digest of the pack's OCI manifest: what was verified and installed. */
    digest: z.string(),
    layer: z.string(),
    registry: z.string(),
    installedAt: z.string(),
    path: z.array(z.string()),
    vars: z.record(z.string(), z.string()),
    caches: z.array(z.object({ name: z.string(), path: z.string() })),
    /** Where it came from: installed at run time, or baked into an image variant. */
    source: z.enum(['install', 'image']).default('install'),
  })
  .strict();

const installedSchema = z
  .object({
    version: z.literal(1),
    packs: z.record(z.string(), installedPackSchema),
    /** The packs' cache folders (under /home/dev) an install has made in this sandbox: not made again, which costs an SSH command. */
    cacheFolders: z.array(z.string()).optional(),
  })
  .strict();

export type InstalledPack = z.infer<typeof installedPackSchema>;
export type Installed = z.infer<typeof installedSchema>;

/** A folder of packs laid out as TOOLPACKS: a sandbox's volume, or an image variant's build context. */
export interface PackFolder {
  /** For messages: the sandbox, or the image. */
  container: string;
  /** The folder on the host. */
  dir: string;
}

/** A sandbox's packs: its toolpacks volume as the host sees it, and how to reach the sandbox as `dev`. */
export interface PackStore extends PackFolder {
  sshConfig: string;
}

/**
 * A folder of the volume that aibox writes into, created 0755 when missing. Root in the
 * sandbox (an approved install script) could have put a link there; aibox, on the host,
 * never writes through one.
 */
async function ownFolder(path: string): Promise<string> {
  const created = await mkdir(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return false;
      throw error;
    },
  );
  if (created) {
    await chmod(path, 0o755); // whatever the umask
    await takeOwnerOf(dirname(path), path);
  }
  const info = await lstat(path);
  if (!info.isDirectory()) throw new AiboxError('INVALID_FILE', `${path} is not a folder (${info.isSymbolicLink() ? 'a link' : 'a file'}): something in the sandbox changed the packs volume`, `remove it on the host and reinstall the packs: rm -rf ${path}; aibox install …`);
  return path;
}

/**
 * What aibox writes into the volume belongs to the sandbox's root: the owner of the
 * volume's folder, the host's root, or the base of the sandbox's user namespace
 * (sandbox/idmap.ts), where the sandbox's root is that id, so that an approved install
 * script can write its pack's folder. In the sandbox they are root's either way.
 */
async function takeOwnerOf(from: string, path: string): Promise<void> {
  const owner = await lstat(from);
  if (owner.uid !== 0 || owner.gid !== 0) await lchown(path, owner.uid, owner.gid);
}

/** installed.json, read on the host (no round trip to the sandbox); empty when nothing is installed. */
export async function readInstalled(store: PackFolder): Promise<Installed> {
  const path = join(store.dir, STATE, 'installed.json');
  if ((await lstat(join(store.dir, STATE)).catch(() => undefined))?.isDirectory() === false) throw corrupted(store.container);
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, packs: {} };
    throw corrupted(store.container); // a link (O_NOFOLLOW) or not readable
  }
  try {
    return parseInstalled(await handle.readFile('utf8'), store.container);
  } finally {
    await handle.close();
  }
}

function parseInstalled(text: string, container: string): Installed {
  if (!text.trim()) return { version: 1, packs: {} };
  const parsed = installedSchema.safeParse(parseJson(text));
  if (!parsed.success) throw corrupted(container);
  return parsed.data;
}

function corrupted(container: string): AiboxError {
  return new AiboxError('INVALID_FILE', `${INSTALLED_FILE} in ${container} is corrupted`, `remove it and reinstall the packs: podman volume inspect ${container}-toolpacks shows its folder on the host; delete .aibox/installed.json there, then aibox install …`);
}

/** For an install, holding its lock: removes what an interrupted install left in the staging folder (which stays). */
export async function cleanStaging(store: PackFolder): Promise<void> {
  const staging = join(store.dir, STAGING);
  const left = await readdir(staging).catch(() => []);
  await Promise.all(left.map((entry) => rm(join(staging, entry), { recursive: true, force: true })));
}

/**
 * Puts a pack version in place atomically: `fill` extracts into a private staging
 * folder (0700) of the volume, then one rename makes it TOOLPACKS/NAME/VERSION. When
 * `fill` throws, the staging folder is removed and nothing else changed; an
 * interrupted run leaves only staging folders, which the next install removes.
 */
export async function placePack(store: PackFolder, name: string, version: string, fill: (stage: string) => Promise<void>): Promise<void> {
  const stage = await mkdtemp(join(await ownFolder(join(store.dir, STAGING)), `${name}-${version}.`));
  try {
    await fill(stage);
    await chmod(stage, 0o755);
    const base = rangeOf((await lstat(store.dir)).uid);
    if (base) await shiftTree(stage, 0, base); // extracted as the host's root (see takeOwnerOf)
    const dest = join(await ownFolder(join(store.dir, name)), version);
    await rename(dest, `${stage}.old`).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(stage, dest);
  } finally {
    await rm(stage, { recursive: true, force: true });
    await rm(`${stage}.old`, { recursive: true, force: true });
  }
}

/** Deletes a pack version's folder (and the pack's, once empty). */
export async function removePackDir(store: PackFolder, name: string, version: string): Promise<void> {
  await rm(join(store.dir, name, version), { recursive: true, force: true });
  await rmdir(join(store.dir, name)).catch(() => undefined);
}

/** Replaces a file of the volume atomically, never through a link (a new temp file, then rename). */
async function replaceFile(dir: string, name: string, content: string): Promise<void> {
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(content);
    await handle.chmod(0o644);
    await handle.sync();
    await takeOwnerOf(dir, temp);
  } finally {
    await handle.close();
  }
  await rename(temp, join(dir, name)).catch(async (error: unknown) => {
    await rm(temp, { force: true });
    throw error;
  });
}

/** Writes installed.json and the shell environment of all packs, each atomically. */
export async function writeInstalled(store: PackFolder, installed: Installed): Promise<void> {
  const dir = await ownFolder(join(store.dir, STATE));
  await replaceFile(dir, 'env.sh', renderEnv(installed));
  await replaceFile(dir, 'installed.json', `${JSON.stringify(installed, null, 2)}\n`);
}

/** Creates the packs' cache folders as dev over SSH (under /home/dev: on the home volume, so they survive re-creation). */
export async function ensureCacheDirs(run: Runner, store: PackStore, paths: readonly string[]): Promise<void> {
  if (paths.length > 0) await run('ssh', ['-F', store.sshConfig, store.container, `mkdir -p -- ${paths.map(shellQuote).join(' ')}`]);
}

/** The packs' PATH entries and variables, sourced by every bash, zsh and sh (login or not) via /etc/aibox/env.sh. */
export function renderEnv(installed: Installed): string {
  const lines = ['# Written by aibox: the environment of the installed tool packs. Do not edit.'];
  for (const [name, pack] of Object.entries(installed.packs).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`# ${name}@${pack.version}`);
    for (const [key, value] of Object.entries(pack.vars)) lines.push(`export ${key}=${shellQuote(value)}`);
    for (const dir of [...pack.path].reverse()) lines.push(`case ":$PATH:" in *:${dir}:*) ;; *) PATH=${shellQuote(dir)}:"$PATH" ;; esac`);
  }
  lines.push('export PATH', '');
  return lines.join('\n');
}
