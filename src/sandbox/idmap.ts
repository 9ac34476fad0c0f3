import { lchown, lstat, opendir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Output } from '../core/output.js';
import type { ContainerInfo } from './podman.js';
import type { RuntimeKind } from './runtime.js';

/**
 * The user namespace of a runc sandbox, one of runc's compensating controls (gVisor's
 * kernel is its own boundary). With rootful podman, the sandbox's ids 0–65535 are the
 * host's ids SANDBOX_ID_BASE and up: the agent (dev, 1000) is host uid 1,000,001,000, not
 * the developer's own uid 1000 on a typical workstation, and the sandbox's root is no host
 * root; that is what an escape from the container would be. One range for every sandbox
 * of the machine, so that volumes (and a cache the org policy shares) keep their owners
 * across re-creation; a sandbox re-created with the other runtime moves its volumes once
 * (alignVolumeOwners). Rootless podman maps into the user's subordinate ids already, so
 * there aibox adds nothing. Not under gVisor yet: runsc's gofer, inside the namespace,
 * cannot reach the SSH folder's bind mount under the host user's 0700 data folder.
 */
export const SANDBOX_ID_BASE = 1_000_000_000;
export const SANDBOX_ID_COUNT = 65536;

/** The host id of a sandbox's root (and the base of its range): SANDBOX_ID_BASE for runc when aibox runs podman as root, else 0 (no mapping of aibox's own). */
export function sandboxIdBase(runtime: RuntimeKind, rootful = process.getuid?.() === 0): number {
  return runtime === 'runc' && rootful ? SANDBOX_ID_BASE : 0;
}

export function idMapArgs(base: number): string[] {
  return base === 0 ? [] : ['--uidmap', `0:${base}:${SANDBOX_ID_COUNT}`, '--gidmap', `0:${base}:${SANDBOX_ID_COUNT}`];
}

/** The host uid of a container's root: the start of its uid map, 0 without one. */
export function containerIdBase(info: ContainerInfo): number {
  const first = info.HostConfig.IDMappings?.UidMap?.[0]?.split(':');
  return first?.[0] === '0' ? Number(first[1]) : 0;
}

/**
 * The base of the range a volume's files belong to, read from its folder's owner: 0 for
 * a volume made without a user namespace, SANDBOX_ID_BASE with one; undefined when the
 * owner is in neither range (not aibox's to move).
 */
export function rangeOf(uid: number): number | undefined {
  if (uid < SANDBOX_ID_COUNT) return 0;
  if (uid >= SANDBOX_ID_BASE && uid < SANDBOX_ID_BASE + SANDBOX_ID_COUNT) return SANDBOX_ID_BASE;
  return undefined;
}

/** An id moved from one range to the other; ids outside `from`'s range stay. */
export function shiftId(id: number, from: number, to: number): number {
  return id >= from && id < from + SANDBOX_ID_COUNT ? id - from + to : id;
}

/** Moves every entry of a tree (never following links) from one id range to the other. Returns how many changed. */
export async function shiftTree(dir: string, from: number, to: number): Promise<number> {
  let changed = 0;
  const visit = async (path: string): Promise<void> => {
    const info = await lstat(path);
    const uid = shiftId(info.uid, from, to);
    const gid = shiftId(info.gid, from, to);
    if (uid !== info.uid || gid !== info.gid) {
      // lchown clears set-user-ID and set-group-ID bits of files, as it should for files changing hands.
      await lchown(path, uid, gid);
      changed += 1;
    }
    if (!info.isDirectory()) return;
    const children: string[] = [];
    for await (const entry of await opendir(path)) children.push(join(path, entry.name));
    for (let at = 0; at < children.length; at += 64) await Promise.all(children.slice(at, at + 64).map(visit));
  };
  await visit(dir);
  return changed;
}

/**
 * Gives volumes made for a sandbox with another user namespace (an older aibox, or a
 * container being rolled back) the owners this sandbox expects, once: a volume whose
 * folder already belongs to the sandbox's range is not walked. `folders`: the volumes'
 * folders on the host.
 */
export async function alignVolumeOwners(out: Output, folders: ReadonlyMap<string, string>, base: number): Promise<void> {
  for (const [name, folder] of folders) {
    const owner = await lstat(folder).then((info) => info.uid, () => undefined);
    if (owner === undefined) continue;
    const from = rangeOf(owner);
    if (from === undefined || from === base) continue;
    out.progress(`moving volume ${name} into the sandbox's user namespace (once)…`);
    await shiftTree(folder, from, base);
  }
}

/**
 * The SSH folder the sandbox mounts (host key, authorized_keys) belongs to the sandbox's
 * root, as sshd's StrictModes wants: the host's root, or the namespace's root.
 */
export async function ownSshFolder(dir: string, base: number): Promise<void> {
  const entries = [dir, ...(await readdir(dir)).map((name) => join(dir, name))];
  for (const path of entries) {
    const info = await lstat(path);
    if (info.uid !== base || info.gid !== base) await lchown(path, base, base);
  }
}

/** The host folders of a container's named volumes, by volume name. */
export function volumeFolders(info: ContainerInfo): Map<string, string> {
  return new Map(info.Mounts.filter((mount) => mount.Type === 'volume' && mount.Name && mount.Source).map((mount) => [mount.Name ?? '', mount.Source ?? '']));
}
