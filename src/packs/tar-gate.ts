import { posix } from 'node:path';
import { AiboxError } from '../core/errors.js';

/** One archive entry as the gate reads it (types named as tar-stream names them). */
export interface EntryHeader {
  name: string;
  type: string;
  linkname: string;
  mode: number;
}

/** Why one archive entry may not be extracted into a pack folder, or undefined when it is safe. */
export function entryProblem(header: Pick<EntryHeader, 'name' | 'type' | 'linkname' | 'mode'>): string | undefined {
  const name = header.name;
  if (name.startsWith('/')) return 'an absolute path';
  const normalized = posix.normalize(name);
  if (normalized === '..' || normalized.startsWith('../') || name.split('/').includes('..')) return 'a path with ".."';
  const type = header.type;
  if (!['file', 'directory', 'symlink', 'link'].includes(type)) return `a ${type} entry (only files, folders and links inside the pack)`;
  if (header.mode & 0o6000) return 'a setuid or setgid file';
  if (header.mode & 0o002 && type !== 'symlink') return 'a world-writable file (the sandbox user could change the pack)';
  if (type === 'symlink' || type === 'link') {
    const target = header.linkname;
    if (target.startsWith('/')) return `a link to the absolute path ${target}`;
    const resolved = posix.normalize(type === 'symlink' ? posix.join(posix.dirname(normalized), target) : target);
    if (resolved === '..' || resolved.startsWith('../')) return `a link to ${target}, outside the pack`;
  }
  return undefined;
}

/**
 * Why an entry would change what an earlier one put in place, or undefined. tar
 * replaces a path given twice and writes through the archive's own links, so the
 * extracted pack would differ from what aibox read. `seen`: the earlier entries' paths and types.
 */
export function shadowProblem(header: Pick<EntryHeader, 'name' | 'type'>, seen: Map<string, string>): string | undefined {
  const path = posix.normalize(header.name).replace(/\/+$/, '');
  const parts = path.split('/');
  for (let end = 1; end < parts.length; end++) {
    const parent = parts.slice(0, end).join('/');
    if (seen.get(parent) === 'symlink') return `a path through the link ${parent} (of the archive)`;
  }
  const earlier = seen.get(path);
  seen.set(path, header.type);
  return earlier && !(earlier === 'directory' && header.type === 'directory') ? 'a second entry for the same path' : undefined;
}

const BLOCK = 512;
/** The most a GNU long name or a pax header may hold (real ones are a few hundred bytes). */
const MAX_META = 1024 * 1024;
const TYPES: Record<string, string> = { '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'character-device', '4': 'block-device', '5': 'directory', '6': 'fifo' };
/** Headers that describe the next entry: GNU long name and long link name, pax extended and global. */
const META = new Set(['L', 'K', 'x', 'g']);

/** A NUL-terminated field. */
function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

/** An octal field, or GNU's base-256 (high bit set) for large sizes. */
function number(block: Buffer, start: number, length: number): number {
  if (block[start]! & 0x80) {
    let value = block[start]! & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i]!;
    return value;
  }
  const digits = text(block, start, length).trim();
  if (!/^[0-7]*$/.test(digits)) return Number.NaN;
  return digits ? parseInt(digits, 8) : 0;
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
  return number(block, 148, 8) === sum;
}

/** pax records: "LEN key=value\n". */
function paxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(32, at);
    const length = Number(data.subarray(at, space).toString());
    if (space === -1 || !Number.isSafeInteger(length) || length <= 0 || at + length > data.length) throw new Error('a malformed pax header');
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    records.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return records;
}

/**
 * Reads every header of a tar archive, in order, and returns from `push` only the bytes
 * it has approved: an entry's header (with the long name or pax header before it) comes
 * out only after the entry was found safe. extract.ts reads a whole decompressed archive
 * through it, seeking over file data (`skippable`, `skip`), before tar may start on that
 * file. Anything it cannot read the way GNU tar would (sparse files, global path
 * overrides, a bad checksum, data after the end) is refused too.
 */
export class TarGate {
  /** The unit being read: a header, or a meta header with its data. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingNeed = BLOCK;
  /** Bytes of the current entry's data still to pass through (padding included). */
  private dataLeft = 0;
  /** Meta blocks held back until the entry they describe is approved. */
  private held: Buffer[] = [];
  private meta: { name?: string; linkname?: string; size?: number } = {};
  private readonly seen = new Map<string, string>();
  private ended = false;
  entries = 0;

  constructor(private readonly what: string) {}

  /** Takes the next decompressed bytes; returns those that may go to tar. Throws on a refused entry. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.dataLeft > 0) {
        const take = Math.min(this.dataLeft, chunk.length - at);
        out.push(chunk.subarray(at, at + take));
        this.dataLeft -= take;
        at += take;
        continue;
      }
      if (this.ended) {
        const rest = chunk.subarray(at);
        if (rest.some((byte) => byte !== 0)) this.refuse('data after the end of the archive');
        out.push(rest);
        break;
      }
      const take = Math.min(this.pendingNeed - this.pendingBytes, chunk.length - at);
      this.pending.push(chunk.subarray(at, at + take));
      this.pendingBytes += take;
      at += take;
      if (this.pendingBytes === this.pendingNeed) out.push(...this.complete(Buffer.concat(this.pending)));
    }
    return out;
  }

  /** Bytes of file data next, which the gate does not read: a reader of a file may `skip` them. */
  get skippable(): number {
    return this.dataLeft;
  }

  /** Passes over file data unread (at most `skippable` bytes). */
  skip(bytes: number): void {
    this.dataLeft -= Math.min(bytes, this.dataLeft);
  }

  /** Call after the last byte: refuses an archive that stops inside an entry. */
  end(): void {
    if (this.dataLeft > 0 || this.pendingBytes > 0 || this.held.length > 0) this.refuse('an archive cut short');
  }

  private complete(unit: Buffer): Buffer[] {
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingNeed = BLOCK;
    const block = unit.subarray(0, BLOCK);
    if (unit.length > BLOCK) return this.completeMeta(block, unit);
    if (block.every((byte) => byte === 0)) {
      if (this.held.length > 0) this.refuse('a long name or pax header with no entry after it');
      this.ended = true;
      return [block];
    }
    if (!checksumOk(block)) this.refuse('a header with a bad checksum (not a tar archive, or a damaged one)');
    const flag = String.fromCharCode(block[156]!);
    const size = number(block, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) this.refuse('a header with an unreadable size');
    if (META.has(flag)) {
      if (size > MAX_META) this.refuse(`a ${flag} header of ${size} bytes`);
      if (size === 0) return this.completeMeta(block, block);
      this.pending = [block];
      this.pendingBytes = BLOCK;
      this.pendingNeed = BLOCK + Math.ceil(size / BLOCK) * BLOCK;
      return [];
    }
    return this.completeEntry(block, flag, size);
  }

  private completeMeta(block: Buffer, unit: Buffer): Buffer[] {
    const flag = String.fromCharCode(block[156]!);
    const data = unit.subarray(BLOCK, BLOCK + number(block, 124, 12));
    if (flag === 'L' || flag === 'K') {
      const key = flag === 'L' ? 'name' : 'linkname';
      if (this.meta[key] !== undefined) this.refuse('two long names for one entry');
      this.meta[key] = text(data, 0, data.length);
    } else {
      let records: Map<string, string>;
      try {
        records = paxRecords(data);
      } catch {
        this.refuse('a malformed pax header');
      }
      for (const [key, value] of records) {
        if (key.startsWith('GNU.')) this.refuse(`a pax header with ${key} (sparse or multi-volume archives are not packs)`);
        if (!['path', 'linkpath', 'size'].includes(key)) continue;
        if (flag === 'g') this.refuse(`a global pax header that sets ${key}`);
        const field = key === 'path' ? 'name' : key === 'linkpath' ? 'linkname' : 'size';
        if (this.meta[field] !== undefined || value === '') this.refuse(`an empty or second ${key} for one entry`);
        if (field === 'size') {
          if (!/^\d+$/.test(value)) this.refuse(`a pax size of "${value}"`);
          this.meta.size = Number(value);
        } else this.meta[field] = value;
      }
    }
    this.held.push(unit);
    return [];
  }

  private completeEntry(block: Buffer, flag: string, headerSize: number): Buffer[] {
    const magic = block.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? text(block, 345, 155) : '';
    const ownName = prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100);
    const header: EntryHeader = {
      name: this.meta.name ?? ownName,
      type: TYPES[flag] ?? `type ${JSON.stringify(flag)}`,
      linkname: this.meta.linkname ?? text(block, 157, 100),
      mode: number(block, 100, 8),
    };
    const size = this.meta.size ?? headerSize;
    if (!Number.isSafeInteger(header.mode)) this.refuse(`${header.name}: an unreadable mode`);
    const problem = entryProblem(header) ?? shadowProblem(header, this.seen);
    if (problem) this.refuse(`${header.name}: ${problem}`);
    // tar reads data only for files (a hard link's or a folder's size field is ignored by GNU tar, and 0 here).
    this.dataLeft = header.type === 'file' ? Math.ceil(size / BLOCK) * BLOCK : 0;
    if (header.type !== 'file' && size !== 0) this.refuse(`${header.name}: a ${header.type} entry with data`);
    const out = [...this.held, block];
    this.held = [];
    this.meta = {};
    this.entries++;
    return out;
  }

  private refuse(why: string): never {
    throw new AiboxError('INVALID_FILE', `${this.what} is refused: its archive holds ${why}`, 'the pack is unsafe to install; tell its maintainer');
  }
}
