import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import type { InstanceKeys } from './keys.js';

export interface SshTarget {
  instance: string;
  port: number;
  keys: InstanceKeys;
  /** Folder for the multiplexing sockets (short path: sockets are limited to ~100 bytes). */
  controlDir: string;
}

/** Unix socket paths are limited to 104-108 bytes, and ssh appends 17 while creating one. */
const MAX_CONTROL_PATH = 104 - 17;

/**
 * A path as an ssh_config(5) value: double-quoted, `\` and `"` escaped with a
 * backslash, and `%` doubled because IdentityFile, UserKnownHostsFile and
 * ControlPath expand %-tokens. A line break cannot be represented at all.
 */
export function quotePath(path: string): string {
  if (/[\r\n\0]/.test(path)) {
    throw new AiboxError('USAGE', `the path ${JSON.stringify(path)} contains a line break, which an ssh config cannot hold`, 'use a HOME (or XDG_DATA_HOME/XDG_STATE_HOME) without line breaks');
  }
  return `"${path.replace(/[\\"]/g, '\\$&').replace(/%/g, '%%')}"`;
}

/**
 * The Host entry that makes `ssh <instance>` work. Host-key checking stays
 * strict against a known_hosts that aibox pins, so a substituted container is
 * detected; multiplexing makes reconnects (IDE, agents) nearly free.
 */
export function hostEntry(target: SshTarget): string[] {
  const { keys } = target;
  return [
    `Host ${target.instance}`,
    '  HostName 127.0.0.1',
    `  Port ${target.port}`,
    '  User dev',
    `  IdentityFile ${quotePath(keys.clientKey)}`,
    '  IdentitiesOnly yes',
    '  StrictHostKeyChecking yes',
    `  UserKnownHostsFile ${quotePath(keys.knownHosts)}`,
    `  HostKeyAlias ${keys.hostKeyAlias}`,
    ...multiplexing(target),
    '  ServerAliveInterval 30',
    '  ForwardAgent no',
    '  ForwardX11 no',
    '  LogLevel ERROR',
  ];
}

/** Connection sharing, when a socket path fits (a very long $HOME leaves it off). */
function multiplexing(target: SshTarget): string[] {
  const socket = controlSocket(target.controlDir, target.instance);
  if (!canMultiplex(target.controlDir, target.instance)) return [];
  return ['  ControlMaster auto', `  ControlPath ${quotePath(socket)}`, '  ControlPersist yes'];
}

/** Whether the instance's entry has a shared connection (its socket path fits). */
export function canMultiplex(controlDir: string, instance: string): boolean {
  return Buffer.byteLength(controlSocket(controlDir, instance)) <= MAX_CONTROL_PATH;
}

/** Where the shared connection's socket lives while it is open. */
export function controlSocket(controlDir: string, instance: string): string {
  return join(controlDir, createHash('sha256').update(instance).digest('hex').slice(0, 12));
}
