import { chmod, copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { writeFileAtomic, writeFileIfChanged } from '../core/files.js';
import type { Runner } from '../core/runner.js';

/** Files of one instance's SSH identity, all on the host. */
export interface InstanceKeys {
  /** The dedicated client key; never the user's own keys. Mode 0600, never leaves the host. */
  clientKey: string;
  /** Mounted read-only into the sandbox at /etc/aibox/ssh: host key and authorized_keys. */
  sandboxSshDir: string;
  /** The sandbox's pinned host key, for StrictHostKeyChecking yes. */
  knownHosts: string;
  hostKeyAlias: string;
}

export function instanceKeys(instanceDir: string, instance: string): InstanceKeys {
  return {
    clientKey: join(instanceDir, 'id_ed25519'),
    sandboxSshDir: join(instanceDir, 'sandbox-ssh'),
    knownHosts: join(instanceDir, 'known_hosts'),
    hostKeyAlias: `aibox.${instance}`,
  };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The sandbox's host key (private), in the folder mounted read-only into the sandbox. */
export function hostKeyPath(keys: InstanceKeys): string {
  return join(keys.sandboxSshDir, 'ssh_host_ed25519_key');
}

async function generateKey(run: Runner, path: string, comment: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

/**
 * The public half of a private key, always derived from the private key (the
 * truth: a stale or missing .pub never decides a pin); a missing .pub is rewritten.
 */
async function publicKey(run: Runner, path: string): Promise<string> {
  // From a private 0600 copy: ssh-keygen refuses the host key file itself (mode 0644, see ensureInstanceKeys).
  const dir = await mkdtemp(join(tmpdir(), 'aibox-key-'));
  try {
    const copy = join(dir, 'key');
    await copyFile(path, copy).catch(() => writeFile(copy, ''));
    await chmod(copy, 0o600);
    const derived = await run('ssh-keygen', ['-y', '-f', copy], { allowFailure: true });
    if (derived.exitCode !== 0 || !derived.stdout.startsWith('ssh-')) {
      throw new AiboxError('INVALID_FILE', `${path} is not a readable unencrypted SSH private key`, `remove it and its .pub, then run aibox setup to create a new one: rm ${path} ${path}.pub`);
    }
    if (!(await exists(`${path}.pub`))) await writeFileAtomic(`${path}.pub`, derived.stdout, 0o644);
    return derived.stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `<alias> <type> <key>`: the pin of the sandbox's host key. */
async function writeKnownHosts(run: Runner, keys: InstanceKeys): Promise<void> {
  const hostPublic = (await publicKey(run, hostKeyPath(keys))).split(' ').slice(0, 2).join(' ');
  await writeFileIfChanged(keys.knownHosts, `${keys.hostKeyAlias} ${hostPublic}\n`, 0o600);
}

/**
 * Creates what is missing, once: the client key pair, and the sandbox host key
 * that stays the same across container re-creation. Idempotent.
 */
export async function ensureInstanceKeys(run: Runner, instanceDir: string, instance: string): Promise<InstanceKeys> {
  const keys = instanceKeys(instanceDir, instance);
  await mkdir(instanceDir, { recursive: true, mode: 0o700 });
  await chmod(instanceDir, 0o700);
  await mkdir(keys.sandboxSshDir, { recursive: true, mode: 0o755 });
  if (!(await exists(keys.clientKey))) await generateKey(run, keys.clientKey, `aibox-${instance}`);
  await chmod(keys.clientKey, 0o600);

  const hostKey = hostKeyPath(keys);
  if (!(await exists(hostKey))) await generateKey(run, hostKey, `aibox-${instance}-host`);
  // sshd runs as dev inside the sandbox and must read its host key; the folder
  // above (0700) keeps other host users out.
  await chmod(hostKey, 0o644);

  await writeFileIfChanged(join(keys.sandboxSshDir, 'authorized_keys'), `${await publicKey(run, keys.clientKey)}\n`, 0o644);
  await writeKnownHosts(run, keys);
  return keys;
}

/**
 * Replaces the sandbox's host key and its pin in one step: the new key is made
 * beside the old one and renamed over it, then the pin follows. Returns the
 * new key's fingerprint.
 */
export async function rotateHostKey(run: Runner, keys: InstanceKeys, instance: string): Promise<string> {
  const hostKey = hostKeyPath(keys);
  const fresh = `${hostKey}.new`;
  await generateKey(run, fresh, `aibox-${instance}-host`);
  await chmod(fresh, 0o644);
  // The private key is the truth (the pin is derived from it), so it moves first.
  await rename(fresh, hostKey);
  await rename(`${fresh}.pub`, `${hostKey}.pub`);
  await writeKnownHosts(run, keys);
  return (await run('ssh-keygen', ['-l', '-f', `${hostKey}.pub`])).stdout.trim().split(' ')[1] ?? '';
}
