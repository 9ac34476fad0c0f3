import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';

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

interface Step {
  block: DocBlock;
  /** Lines that must appear in the block's output. */
  expected: string[];
}

function stepsOf(markdown: string): Step[] {
  const blocks = docBlocks(markdown);
  return blocks.flatMap((block, index) => {
    if (!isTested(block)) return [];
    const next = blocks[index + 1];
    const expected = next && isOutput(next) ? next.body.split('\n').map((line) => line.trim()).filter(Boolean) : [];
    return [{ block, expected }];
  });
}

export interface GuideRun {
  /** The folder the first block starts in. */
  work: string;
  env: NodeJS.ProcessEnv;
  /** Applied to each block and each expected line (e.g. a placeholder host → the test's). */
  rewrite?: (text: string) => string;
  /** Where one block's last `cd` is kept for the next. */
  cwdFile: string;
  timeoutMs?: number;
  diagnostic?: (message: string) => void;
}

/**
 * Runs every ```sh title="tested" block of a guide in document order, each with
 * `bash -e -o pipefail`, as a reader would in one terminal: a `cd` carries over to
 * the next block, variables do not. Checks each block's exit code (`exit=N`, else 0)
 * and that every line of the ```text title="output" block after it is in its output.
 */
export async function runGuide(guide: string, run: GuideRun): Promise<void> {
  const rewrite = run.rewrite ?? ((text: string) => text);
  const steps = stepsOf(await readFile(guide, 'utf8'));
  assert.ok(steps.length > 0, `${guide} has no tested shell blocks`);
  await writeFile(run.cwdFile, run.work);
  for (const { block, expected } of steps) {
    const script = rewrite(block.body);
    const cwd = (await readFile(run.cwdFile, 'utf8')).trim();
    const started = Date.now();
    // The trap records where the block ended (even when it fails as expected): the next block starts there.
    const result = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', `trap 'pwd > "$GUIDE_CWD_FILE"' EXIT\n${script}`], {
      cwd,
      env: { ...run.env, GUIDE_CWD_FILE: run.cwdFile },
      encoding: 'utf8',
      timeout: run.timeoutMs ?? 10 * 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = `${result.stdout}${result.stderr}`;
    const where = `${guide}:${block.line}\n${script}\n--- output ---\n${output}`;
    run.diagnostic?.(`${guide}:${block.line} (${block.body.split('\n')[0]}…): exit ${result.status}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(result.status, expectedExit(block), `exit code of the block at ${where}`);
    for (const line of expected) assert.ok(output.includes(rewrite(line)), `"${line}" is not in the output of the block at ${where}`);
  }
}
