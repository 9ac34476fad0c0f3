import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, rm, stat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { AiboxError } from '../core/errors.js';
import { socketAnswers } from '../core/files.js';
import type { CliIo } from './app.js';
import { cliSocketFolder, cliSocketPath, frame, isPrivateFolder, MAGIC, servedByServer, SocketReader, type CliRequest, type ServerSide } from './server-protocol.js';

/**
 * The command server: one resident aibox that runs a few commands (servedByServer) for a
 * small client, so these commands skip Node's start and the bundle's load. Inside the
 * sandbox (0.3–1 s under gVisor; the work itself takes milliseconds) the client is
 * /opt/aibox/bin/aibox (images/base/client/aibox.c); on the host it is the launcher,
 * dist/aibox.mjs (launcher.ts: 0.1 s of Node instead of 0.35 s). The client starts it the
 * first time, detached, and runs that command with Node itself; the server leaves after
 * IDLE_MS without a request (inside, also with the container). The protocol is in
 * server-protocol.ts.
 */

export const CLI_SERVER_COMMAND = 'cli-server';
const IDLE_MS = 15 * 60_000;
const MAX_REQUEST = 1 << 20;
const MAX_STDIN = 16 << 20;
const HOST_SOCKET = /^host-[0-9a-f]{16}\.sock$/;

export type RunCli = (argv: string[], io: CliIo, side: ServerSide) => Promise<number | undefined>;

export function parseRequest(payload: Buffer): CliRequest {
  const fields = payload.toString('utf8').split('\0');
  const [magic, cwd, stdoutTty, stderrTty, columns, argc] = fields;
  const count = Number(argc);
  if (fields.pop() !== '' || magic !== MAGIC || !cwd?.startsWith('/') || !Number.isInteger(count) || count < 0 || 6 + count > fields.length) {
    throw new AiboxError('USAGE', 'not a request of the aibox client', 'the aibox client in the sandbox, or the launcher on the host, sends it');
  }
  const env: Record<string, string> = {};
  for (const entry of fields.slice(6 + count)) {
    const at = entry.indexOf('=');
    if (at > 0) env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return { cwd, args: fields.slice(6, 6 + count), env, stdoutTty: stdoutTty === '1', stderrTty: stderrTty === '1', columns: Number(columns) || 80 };
}

/** The client's request, then its stdin when asked for. */
class RequestReader extends SocketReader {
  async need(size: number): Promise<Buffer> {
    const taken = await this.take(size);
    if (!taken) throw new AiboxError('USAGE', 'the aibox client closed the connection mid-request');
    return taken;
  }

  async stdin(): Promise<string> {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const head = await this.need(5);
      const size = head.readUInt32BE(1);
      if (head.toString('latin1', 0, 1) !== 'd' || (total += size) > MAX_STDIN) throw new AiboxError('USAGE', 'the aibox client sent a bad stdin frame');
      if (size === 0) return Buffer.concat(parts).toString('utf8');
      parts.push(await this.need(size));
    }
  }
}

async function serveOne(socket: Socket, runCli: RunCli, side: ServerSide): Promise<void> {
  const send = (type: Parameters<typeof frame>[0], data?: Buffer) => {
    if (!socket.destroyed) socket.write(frame(type, data));
  };
  const reader = new RequestReader(socket);
  const size = (await reader.need(4)).readUInt32BE(0);
  if (size > MAX_REQUEST) throw new AiboxError('USAGE', 'the aibox client sent an oversized request');
  const request = parseRequest(await reader.need(size));
  if (!servedByServer(request.args, side)) {
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
  code.writeUInt32BE((await runCli(['node', 'aibox', ...request.args], io, side)) ?? 0);
  send('x', code);
}

/** Makes the socket's folder, or checks one that exists: a folder of this user's, for nobody else. */
async function privateFolder(dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  const info = await lstat(dir);
  if (!isPrivateFolder(info, process.getuid?.())) {
    throw new AiboxError('CONFLICT', `${dir} is not a private folder of this user, so the aibox command server does not start`, `remove it (aibox makes it again, mode 0700); commands run without the server meanwhile`);
  }
}

/** Links `from` at `to`; false when something is there already. */
async function linked(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
}

/** Serves until IDLE_MS pass without a request. Returns at once when another server already answers. */
export async function serveCli(runCli: RunCli, socketPath: string, side: ServerSide, idleMs = IDLE_MS): Promise<void> {
  await privateFolder(dirname(socketPath));
  if (await socketAnswers(socketPath)) return;
  let active = 0;
  let timer: NodeJS.Timeout | undefined;
  const server = createServer((socket) => {
    active++;
    clearTimeout(timer);
    socket.on('error', () => undefined); // a client gone mid-answer (Ctrl-C) changes nothing here
    // Whatever fails before the command runs (a request it cannot read) leaves it to the client's Node.
    serveOne(socket, runCli, side)
      .catch(() => socket.destroyed || socket.write(frame('f')))
      .finally(() => {
        socket.end();
        if (--active === 0) timer = setTimeout(() => server.close(), idleMs);
      });
  });
  // Bound under a name of its own, then linked into place: a client never meets a half-made socket, and
  // of two servers started at once (two first calls), the second sees the first's and leaves.
  const temp = `${socketPath}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await listen(server, temp);
  const { ino } = await stat(temp);
  try {
    while (!(await linked(temp, socketPath))) {
      if (await socketAnswers(socketPath)) {
        server.close();
        return;
      }
      await rm(socketPath, { force: true }); // a dead server's
    }
  } finally {
    await rm(temp, { force: true });
  }
  timer = setTimeout(() => server.close(), idleMs);
  await new Promise((resolve) => server.once('close', resolve));
  // A newer server may have put its own socket there meanwhile: leave that one.
  if ((await stat(socketPath).catch(() => undefined))?.ino === ino) await rm(socketPath, { force: true });
}

export function registerCliServer(program: Command, runCli: RunCli): void {
  program
    .command(CLI_SERVER_COMMAND, { hidden: true })
    .description('Keep aibox loaded for the aibox client in the sandbox, or the launcher on the host (they start this)')
    .option('--socket <path>', 'on the host: /tmp/aibox-cli-<uid>/host-<hash>.sock, as the launcher names it')
    .action(async (options: { socket?: string }) => {
      const uid = process.getuid?.() ?? 0;
      process.chdir('/');
      if (process.env.AIBOX_SANDBOX === '1') return serveCli(runCli, cliSocketPath(uid), 'sandbox');
      const socket = options.socket ?? '';
      if (dirname(socket) !== cliSocketFolder(uid) || !HOST_SOCKET.test(basename(socket))) {
        throw new AiboxError('USAGE', `--socket ${JSON.stringify(socket)} is not a host command server's socket`, 'the launcher (dist/aibox.mjs) starts the server; run aibox commands as usual');
      }
      await serveCli(runCli, socket, 'host');
    });
}
