import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * What the command server (server.ts) and its clients share: the socket paths, the
 * commands it takes, and the frames. Imported by the host's launcher (launcher.ts),
 * so it stays small: Node's own modules only.
 *
 * Protocol on a Unix socket in a private folder (0700, this user's; both sides check):
 * - client → server: a u32 (big-endian) length, then NUL-terminated fields:
 *   `aibox-cli/1`, cwd, stdout is a TTY (`0`/`1`), stderr is a TTY, terminal columns,
 *   the number of arguments, the arguments, then the environment (`NAME=value` each).
 * - server → client, frames of a type byte and a u32 length: `o`/`e` bytes for
 *   stdout/stderr, `i` "send your stdin" (answered with `d` frames, an empty one for its
 *   end), `f` "not served: run it with Node yourself", `x` the exit code (u32), last.
 */

export const MAGIC = 'aibox-cli/1';
export type FrameType = 'o' | 'e' | 'i' | 'f' | 'x' | 'd';

export function frame(type: FrameType, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

export interface CliRequest {
  cwd: string;
  args: string[];
  env: Record<string, string>;
  stdoutTty: boolean;
  stderrTty: boolean;
  columns: number;
}

/** The request as the client sends it: its length, then the fields. */
export function encodeRequest(request: CliRequest): Buffer {
  const { cwd, args, env, stdoutTty, stderrTty, columns } = request;
  const fields = [MAGIC, cwd, stdoutTty ? '1' : '0', stderrTty ? '1' : '0', String(columns), String(args.length), ...args, ...Object.entries(env).map(([name, value]) => `${name}=${value}`)];
  const payload = Buffer.from(`${fields.join('\0')}\0`);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(payload.length);
  return Buffer.concat([length, payload]);
}

/** Where the server runs: it decides the socket and the commands it takes. */
export type ServerSide = 'sandbox' | 'host';

export function cliSocketFolder(uid: number, root = '/tmp'): string {
  return join(root, `aibox-cli-${uid}`);
}

/** The in-sandbox server's socket (its client, images/base/client/aibox.c, knows this path). */
export function cliSocketPath(uid: number, root = '/tmp'): string {
  return join(cliSocketFolder(uid, root), 'cli.sock');
}

/** The socket's folder as both sides require it: a folder of this user's, for nobody else (the request carries the environment). */
export function isPrivateFolder(info: { isDirectory(): boolean; uid: number; mode: number }, uid: number | undefined): boolean {
  return info.isDirectory() && info.uid === uid && (info.mode & 0o077) === 0;
}

/** Variables that differ between calls of one session and matter to no command. */
const PER_CALL = new Set(['PWD', 'OLDPWD', 'SHLVL', '_', 'COLUMNS', 'LINES']);

/** What a host server inherits from the caller that starts it, and so must share with every caller it serves. */
export interface HostCaller {
  uid: number;
  umask: number;
  env: NodeJS.ProcessEnv;
}

/**
 * The host server's socket. Its name is a hash of the bundle file (path, size, time),
 * the umask and the environment: a request is only ever served by a server of the same
 * aibox started the same way, so what the command and the programs it starts read from
 * `process.env` is the caller's. An upgrade or another environment (another terminal's,
 * sudo's) gets a server of its own; an unused one leaves after 15 minutes.
 */
export function hostSocketPath(caller: HostCaller, bundle: { path: string; size: number; mtimeMs: number }, root = '/tmp'): string {
  const hash = createHash('sha256').update(`${bundle.path}\0${bundle.size}\0${bundle.mtimeMs}\0${caller.umask}\0`);
  for (const name of Object.keys(caller.env).sort()) {
    if (!PER_CALL.has(name)) hash.update(`${name}=${caller.env[name] ?? ''}\0`);
  }
  return join(cliSocketFolder(caller.uid, root), `host-${hash.digest('hex').slice(0, 16)}.sock`);
}

/** Set, they make the launcher run the command itself: no server, or a test's fault injection and tracing, which are per process. */
export const NO_SERVER_VARIABLES = ['AIBOX_NO_SERVER', 'AIBOX_CRASH_AT', 'AIBOX_TRACE'] as const;

/**
 * What a server runs. Inside the sandbox: `aibox [global options] install …` and `mcp`
 * enable, disable, regenerate, list and apply: they start no program (one that did would
 * get the server's environment, not the caller's); install and enable ask the host through
 * the broker. The client there sends every `aibox install …` and `aibox mcp …` but
 * `mcp run` (an MCP server's stdio for as long as the agent uses it); the rest the server
 * leaves to Node. On the host: `install` and `uninstall` (its server's environment is the
 * caller's, see hostSocketPath). Help is always Node's: a server builds only these commands.
 */
const SERVED_MCP = new Set(['enable', 'disable', 'regenerate', 'list', 'apply']);

export function servedByServer(args: readonly string[], side: ServerSide = 'sandbox'): boolean {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--help' || arg === '-h') return false;
    if (arg === '--name') i++;
    else if (!arg.startsWith('-')) words.push(arg);
  }
  if (side === 'host') return words[0] === 'install' || words[0] === 'uninstall';
  return words[0] === 'install' || (words[0] === 'mcp' && SERVED_MCP.has(words[1] ?? ''));
}

/** Exact-size reads from a socket; undefined when it ends first. */
export class SocketReader {
  private buffered = Buffer.alloc(0);
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(socket: AsyncIterable<Buffer>) {
    this.chunks = socket[Symbol.asyncIterator]();
  }

  async take(size: number): Promise<Buffer | undefined> {
    while (this.buffered.length < size) {
      const next = await this.chunks.next();
      if (next.done) return undefined;
      this.buffered = Buffer.concat([this.buffered, next.value]);
    }
    const taken = this.buffered.subarray(0, size);
    this.buffered = this.buffered.subarray(size);
    return taken;
  }
}
