import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { mkdir, open, realpath, rename, rm, type FileHandle } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { dirname, join, basename } from 'node:path';
import { AiboxError } from './errors.js';

/** The largest file aibox reads (config, policy, ssh config, state, CA bundle). */
export const MAX_FILE_BYTES = 1024 * 1024;

/**
 * Writes a file atomically: a temporary file beside it, fsync, rename. A crash
 * leaves either the old or the new content, never half. The file gets exactly
 * `mode`, whatever the umask. A symlinked target (dotfiles managers) is written
 * through, so the link survives; `replaceLink` replaces the link itself instead
 * (a file another program owns may be its target).
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o600, options: { replaceLink?: boolean } = {}): Promise<void> {
  const target = options.replaceLink ? path : await realpath(path).catch(() => path);
  await mkdir(dirname(target), { recursive: true, mode: 0o700 });
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function fileKind(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

function tooLarge(path: string, size: number, maxBytes: number): AiboxError {
  return new AiboxError('INVALID_FILE', `${path} is ${size} bytes; aibox reads files of at most ${maxBytes} bytes`, `shorten ${path}, or point aibox at the right file`);
}

/**
 * The text of a file aibox reads, or undefined when it does not exist. Only
 * a regular file of at most maxBytes is read: a FIFO would block and a device
 * (a link to /dev/zero) would never end. O_NONBLOCK makes opening a FIFO return at once.
 */
export async function readRegularFile(path: string, maxBytes = MAX_FILE_BYTES): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new AiboxError('INVALID_FILE', `cannot read ${path}: ${code ?? String(error)}`, `check ${path} and the permissions of its folders`);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new AiboxError('INVALID_FILE', `${path} is ${fileKind(info)}, not a regular file`, `replace ${path} with a regular file`);
    if (info.size > maxBytes) throw tooLarge(path, info.size, maxBytes);
    // Sized from the file (one byte more shows that it grew), never the whole limit.
    const buffer = Buffer.alloc(Math.min(info.size, maxBytes) + 1);
    let length = 0;
    while (length <= maxBytes) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw tooLarge(path, length, maxBytes); // it grew while aibox read it
    if (length === buffer.length) throw new AiboxError('CONFLICT', `${path} changed while aibox read it`, 'run the command again');
    return buffer.toString('utf8', 0, length);
  } finally {
    await handle.close();
  }
}

/** writeFileAtomic, skipped when the file already holds exactly this content. */
export async function writeFileIfChanged(path: string, content: string, mode = 0o600): Promise<boolean> {
  if ((await readRegularFile(path)) === content) return false;
  await writeFileAtomic(path, content, mode);
  return true;
}

/** A connection to the Unix socket at `path`, or undefined when nothing listens there. */
export function connectUnix(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(undefined));
  });
}

/** Whether something listens on the Unix socket at `path` (connected, then closed at once). */
export async function socketAnswers(path: string): Promise<boolean> {
  const socket = await connectUnix(path);
  socket?.destroy();
  return Boolean(socket);
}
