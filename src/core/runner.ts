import { access, constants } from 'node:fs/promises';
import { constants as os } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { execa } from 'execa';
import { AiboxError } from './errors.js';

export interface RunOptions {
  input?: string;
  /** A file streamed to stdin (large data: a pack layer). */
  inputFile?: string;
  /**
   * Default: captured. 'inherit': the user's terminal (interactive ssh).
   * 'ignore': none, for a program that leaves a background child (ssh -f) that would hold the pipes.
   */
  stdio?: 'inherit' | 'ignore';
  /** Called with each line of combined output while the process runs. */
  onLine?: (line: string) => void;
  /** Non-zero exit is returned, not thrown. */
  allowFailure?: boolean;
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The signal that ended it (allowFailure only): its exitCode is then 128 + its number, as in a shell. */
  signal?: string;
}

/** The one way aibox runs external programs (podman, ssh, git, ...). */
export type Runner = (command: string, args: readonly string[], options?: RunOptions) => Promise<RunResult>;

/** How to install each program aibox may need, for the hint of a "not installed" error. */
const INSTALL_HINTS: Record<string, string> = {
  podman: 'apt-get install -y podman runc uidmap slirp4netns fuse-overlayfs',
  runsc: 'apt-get install -y runsc',
  ssh: 'apt-get install -y openssh-client',
  'ssh-keygen': 'apt-get install -y openssh-client',
  sftp: 'apt-get install -y openssh-client',
  debootstrap: 'apt-get install -y debootstrap',
  git: 'apt-get install -y git',
  zstd: 'apt-get install -y zstd',
  tar: 'apt-get install -y tar',
  curl: 'apt-get install -y curl',
  prlimit: 'apt-get install -y util-linux',
  nsenter: 'apt-get install -y util-linux',
  nft: 'apt-get install -y nftables',
};

/** A program's path on PATH (as the shell would find it), or undefined. */
export async function findOnPath(program: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir, program);
    const ok = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (ok) return candidate;
  }
  return undefined;
}

export function installHint(command: string): string {
  return INSTALL_HINTS[command] ?? `install ${command} and make sure it is on PATH`;
}

/** AIBOX_TRACE=1: every program aibox runs, with its time, on stderr (where the time of a command goes). */
const TRACE = Boolean(process.env.AIBOX_TRACE);

function trace(started: number, command: string, args: readonly string[]): void {
  if (TRACE) process.stderr.write(`aibox trace: ${(performance.now() - started).toFixed(0)} ms at ${performance.now().toFixed(0)} ms: ${command} ${args.join(' ').slice(0, 160)}\n`);
}

export const runProcess: Runner = async (command, args, options = {}) => {
  const started = TRACE ? performance.now() : 0;
  const subprocess = execa(command, args, {
    input: options.input,
    inputFile: options.inputFile,
    stdio: options.stdio ?? 'pipe',
    env: options.env,
    cwd: options.cwd,
    timeout: options.timeoutMs,
    reject: false,
    all: Boolean(options.onLine),
    lines: false,
  });
  let pending = '';
  if (options.onLine && subprocess.all) {
    subprocess.all.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) options.onLine?.(line);
    });
  }
  const result = await subprocess;
  trace(started, command, args);
  if (pending) options.onLine?.(pending);
  if (result.failed && result.exitCode === undefined) {
    if ((result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new AiboxError('MISSING_PREREQ', `${command} is not installed (not found on PATH)`, installHint(command));
    }
    if (result.signal && !result.timedOut && options.allowFailure) {
      const stdout = typeof result.stdout === 'string' ? result.stdout : '';
      const stderr = typeof result.stderr === 'string' ? result.stderr : '';
      return { exitCode: 128 + (os.signals[result.signal] ?? 0), stdout, stderr, signal: result.signal };
    }
    const why = result.timedOut ? `timed out after ${options.timeoutMs} ms` : result.shortMessage;
    throw new AiboxError('PROCESS_FAILED', `${command} ${args.join(' ')}: ${why}`);
  }
  const run: RunResult = {
    exitCode: result.exitCode ?? 1,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: typeof result.stderr === 'string' ? result.stderr : '',
  };
  if (run.exitCode !== 0 && !options.allowFailure) {
    const detail = lastLines(run.stderr || run.stdout, 5) || `exit code ${run.exitCode}`;
    throw new AiboxError('PROCESS_FAILED', `${command} ${args.slice(0, 3).join(' ')} failed: ${detail}`);
  }
  return run;
};

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

/** A program in a stream pipeline: aibox writes its stdin and reads its stdout (a decompressor, tar). */
export interface PipedProcess {
  stdin: Writable;
  stdout: Readable | null;
  /** Settles when it exits; rejects with the same "not installed" and failure errors as runProcess. */
  done: Promise<void>;
  kill(): void;
}

/** `stdout`: piped to aibox, ignored, or an open file descriptor the program writes straight into. */
export function pipeProcess(command: string, args: readonly string[], options: { stdout?: 'pipe' | 'ignore' | number } = {}): PipedProcess {
  const started = TRACE ? performance.now() : 0;
  // execa hands a descriptor number straight to the program (its types list only 1 and 2).
  const stdout = (options.stdout ?? 'pipe') as 'pipe' | 'ignore';
  const subprocess = execa(command, args, { stdin: 'pipe', stdout, buffer: { stdout: false, stderr: true }, reject: false });
  const done = subprocess.then((result) => {
    trace(started, command, args);
    if ((result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new AiboxError('MISSING_PREREQ', `${command} is not installed (not found on PATH)`, installHint(command));
    }
    if (result.exitCode !== 0) {
      const detail = lastLines(typeof result.stderr === 'string' ? result.stderr : '', 5) || (result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode}`);
      throw new AiboxError('PROCESS_FAILED', `${command} ${args.slice(0, 3).join(' ')} failed: ${detail}`);
    }
  });
  // A write after the program exited (EPIPE) is not an error of its own: `done` reports why it exited.
  subprocess.stdin.on('error', () => undefined);
  return { stdin: subprocess.stdin, stdout: subprocess.stdout, done, kill: () => subprocess.kill('SIGKILL') };
}
