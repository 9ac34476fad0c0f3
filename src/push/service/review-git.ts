import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../../core/runner.js';
import { scratchRepo } from './git.js';

/** One commit as the dashboard shows it. */
export interface CommitInfo {
  sha: string;
  /** "Name <email>" */
  author: string;
  /** ISO 8601, the author date. */
  date: string;
  message: string;
}

/**
 * What a reviewer reads: the commits and the diff of a staged push, from the
 * promotion's scratch repository (git.ts). Commits are fetched without writing
 * refs, so reviewing leaves nothing for promotion to trip over.
 */
export interface ReviewGit {
  /** Of these commits, the ones the scratch repository lacks. */
  missing(shas: readonly string[]): Promise<string[]>;
  /** Fetches a ref's commits (no ref is written); false when the remote has no such ref. */
  fetchCommits(url: string, ref: string): Promise<boolean>;
  /** Commits reachable from head and not from exclude (null: head alone), newest first, at most max; more: there were others. */
  log(head: string, exclude: string | null, max: number): Promise<{ commits: CommitInfo[]; more: boolean }>;
  /** The diff from base to head (null: head against its first parent), cut at maxBytes. */
  diff(base: string | null, head: string, maxBytes: number): Promise<{ text: string; truncated: boolean }>;
}

const SAFE_DIFF = ['--no-color', '--no-ext-diff', '--no-textconv'];
/** A remote that hangs must not hold a dashboard page forever. */
const REVIEW_TIMEOUT_MS = 60_000;

export function reviewGit(run: Runner, scratchDir: string): ReviewGit {
  const { git, ensureScratch } = scratchRepo(run, scratchDir, REVIEW_TIMEOUT_MS);
  return {
    async missing(shas) {
      await ensureScratch();
      const found = await Promise.all(shas.map(async (sha) => (await git(['cat-file', '-e', `${sha}^{commit}`], true)).exitCode === 0));
      return shas.filter((_, index) => !found[index]);
    },
    async fetchCommits(url, ref) {
      await ensureScratch();
      return (await git(['fetch', '-q', '--no-tags', '--no-write-fetch-head', '--', url, ref], true)).exitCode === 0;
    },
    async log(head, exclude, max) {
      const range = exclude ? [head, `^${exclude}`] : ['-1', head];
      const { stdout } = await git(['log', '-z', '--no-color', `--max-count=${max + 1}`, '--format=%H%n%an <%ae>%n%aI%n%B', ...range, '--']);
      const commits = stdout.split('\0').filter(Boolean).map(parseCommit);
      return { commits: commits.slice(0, max), more: commits.length > max };
    },
    async diff(base, head, maxBytes) {
      // Written to a file and read up to the cut: a huge diff never sits in memory whole.
      const file = join(scratchDir, `review-${randomBytes(8).toString('hex')}.diff`);
      try {
        const args = base ? ['diff', ...SAFE_DIFF, `--output=${file}`, base, head] : ['show', ...SAFE_DIFF, '--format=', '--patch', '--diff-merges=first-parent', `--output=${file}`, head];
        await git([...args, '--']);
        const handle = await open(file, 'r');
        try {
          const buffer = Buffer.alloc(maxBytes + 1);
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
          return { text: buffer.subarray(0, Math.min(bytesRead, maxBytes)).toString('utf8'), truncated: bytesRead > maxBytes };
        } finally {
          await handle.close();
        }
      } finally {
        await rm(file, { force: true });
      }
    },
  };
}

function parseCommit(record: string): CommitInfo {
  const [sha = '', author = '', date = '', ...message] = record.split('\n');
  return { sha, author, date, message: message.join('\n').trimEnd() };
}
