import { AiboxError } from '../core/errors.js';

/**
 * Edits aibox's managed blocks in an OpenSSH client config. Every byte outside
 * the blocks is kept. A new block goes at the very top and ends with
 * `Match all`, so ssh's first-value-wins rule lets the block's options win and
 * the user's own top-level options keep applying to all hosts after it.
 */
const MARKER = /^# -{4,} (START|END) AIBOX (\S+) -{4,}\r?$/;

export function startMarker(name: string): string {
  return `# ------------ START AIBOX ${name} ------------`;
}
export function endMarker(name: string): string {
  return `# ------------ END AIBOX ${name} ------------`;
}

interface Block {
  name: string;
  /** Offsets of the block's first byte and one past its last (its final newline included). */
  start: number;
  end: number;
}

/** Finds every managed block; refuses a file whose markers do not pair up. */
export function parseBlocks(text: string, path: string): Block[] {
  const blocks: Block[] = [];
  let open: { name: string; start: number } | undefined;
  let offset = 0;
  for (const line of text.split('\n')) {
    const lineEnd = Math.min(offset + line.length + 1, text.length);
    const match = MARKER.exec(line);
    if (match) {
      const [, kind, name = ''] = match;
      const malformed = (why: string) =>
        new AiboxError(
          'CONFLICT',
          `malformed aibox block in ${path}: ${why}`,
          `fix or delete the lines between the "AIBOX ${name}" markers by hand, then run the command again`,
        );
      if (kind === 'START') {
        if (open) throw malformed(`START ${name} inside the block of ${open.name}`);
        if (blocks.some((block) => block.name === name)) throw malformed(`two blocks for ${name}`);
        open = { name, start: offset };
      } else {
        if (!open) throw malformed(`END ${name} without its START`);
        if (open.name !== name) throw malformed(`END ${name} closes the block of ${open.name}`);
        blocks.push({ name, start: open.start, end: lineEnd });
        open = undefined;
      }
    }
    offset += line.length + 1;
  }
  if (open) throw new AiboxError('CONFLICT', `malformed aibox block in ${path}: START ${open.name} without its END`, `add the END line or delete the block by hand`);
  return blocks;
}

/** The block's full text, with the file's line ending. */
function renderBlock(name: string, bodyLines: readonly string[], eol: string): string {
  const lines = [
    startMarker(name),
    '# Managed by aibox: do not edit between these markers; `aibox setup` rewrites them.',
    ...bodyLines,
    'Match all',
    endMarker(name),
  ];
  return lines.join(eol) + eol;
}

function lineEnding(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** Adds or replaces the named block; a replaced block keeps its place. */
export function upsertBlock(text: string, name: string, bodyLines: readonly string[], path: string): string {
  const blocks = parseBlocks(text, path);
  const block = renderBlock(name, bodyLines, lineEnding(text));
  const existing = blocks.find((candidate) => candidate.name === name);
  if (!existing) return block + text;
  const eol = lineEnding(text);
  const replacement = existing.end === text.length && !text.endsWith('\n') ? block.slice(0, -eol.length) : block;
  return text.slice(0, existing.start) + replacement + text.slice(existing.end);
}

/** Removes the named block; the rest of the file is returned byte for byte. */
export function removeBlock(text: string, name: string, path: string): string {
  const existing = parseBlocks(text, path).find((candidate) => candidate.name === name);
  if (!existing) return text;
  return text.slice(0, existing.start) + text.slice(existing.end);
}
