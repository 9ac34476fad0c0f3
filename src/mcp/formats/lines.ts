/**
 * Whole-line edits for the YAML and TOML formats. An inserted chunk and its
 * later deletion are exact inverses, so removing what aibox added gives the
 * user's bytes back, a missing final newline included.
 */

export function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** Offset of the first character of the line holding `offset`. */
export function lineStart(text: string, offset: number): number {
  return offset <= 0 ? 0 : text.lastIndexOf('\n', offset - 1) + 1;
}

/** Offset just past the newline ending the line that holds the character before `end`. */
export function lineEnd(text: string, end: number): number {
  const newline = text.indexOf('\n', Math.max(end - 1, 0));
  return newline === -1 ? text.length : newline + 1;
}

/** The whitespace that starts the line holding `offset`. */
export function indentAt(text: string, offset: number): string {
  const start = lineStart(text, offset);
  return /^[ \t]*/.exec(text.slice(start))?.[0] ?? '';
}

/** Inserts lines at a line boundary; at the end of a file without a final newline, keeps it without one. */
export function insertLines(text: string, at: number, lines: readonly string[]): string {
  const eol = eolOf(text);
  if (at === text.length && text !== '' && !text.endsWith('\n')) return `${text}${eol}${lines.join(eol)}`;
  return `${text.slice(0, at)}${lines.join(eol)}${eol}${text.slice(at)}`;
}

/** Deletes whole lines [start, end): the inverse of insertLines. */
export function deleteLines(text: string, start: number, end: number): string {
  if (end === text.length && start > 0 && !text.endsWith('\n')) {
    const before = text[start - 2] === '\r' ? 2 : 1;
    return text.slice(0, start - before);
  }
  return text.slice(0, start) + text.slice(end);
}

/** Replaces whole lines [start, end) with other lines, keeping a missing final newline missing. */
export function replaceLines(text: string, start: number, end: number, lines: readonly string[]): string {
  const eol = eolOf(text);
  const last = end === text.length && !text.endsWith('\n') ? '' : eol;
  return `${text.slice(0, start)}${lines.join(eol)}${last}${text.slice(end)}`;
}
