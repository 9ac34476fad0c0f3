import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileIfChanged } from '../core/files.js';
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

async function generateKey(run: Runner, path: string, comment: string): Promise<void> {
  await rm(path, { force: true });
  await rm(`${path}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
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

  const hostKey = join(keys.sandboxSshDir, 'ssh_host_ed25519_key');
  if (!(await exists(hostKey))) await generateKey(run, hostKey, `aibox-${instance}-host`);
  // sshd runs as dev inside the sandbox and must read its host key; the folder
  // above (0700) keeps other host users out.
  await chmod(hostKey, 0o644);

  const clientPublic = (await readFile(`${keys.clientKey}.pub`, 'utf8')).trim();
  await writeFileIfChanged(join(keys.sandboxSshDir, 'authorized_keys'), `${clientPublic}\n`, 0o644);
  const hostPublic = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  await writeFileIfChanged(keys.knownHosts, `${keys.hostKeyAlias} ${hostPublic}\n`, 0o600);
  return keys;
}
