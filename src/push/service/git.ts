import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AiboxError } from '../../core/errors.js';
import type { Runner } from '../../core/runner.js';

/**
 * The git side of promotion. The service keeps one scratch bare repository:
 * it fetches a staged commit there, then updates the remote in one atomic push.
 * GIT_CONFIG_NOSYSTEM=1: the host's system config (a pushInsteadOf to
 * aibox::) must not route the service's own pushes back through the helper.
 */
export interface PromotionGit {
  /** The commit a ref has on the remote, or undefined when it does not exist. */
  remoteSha(url: string, ref: string): Promise<string | undefined>;
  /** Fetches a ref's commit from the remote into the scratch repository; returns it. */
  fetchRef(url: string, ref: string): Promise<string>;
  /** Whether `ancestor` is in the history of `commit` (both in the scratch repository). */
  contains(commit: string, ancestor: string): Promise<boolean>;
  /**
   * A merge commit of `theirs` into `ours` made by the service, or undefined when
   * they conflict. Deterministic (fixed identity and date), so a promotion that
   * crashed and runs again makes the same commit.
   */
  merge(ours: string, theirs: string, message: string, at: Date): Promise<string | undefined>;
  /** One atomic push with a lease on the target; false when the lease (or the remote) refused it. */
  promote(step: PromotionStep): Promise<{ ok: boolean; detail: string }>;
  deleteRef(url: string, ref: string): Promise<void>;
  /** Every staging ref on the remote (both modes) with its commit. */
  stagingRefs(url: string): Promise<{ ref: string; sha: string }[]>;
}

export interface PromotionStep {
  url: string;
  stagingRef: string;
  targetRef: string;
  /** The lease: what the target must still be (null: must not exist). */
  oldSha: string | null;
  /** The commit the target gets (in the scratch repository), or null: the push deletes the target. */
  source: string | null;
}

/** Who the service's merge commits are by. */
const MERGE_IDENTITY = { name: 'aibox approvals', email: 'aibox-approvals@localhost' };

const GIT_ENV = { GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };

/** The scratch repository, created on first use, and git run in it (review-git.ts shares it). */
export function scratchRepo(run: Runner, scratchDir: string, timeoutMs?: number) {
  const git = (args: string[], allowFailure = false) => run('git', args, { cwd: scratchDir, env: GIT_ENV, allowFailure, ...(timeoutMs ? { timeoutMs } : {}) });
  let ready: Promise<void> | undefined;
  const initScratch = async () => {
    if (existsSync(join(scratchDir, 'HEAD'))) return;
    await mkdir(scratchDir, { recursive: true, mode: 0o700 });
    // Another replica on this machine may be making it at the same moment: theirs is as good.
    const made = await run('git', ['init', '-q', '--bare', scratchDir], { env: GIT_ENV, allowFailure: true });
    if (made.exitCode !== 0 && !existsSync(join(scratchDir, 'HEAD'))) throw new AiboxError('PROCESS_FAILED', `cannot create the scratch repository ${scratchDir}: ${made.stderr.trim()}`);
  };
  // Kept once it worked; a failure is tried again by the next call.
  const ensureScratch = () => (ready ??= initScratch().catch((error: unknown) => ((ready = undefined), Promise.reject(error))));
  return { git, ensureScratch };
}

export function promotionGit(run: Runner, scratchDir: string): PromotionGit {
  const { git, ensureScratch } = scratchRepo(run, scratchDir);
  return {
    async remoteSha(url, ref) {
      await ensureScratch();
      const { stdout } = await git(['ls-remote', '--', url, ref]);
      const line = stdout.split('\n').find((row) => row.split('\t')[1] === ref);
      return line?.split('\t')[0];
    },
    async fetchRef(url, ref) {
      await ensureScratch();
      // A ref of its own for each fetch: promotions run in parallel (and replicas may share the folder).
      const own = `refs/fetched/${randomBytes(8).toString('hex')}`;
      await git(['fetch', '-q', '--no-write-fetch-head', '--', url, `+${ref}:${own}`]);
      const sha = (await git(['rev-parse', '--verify', `${own}^{commit}`])).stdout.trim();
      await git(['update-ref', '-d', own]);
      return sha;
    },
    async contains(commit, ancestor) {
      return (await git(['merge-base', '--is-ancestor', ancestor, commit], true)).exitCode === 0;
    },
    async merge(ours, theirs, message, at) {
      const tree = await git(['merge-tree', '--write-tree', '--no-messages', ours, theirs], true);
      if (tree.exitCode !== 0) return undefined;
      const date = `${Math.floor(at.getTime() / 1000)} +0000`;
      const identity = { GIT_AUTHOR_NAME: MERGE_IDENTITY.name, GIT_AUTHOR_EMAIL: MERGE_IDENTITY.email, GIT_AUTHOR_DATE: date };
      const env = { ...GIT_ENV, ...identity, GIT_COMMITTER_NAME: MERGE_IDENTITY.name, GIT_COMMITTER_EMAIL: MERGE_IDENTITY.email, GIT_COMMITTER_DATE: date };
      const commit = await run('git', ['commit-tree', tree.stdout.trim().split('\n')[0] ?? '', '-p', ours, '-p', theirs, '-m', message], { cwd: scratchDir, env });
      return commit.stdout.trim();
    },
    async stagingRefs(url) {
      await ensureScratch();
      const { stdout } = await git(['ls-remote', '--', url, 'refs/aibox/staging/*', 'refs/heads/aibox/staging/*']);
      return stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [sha = '', ref = ''] = line.split('\t');
          return { ref, sha };
        });
    },
    async promote(step) {
      await ensureScratch();
      const source = step.source === null ? `:${step.targetRef}` : `${step.source}:${step.targetRef}`;
      const result = await git(['push', '--porcelain', '--atomic', `--force-with-lease=${step.targetRef}:${step.oldSha ?? ''}`, '--', step.url, source, `:${step.stagingRef}`], true);
      return { ok: result.exitCode === 0, detail: (result.stdout + result.stderr).trim() };
    },
    async deleteRef(url, ref) {
      await ensureScratch();
      await git(['push', '-q', '--', url, `:${ref}`]);
    },
  };
}
