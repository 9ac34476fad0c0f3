import { join } from 'node:path';
import type { InstanceKeys } from './keys.js';

export interface SshTarget {
  instance: string;
  port: number;
  keys: InstanceKeys;
  /** Folder for the multiplexing sockets (short path: sockets are limited to ~100 bytes). */
  controlDir: string;
}

function quote(path: string): string {
  return `"${path}"`;
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
    `  IdentityFile ${quote(keys.clientKey)}`,
    '  IdentitiesOnly yes',
    '  StrictHostKeyChecking yes',
    `  UserKnownHostsFile ${quote(keys.knownHosts)}`,
    `  HostKeyAlias ${keys.hostKeyAlias}`,
    '  ControlMaster auto',
    `  ControlPath ${quote(join(target.controlDir, '%C'))}`,
    '  ControlPersist 10m',
    '  ServerAliveInterval 30',
    '  ForwardAgent no',
    '  ForwardX11 no',
    '  LogLevel ERROR',
  ];
}
