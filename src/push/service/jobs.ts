import { canonicalRepo } from '../../policy/repo-url.js';
import { parseStagingRef, type StagedPush } from '../staging.js';
import type { PushRequest, RequestState } from '../store/index.js';
import { announce, resumePromotion, type ServiceDeps } from './requests.js';

/**
 * The service's background work, run at start and then every
 * `reconcile_every`: expire what waited too long, and make the index agree
 * with the remotes, which are the source of truth. Every step is idempotent
 * and safe to run on several replicas at once (the store's compare-and-set).
 */

/** States whose staging ref has no further use: the reconciler removes one still on the remote. */
const FINISHED: readonly RequestState[] = ['promoted', 'rejected', 'cancelled', 'expired', 'superseded'];

export interface JobReport {
  expired: PushRequest[];
  /** Staging refs found on a remote that the index did not know (staged while the service was down). */
  registered: string[];
  resumed: string[];
  /** Staging refs of finished requests, removed from their remote. */
  cleaned: string[];
  /** One line per remote or request the run could not handle; the next run tries again. */
  problems: string[];
}

export async function runJobs(deps: ServiceDeps, repositories: readonly string[]): Promise<JobReport> {
  const report: JobReport = { expired: [], registered: [], resumed: [], cleaned: [], problems: [] };
  report.expired = await deps.store.expireDue(deps.now());
  for (const request of report.expired) {
    await announce(deps, request);
    await attempt(report, `expired request ${request.id}`, () => deleteStaging(deps, request));
  }
  const known = await deps.store.list();
  const urls = new Set([...repositories, ...known.flatMap((request) => (request.url ? [request.url] : []))]);
  for (const url of urls) await attempt(report, url, () => reconcileRemote(deps, url, known, report));
  for (const request of await deps.store.list({ state: ['approved', 'promoting'] })) {
    await attempt(report, `promotion of ${request.id}`, async () => {
      const resumed = await resumePromotion(deps, request);
      if (resumed) report.resumed.push(request.id);
    });
  }
  return report;
}

async function attempt(report: JobReport, what: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    report.problems.push(`${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
}

async function deleteStaging(deps: ServiceDeps, request: PushRequest): Promise<void> {
  if (request.url && (await deps.git.remoteSha(request.url, request.stagingRef))) await deps.git.deleteRef(request.url, request.stagingRef);
}

async function reconcileRemote(deps: ServiceDeps, url: string, known: readonly PushRequest[], report: JobReport): Promise<void> {
  const canonical = canonicalRepo(url);
  if (!('repo' in canonical)) throw new Error(`not a repository URL: ${canonical.problem}`);
  const byRef = new Map(known.map((request) => [request.stagingRef, request]));
  for (const { ref, sha } of await deps.git.stagingRefs(url)) {
    const staged = parseStagingRef(ref, 'refs') ?? parseStagingRef(ref, 'branches');
    if (!staged) continue;
    const request = byRef.get(ref);
    if (request && FINISHED.includes(request.state)) {
      await deps.git.deleteRef(url, ref);
      report.cleaned.push(ref);
    } else if (!request) {
      await registerFromRemote(deps, url, canonical.repo, staged, sha);
      report.registered.push(ref);
    }
  }
}

/** A push the remote has and the index does not: recorded as the staging ref says, against the target as it is now. */
async function registerFromRemote(deps: ServiceDeps, url: string, repository: string, staged: StagedPush, sha: string): Promise<void> {
  const target = (await deps.git.remoteSha(url, staged.target)) ?? null;
  const createdAt = new Date(staged.stagedAt);
  const request = {
    id: staged.id,
    repository,
    url,
    targetRef: staged.target,
    stagingRef: staged.ref,
    oldSha: staged.deletion ? sha : target,
    newSha: staged.deletion ? null : sha,
    force: false,
    pushOptions: [],
    pusher: staged.identity,
    createdAt: createdAt.toISOString(),
    expiresAt: new Date(createdAt.getTime() + deps.ttlMs).toISOString(),
  };
  try {
    await deps.store.createRequest(request);
  } catch (error) {
    // Registered meanwhile by the helper or another replica: nothing to do.
    if (!(await deps.store.get(staged.id))) throw error;
  }
}
