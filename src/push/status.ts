import { AiboxError } from '../core/errors.js';
import type { Runner } from '../core/runner.js';
import type { PushClass } from './remote-helper.js';
import { parseStagingRef, stagingPrefix, type StagedPush } from './staging.js';

export interface StagedRow extends StagedPush {
  remote: string;
  commit: string;
}

/**
 * `aibox push status`: the pushes this developer has staged on each remote of the
 * repository, read from the remotes themselves (the staging refs are the record).
 */
export async function stagedPushes(run: Runner, cwd: string, classify: (url: string) => Promise<PushClass>): Promise<StagedRow[]> {
  if ((await run('git', ['rev-parse', '--git-dir'], { cwd, allowFailure: true })).exitCode !== 0) {
    throw new AiboxError('USAGE', `${cwd} is not inside a git repository`, 'run aibox push status in the repository you pushed from');
  }
  const remotes = (await run('git', ['remote'], { cwd })).stdout.split('\n').filter(Boolean);
  const rows: StagedRow[] = [];
  for (const remote of remotes) {
    const url = (await run('git', ['remote', 'get-url', remote], { cwd })).stdout.trim();
    const cls = await classify(url);
    const prefix = stagingPrefix(cls.staging, cls.identity);
    const listed = await run('git', ['ls-remote', url, `${prefix}*`], { cwd, env: { GIT_CONFIG_NOSYSTEM: '1' }, allowFailure: true });
    for (const line of listed.stdout.split('\n').filter(Boolean)) {
      const [commit = '', ref = ''] = line.split('\t');
      const staged = parseStagingRef(ref, cls.staging);
      if (staged) rows.push({ ...staged, remote, commit });
    }
  }
  return rows.sort((a, b) => a.stagedAt.localeCompare(b.stagedAt));
}
