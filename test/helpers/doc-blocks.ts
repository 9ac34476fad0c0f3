/** The fenced code blocks of a Markdown guide whose shell commands a test runs (docs/packs.md). */
export interface DocBlock {
  /** The info string's language: sh, text, yaml, ... */
  lang: string;
  /** The rest of the info string, e.g. `title="tested" exit=5`. */
  info: string;
  body: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

export const SHELL_LANGS = ['sh', 'bash', 'shell', 'console', 'shell-session'];

export function docBlocks(markdown: string): DocBlock[] {
  const blocks: DocBlock[] = [];
  const fence = /^( *)```([\w-]*)([^\n]*)\n([\s\S]*?)^\1```[ \t]*$/gm;
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1] ?? '';
    const body = (match[4] ?? '').split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line)).join('\n');
    blocks.push({ lang: match[2] ?? '', info: (match[3] ?? '').trim(), body, line: markdown.slice(0, match.index).split('\n').length });
  }
  return blocks;
}

/** A shell block the guide test runs: marked `title="tested"`; `exit=N` when it must fail with N. */
export function isTested(block: DocBlock): boolean {
  return /(^|\s)title="tested"(\s|$)/.test(block.info);
}

export function expectedExit(block: DocBlock): number {
  return Number(/(?:^|\s)exit=(\d+)/.exec(block.info)?.[1] ?? 0);
}

/** An output block: each of its lines must appear in what the shell block before it printed. */
export function isOutput(block: DocBlock): boolean {
  return block.lang === 'text' && /(^|\s)title="output"(\s|$)/.test(block.info);
}
