import { AiboxError } from '../../core/errors.js';
import type { CommitInfo, ReviewGit } from '../service/review-git.js';
import type { PushRequest } from '../store/index.js';

/**
 * What a staged push changes, for the request page: the commits oldSha..newSha
 * (the staged commit alone for a new branch, the commit a deletion would drop),
 * and the diff, both with limits. Commits the scratch repository has already
 * are not fetched again (a sha names its content), which also keeps a decided
 * request readable after its staging ref is gone.
 */

export const MAX_COMMITS = 100;
export const MAX_DIFF_BYTES = 512 * 1024;

export interface Changes {
  kind: 'update' | 'create' | 'delete';
  commits: CommitInfo[];
  /** More commits than MAX_COMMITS: only the newest are listed. */
  moreCommits: boolean;
  diff?: { text: string; truncated: boolean };
  /** Why (some of) it cannot be shown. */
  note?: string;
}

export async function loadChanges(git: ReviewGit, request: PushRequest): Promise<Changes> {
  const kind = request.newSha === null ? 'delete' : request.oldSha === null ? 'create' : 'update';
  const head = request.newSha ?? request.oldSha;
  const empty: Changes = { kind, commits: [], moreCommits: false };
  if (!head) return empty;
  try {
    const base = kind === 'update' ? request.oldSha : null;
    const missing = await fetchMissing(git, request, base ? [head, base] : [head]);
    if (missing.includes(head)) return { ...empty, note: `The staged commit ${head} is no longer on the remote (its staging ref is deleted once the request is decided).` };
    if (kind === 'delete') return { ...empty, ...(await git.log(head, null, 1)) };
    if (base && !missing.includes(base)) {
      const [log, diff] = await Promise.all([git.log(head, base, MAX_COMMITS), git.diff(base, head, MAX_DIFF_BYTES)]);
      return { kind, commits: log.commits, moreCommits: log.more, diff };
    }
    const [log, diff] = await Promise.all([git.log(head, null, 1), git.diff(null, head, MAX_DIFF_BYTES)]);
    const note = base ? `The old commit ${base} is not on the remote any more: shown is the staged commit alone, against its parent.` : undefined;
    return { kind, commits: log.commits, moreCommits: false, diff, ...(note ? { note } : {}) };
  } catch (error) {
    if (error instanceof AiboxError) return { ...empty, note: `The commits cannot be shown: ${error.message}` };
    throw error;
  }
}

/** Fetches the staging ref, then the target, while commits are missing; returns those still missing. */
async function fetchMissing(git: ReviewGit, request: PushRequest, shas: string[]): Promise<string[]> {
  let missing = await git.missing(shas);
  for (const ref of [request.stagingRef, request.targetRef]) {
    if (missing.length === 0 || !request.url) break;
    if (await git.fetchCommits(request.url, ref)) missing = await git.missing(missing);
  }
  return missing;
}
