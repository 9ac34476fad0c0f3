import type { Command } from 'commander';
import { lstat, mkdir, rename, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { AiboxError } from '../core/errors.js';
import type { CliIo } from './app.js';

/**
 * The in-sandbox command server: one resident aibox per sandbox user that runs
 * `aibox install` and `aibox mcp …` (servedByServer) for the small client at /opt/aibox/bin/aibox
 * (images/base/client/aibox.c), so these commands skip Node's start (0.3–1 s under
 * gVisor; the work itself takes milliseconds). The client starts it the first time,
 * detached, and runs that command with Node itself; the server leaves after
 * IDLE_MS without a request, and with the container.
 *
 * Protocol on a Unix socket in a private folder (0700, this user's; both sides check):
 * - client → server: a u32 (big-endian) length, then NUL-terminated fields:
 *   `aibox-cli/1`, cwd, stdout is a TTY (`0`/`1`), stderr is a TTY, terminal columns,
 *   the number of arguments, the arguments, then the environment (`NAME=value` each).
 * - server → client, frames of a type byte and a u32 length: `o`/`e` bytes for
 *   stdout/stderr, `i` "send your stdin" (answered with `d` frames, an empty one for its
 *   end), `f` "not served: run it with Node yourself", `x` the exit code (u32), last.
 */

export const CLI_SERVER_COMMAND = 'cli-server';
const IDLE_MS = 15 * 60_000;
const MAGIC = 'aibox-cli/1';
const MAX_REQUEST = 1 << 20;
const MAX_STDIN = 16 << 20;

export type RunCli = (argv: string[], io: CliIo) => Promise<number | undefined>;

export function cliSocketPath(uid: number, root = '/tmp'): string {
  return join(root, `aibox-cli-${uid}`, 'cli.sock');
}

/**
 * What the server runs: `aibox [global options] install …` and `mcp` enable, disable,
 * regenerate, list and apply. They start no program (one that did would get the server's
 * environment, not the caller's); install and enable ask the host through the broker.
 * The client sends every `aibox install …` and `aibox mcp …` but `mcp run` (an MCP
 * server's stdio for as long as the agent uses it); the rest, and help (the server builds
 * only these commands), the server leaves to Node.
 */
const SERVED_MCP = new Set(['enable', 'disable', 'regenerate', 'list', 'apply']);

export function servedByServer(args: readonly string[]): boolean {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--help' || arg === '-h') return false;
    if (arg === '--name') i++;
    else if (!arg.startsWith('-')) words.push(arg);
  }
  return words[0] === 'install' || (words[0] === 'mcp' && SERVED_MCP.has(words[1] ?? ''));
}

export interface CliRequest {
  cwd: string;
  args: string[];
  env: Record<string, string>;
  stdoutTty: boolean;
  stderrTty: boolean;
  columns: number;
}

export function parseRequest(payload: Buffer): CliRequest {
  const fields = payload.toString('utf8').split('\0');
  const [magic, cwd, stdoutTty, stderrTty, columns, argc] = fields;
  const count = Number(argc);
  if (fields.pop() !== '' || magic !== MAGIC || !cwd?.startsWith('/') || !Number.isInteger(count) || count < 0 || 6 + count > fields.length) {
    throw new AiboxError('USAGE', 'not a request of the aibox client', 'the client at /opt/aibox/bin/aibox sends it');
  }
  const env: Record<string, string> = {};
  for (const entry of fields.slice(6 + count)) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return { cwd, args: fields.slice(6, 6 + count), env, stdoutTty: stdoutTty === '1', stderrTty: stderrTty === '1', columns: Number(columns) || 80 };
}

function frame(type: 'o' | 'e' | 'i' | 'f' | 'x', data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

/** Exact-size reads from a socket. */
class Reader {
  private buffered = Buffer.alloc(0);
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(socket: Socket) {
    this.chunks = socket[Symbol.asyncIterator]();
  }

  async take(size: number): Promise<Buffer> {
    while (this.buffered.length < size) {
      const next = await this.chunks.next();
      if (next.done) throw new AiboxError('USAGE', 'the aibox client closed the connection mid-request');
      this.buffered = Buffer.concat([this.buffered, next.value as Buffer]);
    }
    const taken = this.buffered.subarray(0, size);
    this.buffered = this.buffered.subarray(size);
    return taken;
  }

  async stdin(): Promise<string> {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const head = await this.take(5);
      const size = head.readUInt32BE(1);
      if (head.toString('latin1', 0, 1) !== 'd' || (total += size) > MAX_STDIN) throw new AiboxError('USAGE', 'the aibox client sent a bad stdin frame');
      if (size === 0) return Buffer.concat(parts).toString('utf8');
      parts.push(await this.take(size));
    }
  }
}

async function serveOne(socket: Socket, runCli: RunCli): Promise<void> {
  const send = (type: Parameters<typeof frame>[0], data?: Buffer) => {
    if (!socket.destroyed) socket.write(frame(type, data));
  };
  const reader = new Reader(socket);
  const size = (await reader.take(4)).readUInt32BE(0);
  if (size > MAX_REQUEST) throw new AiboxError('USAGE', 'the aibox client sent an oversized request');
  const request = parseRequest(await reader.take(size));
  if (!servedByServer(request.args)) {
    send('f');
    return;
  }
  const sink = (type: 'o' | 'e', isTTY: boolean) => ({ write: (text: string) => send(type, Buffer.from(text)), isTTY, columns: request.columns });
  const io: CliIo = {
    stdout: sink('o', request.stdoutTty),
    stderr: sink('e', request.stderrTty),
    env: request.env,
    cwd: request.cwd,
    readStdin: () => {
      send('i');
      return reader.stdin();
    },
  };
  const code = Buffer.alloc(4);
  code.writeUInt32BE((await runCli(['node', 'aibox', ...request.args], io)) ?? 0);
  send('x', code);
}

/** Makes the socket's folder, or checks one that exists: a folder of this user's, for nobody else. */
async function privateFolder(dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const info = await lstat(dir);
  if (!info.isDirectory() || info.uid !== process.getuid?.() || (info.mode & 0o077) !== 0) {
    throw new AiboxError('CONFLICT', `${dir} is not a private folder of this user, so the aibox command server does not start`, `remove it (aibox makes it again, mode 0700); commands run without the server meanwhile`);
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
}

/** Serves until IDLE_MS pass without a request. Returns at once when another server already answers. */
export async function serveCli(runCli: RunCli, socketPath: string, idleMs = IDLE_MS): Promise<void> {
  await privateFolder(dirname(socketPath));
  if (await answers(socketPath)) return;
  let active = 0;
  let timer: NodeJS.Timeout | undefined;
  const server = createServer((socket) => {
    active++;
    clearTimeout(timer);
    socket.on('error', () => undefined); // a client gone mid-answer (Ctrl-C) changes nothing here
    // Whatever fails before the command runs (a request it cannot read) leaves it to the client's Node.
    serveOne(socket, runCli)
      .catch(() => socket.destroyed || socket.write(frame('f')))
      .finally(() => {
        socket.end();
        if (--active === 0) timer = setTimeout(() => server.close(), idleMs);
      });
  });
  // Bound under a name of its own, then renamed into place: a client never meets a half-made socket.
  const temp = `${socketPath}.${process.pid}`;
  await rm(temp, { force: true });
  await listen(server, temp);
  const { ino } = await stat(temp);
  await rename(temp, socketPath);
  timer = setTimeout(() => server.close(), idleMs);
  await new Promise((resolve) => server.once('close', resolve));
  // A newer server may have put its own socket there meanwhile: leave that one.
  if ((await stat(socketPath).catch(() => undefined))?.ino === ino) await rm(socketPath, { force: true });
}

export function registerCliServer(program: Command, runCli: RunCli): void {
  program
    .command(CLI_SERVER_COMMAND, { hidden: true })
    .description('Inside the sandbox: keep aibox loaded for the aibox client (it starts this)')
    .action(async () => {
      if (process.env.AIBOX_SANDBOX !== '1') throw new AiboxError('USAGE', 'the aibox command server runs inside the sandbox only', 'the aibox client there starts it');
      process.chdir('/');
      await serveCli(runCli, cliSocketPath(process.getuid?.() ?? 0));
    });
}
