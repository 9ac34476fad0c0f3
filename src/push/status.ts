import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';
import { canonicalRepo } from '../policy/repo-url.js';
import type { PushHost } from './remote-helper.js';
import { parseStagingRef, stagingPrefix } from './staging.js';

export interface StatusRow {
  id: string;
  remote: string;
  target: string;
  /** The service's state; `staged` when the service does not know the push (yet). */
  state: string;
  reason?: string;
  /** When it was staged (from the staging ref) or registered. */
  at: string;
  /** The staged commit, while the staging ref is on the remote. */
  commit?: string;
}

/**
 * `aibox push status`: this developer's pushes to the repository's remotes.
 * The staging refs on the remotes are the record of what waits; the approval
 * service adds what became of each (approved, rejected and why, expired,
 * superseded, promoted). Without the service the remotes alone still answer.
 */
export async function pushStatus(run: Runner, cwd: string, host: PushHost): Promise<{ rows: StatusRow[]; note?: string }> {
  if ((await run('git', ['rev-parse', '--git-dir'], { cwd, allowFailure: true })).exitCode !== 0) {
    throw new AiboxError('USAGE', `${cwd} is not inside a git repository`, 'run aibox push status in the repository you pushed from');
  }
  const known = await host.requests();
  const byRef = new Map(known.requests.map((request) => [request.stagingRef, request]));
  const rows = new Map<string, StatusRow>();
  for (const remote of (await run('git', ['remote'], { cwd })).stdout.split('\n').filter(Boolean)) {
    const url = (await run('git', ['remote', 'get-url', remote], { cwd })).stdout.trim();
    const cls = await host.classify(url);
    const prefix = stagingPrefix(cls.staging, cls.identity);
    const listed = await run('git', ['ls-remote', url, `${prefix}*`], { cwd, env: { GIT_CONFIG_NOSYSTEM: '1' }, allowFailure: true });
    for (const line of listed.stdout.split('\n').filter(Boolean)) {
      const [commit = '', ref = ''] = line.split('\t');
      const staged = parseStagingRef(ref, cls.staging);
      const request = byRef.get(ref);
      if (staged) rows.set(ref, { id: staged.id, remote, target: `${staged.deletion ? 'delete ' : ''}${staged.target}`, state: request?.state ?? 'staged', ...(request?.reason ? { reason: request.reason } : {}), at: staged.stagedAt, commit });
    }
    const canonical = canonicalRepo(url);
    for (const request of known.requests) {
      if (rows.has(request.stagingRef) || !('repo' in canonical) || request.repository !== canonical.repo) continue;
      rows.set(request.stagingRef, { id: request.id, remote, target: request.targetRef, state: request.state, ...(request.reason ? { reason: request.reason } : {}), at: request.createdAt });
    }
  }
  const sorted = [...rows.values()].sort((a, b) => a.at.localeCompare(b.at));
  return known.note ? { rows: sorted, note: known.note } : { rows: sorted };
}
