import { spawn } from 'node:child_process';
import { lstatSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { connectUnix } from '../core/files.js';
import { encodeRequest, frame, hostSocketPath, isPrivateFolder, NO_SERVER_VARIABLES, servedByServer, SocketReader } from './server-protocol.js';

/**
 * The `aibox` command on the host (launcher.ts, dist/aibox.mjs): `aibox install` and
 * `uninstall` go to the host's command server (server.ts), a resident aibox of this user,
 * bundle and environment, so they skip loading the 2 MB bundle (0.35 s of Node against
 * 0.1 s); everything else, and every case the server cannot take, imports the bundle
 * (dist/aibox-cli.mjs, main.ts) and runs as before. The first call starts the server and
 * runs its own command meanwhile. AIBOX_NO_SERVER=1 bypasses it. What
 * images/base/client/aibox.c does inside the sandbox, in Node.
 */
export async function launch(bundle: string, socketRoot = '/tmp'): Promise<void> {
  const args = process.argv.slice(2);
  const uid = process.getuid?.();
  const bypass = NO_SERVER_VARIABLES.some((name) => ![undefined, '', '0'].includes(process.env[name]));
  if (uid !== undefined && !bypass && process.env.AIBOX_SANDBOX !== '1' && servedByServer(args, 'host')) {
    const socket = hostSocketPath({ uid, umask: process.umask(), env: process.env }, { path: bundle, ...statSync(bundle) }, socketRoot);
    const served = await runThroughServer(socket, args, uid);
    if (typeof served === 'object') {
      process.exitCode = served.code;
      return;
    }
    if (served === 'no-server') startHostServer(bundle, socket);
  }
  await import(pathToFileURL(bundle).href);
}

/** 'no-server': none answers, start one; 'unsafe': its folder is not private, run the command without a server. */
export type Served = { code: number } | 'no-server' | 'not-served' | 'unsafe';

function folderState(dir: string, uid: number): 'missing' | 'private' | 'unsafe' {
  try {
    return isPrivateFolder(lstatSync(dir), uid) ? 'private' : 'unsafe';
  } catch {
    return 'missing';
  }
}

async function sendStdin(socket: Socket): Promise<void> {
  for await (const chunk of process.stdin) socket.write(frame('d', chunk as Buffer));
  socket.write(frame('d'));
}

/**
 * Runs `args` through the server at `socketPath`: its output to ours, its exit code
 * back, or why not (Served).
 */
async function runThroughServer(socketPath: string, args: readonly string[], uid: number): Promise<Served> {
  const folder = folderState(dirname(socketPath), uid);
  if (folder !== 'private') return folder === 'missing' ? 'no-server' : 'unsafe';
  const socket = await connectUnix(socketPath);
  if (!socket) return 'no-server';
  socket.on('error', () => undefined); // seen as the end of the answer, below
  const env = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  socket.write(encodeRequest({ cwd: process.cwd(), args: [...args], env, stdoutTty: Boolean(process.stdout.isTTY), stderrTty: Boolean(process.stderr.isTTY), columns: process.stderr.columns ?? 0 }));
  const reader = new SocketReader(socket);
  for (;;) {
    const head = await reader.take(5);
    if (!head) break;
    const type = head.toString('latin1', 0, 1);
    const data = await reader.take(head.readUInt32BE(1));
    if (!data) break;
    if (type === 'f') {
      socket.destroy();
      return 'not-served';
    }
    if (type === 'x' && data.length === 4) {
      socket.destroy();
      return { code: data.readUInt32BE(0) };
    }
    if (type === 'i') await sendStdin(socket);
    else if (type === 'o') process.stdout.write(data);
    else if (type === 'e') process.stderr.write(data);
  }
  socket.destroy();
  process.stderr.write('aibox: the aibox command server ended without an answer; run the command again (AIBOX_NO_SERVER=1 runs it without the server)\n');
  return { code: 1 };
}

/** Starts the server for `socketPath`, detached (own session, no stdio), in this environment: the one its socket's name was made from. */
function startHostServer(bundle: string, socketPath: string): void {
  spawn(process.execPath, [bundle, 'cli-server', '--socket', socketPath], { detached: true, stdio: 'ignore', cwd: '/', env: process.env }).unref();
}
