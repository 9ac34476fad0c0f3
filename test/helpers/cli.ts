import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built command, exactly as users run it. */
export const AIBOX = resolve('dist/aibox.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A throwaway user: its own HOME (so every aibox file is isolated) and a unique sandbox name. */
export interface TestUser {
  home: string;
  name: string;
  env: NodeJS.ProcessEnv;
}

export async function testUser(prefix = 'e2e'): Promise<TestUser> {
  const home = await mkdtemp(join(tmpdir(), `aibox-${prefix}-`));
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, AIBOX_INSTANCE: `${prefix}-${randomBytes(3).toString('hex')}` };
  for (const key of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME']) delete env[key];
  return { home, name: env.AIBOX_INSTANCE ?? '', env };
}

export function aibox(user: TestUser, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [AIBOX, ...args], { cwd: options.cwd ?? user.home, env: options.env ?? user.env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** aibox ARGS, which must succeed: its stderr is the failure message. */
export async function aiboxOk(user: TestUser, args: string[]): Promise<CliResult> {
  const result = await aibox(user, args);
  assert.equal(result.code, 0, `aibox ${args.join(' ')}: ${result.stderr}`);
  return result;
}

/** Runs a host program synchronously (podman, ssh, sftp) and returns its result. */
export function host(command: string, args: string[], input?: string, timeout = 60_000): CliResult {
  const result = spawnSync(command, args, { input, encoding: 'utf8', timeout });
  return { code: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

export function sshTo(user: TestUser, command: string): CliResult {
  return host('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, command]);
}

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

export function containerExists(name: string): boolean {
  return host('podman', ['container', 'exists', name]).code === 0;
}

export function volumeExists(name: string): boolean {
  return host('podman', ['volume', 'exists', name]).code === 0;
}

/** Removes everything a test user's sandbox left in podman. */
export async function cleanup(user: TestUser): Promise<void> {
  await aibox(user, ['rm', '--volumes']);
}
