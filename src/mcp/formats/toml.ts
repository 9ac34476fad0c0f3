import { parse, TomlError } from 'smol-toml';
import { AiboxError } from '../../core/errors.js';
import { isRecord, plain, type Container, type Format } from './format.js';
import { deleteLines, insertLines, lineStart, replaceLines } from './lines.js';

/**
 * TOML (Codex's config.toml), edited as text one whole `[mcp_servers.NAME]`
 * table at a time: aibox appends its table at the end, replaces or removes
 * only the lines of a table it owns, and leaves every other byte alone. The
 * file is parsed (smol-toml) to refuse broken files and to see a same-named
 * server however the user spelled it (a table, dotted keys, an inline table).
 */

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

function tomlKey(key: string): string {
  return BARE_KEY.test(key) ? key : JSON.stringify(key);
}

/** JSON string escapes (\" \\ \n \uXXXX …) are all valid in a TOML basic string. */
function tomlValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(', ')}]`;
  if (isRecord(value)) {
    const pairs = Object.entries(value).map(([key, item]) => `${tomlKey(key)} = ${tomlValue(item)}`);
    return pairs.length === 0 ? '{}' : `{ ${pairs.join(', ')} }`;
  }
  throw new AiboxError('INTERNAL', `cannot write ${typeof value} as TOML`);
}

function renderTable(key: string, name: string, value: unknown): string[] {
  const fields = isRecord(value) ? Object.entries(value) : [];
  return [`[${key}.${tomlKey(name)}]`, ...fields.map(([field, item]) => `${tomlKey(field)} = ${tomlValue(item)}`)];
}

/** The lines of `[key.NAME]` and its sub-tables, [start, end), up to the next other table; undefined when not written as a table. */
function findTable(text: string, key: string, name: string): { start: number; end: number } | undefined {
  const literal = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const id = `(?:${literal}|"${literal}"|'${literal}')`;
  const header = new RegExp(`^\\s*\\[\\s*${key}\\s*\\.\\s*${id}\\s*\\]\\s*(#[^\\r\\n]*)?\\s*$`);
  const subTable = new RegExp(`^\\s*\\[\\s*${key}\\s*\\.\\s*${id}\\s*\\.`);
  let offset = 0;
  let table: { start: number; end: number } | undefined;
  for (const line of text.split('\n')) {
    const next = offset + line.length + 1;
    const content = line.trim() !== '' && !line.trim().startsWith('#');
    if (!table && header.test(line)) table = { start: offset, end: Math.min(next, text.length) };
    else if (table && /^\s*\[/.test(line) && !subTable.test(line)) break;
    else if (table && content) table.end = Math.min(next, text.length);
    offset = next;
  }
  return table;
}

export function tomlFormat(key: string): Format {
  const container: Container = { key, kind: 'map' };
  const located = (text: string, name: string, file: string) => {
    const table = findTable(text, key, name);
    if (!table) throw new AiboxError('CONFLICT', `${file}: [${key}.${name}] is no longer a table of its own; aibox left it alone`, `remove the "${name}" server from ${file} and run the command again`);
    return table;
  };
  const read = (text: string, file: string): { data: unknown } | AiboxError => {
    let data: unknown;
    try {
      data = plain(parse(text));
    } catch (error) {
      if (!(error instanceof TomlError)) throw error;
      return new AiboxError('INVALID_FILE', `${file}:${error.line}:${error.column} is not valid TOML (${error.message.split('\n')[0]}); aibox left it unchanged`, `fix the syntax in ${file}, then run the command again`);
    }
    const servers = isRecord(data) ? data[key] : undefined;
    if (servers !== undefined && !isRecord(servers)) return new AiboxError('INVALID_FILE', `${file}: ${key} is not a table; aibox left it unchanged`, `fix ${key} in ${file}`);
    return { data };
  };
  return {
    container,
    read,
    set(text, name, value, file) {
      const lines = renderTable(key, name, value);
      const parsed = read(text, file);
      if (parsed instanceof AiboxError) throw parsed;
      const servers = isRecord(parsed.data) ? parsed.data[key] : undefined;
      if (isRecord(servers) && Object.hasOwn(servers, name)) {
        const { start, end } = located(text, name, file);
        return replaceLines(text, start, end, lines);
      }
      return insertLines(text, text.length, text.trim() === '' ? lines : ['', ...lines]);
    },
    remove(text, name, file) {
      const { start, end } = located(text, name, file);
      const previous = start > 0 ? lineStart(text, start - 1) : start;
      const blankBefore = start > 0 && text.slice(previous, start).trim() === '';
      return deleteLines(text, blankBefore ? previous : start, end);
    },
    dropContainer(text) {
      return text;
    },
    isEmpty(text) {
      return text.trim() === '';
    },
  };
}
