import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './cli.js';

const SSHD = '/usr/sbin/sshd';

/**
 * A git server over SSH on loopback, as an organisation runs one: a real OpenSSH
 * server with its own host key and config, run as the current user, whose
 * authorized_keys gives each key a forced command that names its owner in
 * AIBOX_PUSHER (or nobody) and runs git-shell.
 */
export interface GitSshServer {
  port: number;
  /** ssh://… of a bare repository under the server's folder. */
  url(path: string): string;
  /** GIT_SSH_COMMAND of one key's owner. */
  sshCommand(key: string, options?: string[]): string;
  stop(): void;
}

/** keys: key name → the pusher its forced command names (undefined: none). */
export async function startGitSshServer(dir: string, home: string, keys: Record<string, string | undefined>): Promise<GitSshServer> {
  assert.ok(existsSync(SSHD), `${SSHD} is missing: install openssh-server (scripts/install-host-deps.sh)`);
  await mkdir(join(dir, 'keys'), { recursive: true });
  const keygen = (path: string) => assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', path]).status, 0, `ssh-keygen ${path}`);
  keygen(join(dir, 'host_key'));
  const shell = spawnSync('sh', ['-c', 'command -v git-shell']).status === 0 ? 'git-shell' : 'sh';
  const entries: string[] = [];
  for (const [key, pusher] of Object.entries(keys)) {
    keygen(join(dir, 'keys', key));
    const env = pusher ? `env AIBOX_PUSHER=${pusher} ` : '';
    entries.push(`command="${env}${shell} -c \\"$SSH_ORIGINAL_COMMAND\\"",restrict ${(await readFile(join(dir, 'keys', `${key}.pub`), 'utf8')).trim()}`);
  }
  await writeFile(join(dir, 'authorized_keys'), `${entries.join('\n')}\n`);
  const port = await freePort();
  const login = userInfo().username;
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${login}`,
    // sshd runs the forced command with the login user's shell: with the test's HOME, their ~/.bashrc stays out.
    `SetEnv HOME=${home}`,
  ];
  await writeFile(join(dir, 'sshd_config'), `${config.join('\n')}\n`);
  // sshd run by root needs its privilege separation folder, which its service would create.
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  sshd.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  for (let attempt = 0; attempt < 100 && !log.includes('Server listening'); attempt++) await sleep(50);
  assert.match(log, /Server listening on 127\.0\.0\.1/, log);
  const ssh = ['ssh', '-F', '/dev/null', '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
  return {
    port,
    url: (path) => `ssh://${login}@127.0.0.1:${port}${path}`,
    sshCommand: (key, options = []) => [...ssh, '-i', join(dir, 'keys', key), ...options].join(' '),
    stop: () => sshd.kill('SIGTERM'),
  };
}
