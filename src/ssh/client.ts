import { connect } from 'node:net';
import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';

/** Quotes one argument for the remote POSIX shell that sshd runs the command with. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** ssh arguments for a command in the sandbox (or a login shell when command is empty). */
export function sshArgs(sshConfig: string, host: string, command: readonly string[], tty: boolean): string[] {
  const args = ['-F', sshConfig];
  if (tty) args.push('-t');
  args.push(host);
  if (command.length > 0) args.push('--', command.map(shellQuote).join(' '));
  return args;
}

function readBanner(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('SSH-2.0-')));
  });
}

/** Waits until sshd in the sandbox answers with its banner. */
export async function waitForSsh(port: number, container: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await readBanner(port, 1000)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new AiboxError('PROCESS_FAILED', `the sandbox SSH server did not answer on 127.0.0.1:${port} within ${timeoutMs / 1000} s`, `see its log: podman logs ${container}; then run aibox doctor`);
}

/**
 * Opens the shared (multiplexed) SSH connection in the background, so the
 * user's first `ssh <instance>` or IDE connect after `aibox start` skips the
 * handshake. A failure only costs that speed-up, so it is not an error.
 */
export async function openSharedConnection(run: Runner, sshConfig: string, host: string): Promise<boolean> {
  const result = await run('ssh', ['-F', sshConfig, '-f', '-N', '-o', 'ControlMaster=auto', '-o', 'ConnectTimeout=10', host], {
    stdio: 'ignore',
    allowFailure: true,
    timeoutMs: 15_000,
  });
  return result.exitCode === 0;
}

/** The shared connection's process id (`ssh -O check`), or undefined when none runs. */
export async function sharedConnectionPid(run: Runner, sshConfig: string, host: string): Promise<number | undefined> {
  const result = await run('ssh', ['-F', sshConfig, '-O', 'check', host], { allowFailure: true, timeoutMs: 10_000 });
  if (result.exitCode !== 0) return undefined;
  const pid = /pid=(\d+)/.exec(result.stderr + result.stdout)?.[1];
  return pid === undefined ? undefined : Number(pid);
}
