import { z } from 'zod';
import { crashPoint } from '../../core/crash.js';
import { AiboxError } from '../../core/errors.js';
import { canonicalRepo } from '../../policy/repo-url.js';
import { parseStagingRef, requestId } from '../staging.js';
import { SERVICE_ACTOR, type ApprovalStore, type PushRequest, type RequestState, type TokenRole } from '../store/index.js';
import { eventOf, type Notify } from '../notify/index.js';
import type { PromotionGit } from './git.js';
import type { PushReview } from '../../policy/query.js';

/** Who calls the API: a verified token's name and role. */
export interface Caller {
  name: string;
  role: TokenRole;
}

export interface ServiceDeps {
  store: ApprovalStore;
  git: PromotionGit;
  now: () => Date;
  /** How long a request waits for a decision before it expires. */
  ttlMs: number;
  /** Who may approve pushes to a repository, and whether a moved target may be merged (the org policy). */
  review: (repository: string) => PushReview;
  /** A promotion not finished after this long is taken for dead (its replica crashed) and run again. */
  promotionTimeoutMs: number;
  /** Tells people a request changed state (push/notify/: queues, never throws, never waits for a delivery). */
  notify?: Notify;
}

/** Announces a request's new state, once its compare-and-set succeeded. */
export async function announce(deps: ServiceDeps, request: PushRequest | undefined): Promise<PushRequest | undefined> {
  const event = request && eventOf(request, deps.now());
  if (event) await deps.notify?.(event);
  return request;
}

export const DEFAULT_TTL_MS = 48 * 3600_000;

/** The body of POST /v1/requests. The pusher is the token's name, never the body's. */
export const CreateBody = z.object({
  repository: z.string(),
  sourceRef: z.string().optional(),
  url: z.string().min(1).max(2048),
  targetRef: z.string(),
  stagingRef: z.string(),
  oldSha: z.string().nullable(),
  newSha: z.string().nullable(),
  force: z.boolean().default(false),
  pushOptions: z.array(z.string()).default([]),
});
export type CreateBody = z.infer<typeof CreateBody>;

export const ReasonBody = z.object({ reason: z.string().min(1, 'must say why').max(4000) });

function requireDeveloper(caller: Caller, what: string): void {
  if (caller.role !== 'developer') throw new AiboxError('POLICY_DENIED', `${what} needs a developer token; ${caller.name} has a ${caller.role} token`);
}

export async function createRequest(deps: ServiceDeps, caller: Caller, body: CreateBody): Promise<{ id: string; superseded: string[] }> {
  requireDeveloper(caller, 'registering a push');
  const staged = parseStagingRef(body.stagingRef, 'refs') ?? parseStagingRef(body.stagingRef, 'branches');
  if (!staged) throw new AiboxError('USAGE', `stagingRef: not a staging ref (got ${JSON.stringify(body.stagingRef)})`, 'staging refs look like refs/aibox/staging/<who>/<time>/<target>');
  if (staged.identity !== caller.name) throw new AiboxError('POLICY_DENIED', `stagingRef: ${body.stagingRef} belongs to ${staged.identity}, not to ${caller.name}`);
  if (staged.target !== body.targetRef) throw new AiboxError('USAGE', `targetRef: ${body.targetRef} is not the target of ${body.stagingRef} (${staged.target})`);
  if (staged.deletion !== (body.newSha === null)) throw new AiboxError('USAGE', 'newSha: must be null exactly when the staging ref stages a deletion (…/delete/…)');
  const canonical = canonicalRepo(body.url);
  if (!('repo' in canonical) || canonical.repo !== body.repository) {
    throw new AiboxError('USAGE', `url: ${body.url} is not a URL of the repository ${body.repository}`);
  }
  const createdAt = deps.now();
  const id = requestId(body.stagingRef);
  const created = deps.store.createRequest({
    id,
    repository: body.repository,
    url: body.url,
    ...(body.sourceRef ? { sourceRef: body.sourceRef } : {}),
    targetRef: body.targetRef,
    stagingRef: body.stagingRef,
    oldSha: body.oldSha,
    newSha: body.newSha,
    force: body.force,
    pushOptions: body.pushOptions,
    ...(body.oldSha && body.newSha ? { commitRange: `${body.oldSha}..${body.newSha}` } : {}),
    pusher: caller.name,
    createdAt: createdAt.toISOString(),
    expiresAt: new Date(createdAt.getTime() + deps.ttlMs).toISOString(),
  });
  try {
    const { request, superseded } = await created;
    for (const changed of [request, ...superseded]) await announce(deps, changed);
    return { id, superseded: superseded.map((old) => old.id) };
  } catch (error) {
    // Registering again (a retry, or after the reconciler found the staging ref first) is not an error.
    const known = await deps.store.get(id);
    if (known?.stagingRef === body.stagingRef && known.pusher === caller.name) return { id, superseded: [] };
    throw error;
  }
}

export async function listRequests(deps: ServiceDeps, caller: Caller, state: RequestState | undefined): Promise<PushRequest[]> {
  // A developer sees only their own pushes; approvers (and the service) see all.
  const pusher = caller.role === 'developer' ? caller.name : undefined;
  return deps.store.list({ ...(pusher ? { pusher } : {}), ...(state ? { state } : {}) });
}

export async function getRequest(deps: ServiceDeps, caller: Caller, id: string): Promise<PushRequest> {
  const request = await deps.store.get(id);
  if (!request || (caller.role === 'developer' && request.pusher !== caller.name)) throw new AiboxError('NOT_FOUND', `no push request ${id}`);
  return request;
}

function wrongState(request: PushRequest, action: string): AiboxError {
  return new AiboxError('CONFLICT', `request ${request.id} is ${request.state}: it cannot be ${action}`);
}

async function decidable(deps: ServiceDeps, caller: Caller, id: string, action: 'approving' | 'rejecting'): Promise<PushRequest> {
  if (caller.role === 'developer') throw new AiboxError('POLICY_DENIED', `${action} a push needs an approver's token; ${caller.name} has a developer token`);
  const request = await getRequest(deps, caller, id);
  const review = deps.review(request.repository);
  if (!review.approvers.includes(caller.role)) {
    throw new AiboxError(
      'POLICY_DENIED',
      `${action} a push to ${request.repository} needs the role ${review.approvers.join(' or ')} (${review.rule}); ${caller.name} has ${caller.role}`,
    );
  }
  if (request.pusher === caller.name) throw new AiboxError('POLICY_DENIED', `nobody approves their own push: ${id} was pushed by ${caller.name}`);
  return request;
}

function urlOf(request: PushRequest): string {
  if (!request.url) throw new AiboxError('NOT_FOUND', `no git URL recorded for request ${request.id}`, 'it was rebuilt from a remote without one; register the push again');
  return request.url;
}

/**
 * Approves and promotes. Every step is a compare-and-set, so a request is
 * promoted at most once however many approvers (or replicas) race; an
 * `approved` request left by a crash is promoted by the next approve.
 */
export async function approveRequest(deps: ServiceDeps, caller: Caller, id: string): Promise<PushRequest> {
  const request = await decidable(deps, caller, id, 'approving');
  if (request.state !== 'approved') {
    const approved = await deps.store.transition(id, ['pending'], 'approved', caller.name);
    if (!approved) throw wrongState((await deps.store.get(id)) ?? request, 'approved');
  }
  const promoting = await deps.store.transition(id, ['approved'], 'promoting', caller.name);
  if (!promoting) throw wrongState((await deps.store.get(id)) ?? request, 'promoted again');
  return promote(deps, promoting, caller.name);
}

/**
 * Finishes what a crash (or a failed push) left: a request approved, or stuck
 * in promoting, for longer than the promotion timeout is promoted (again: safe,
 * as promotion first checks whether the push landed). Younger ones may still
 * be in the hands of the approve call that moved them there.
 * Returns whether it acted.
 */
export async function resumePromotion(deps: ServiceDeps, request: PushRequest): Promise<boolean> {
  const since = request.history.at(-1)?.at ?? request.createdAt;
  if (deps.now().getTime() - new Date(since).getTime() < deps.promotionTimeoutMs) return false;
  if (request.state === 'approved') {
    const promoting = await deps.store.transition(request.id, ['approved'], 'promoting', SERVICE_ACTOR);
    if (!promoting) return false;
    await promote(deps, promoting, SERVICE_ACTOR);
    return true;
  }
  if (request.state !== 'promoting') return false;
  await promote(deps, request, SERVICE_ACTOR);
  return true;
}

async function promote(deps: ServiceDeps, request: PushRequest, actor: string): Promise<PushRequest> {
  const url = urlOf(request);
  const finish = async (to: RequestState, reason?: string) => (await announce(deps, await deps.store.transition(request.id, ['promoting'], to, actor, reason))) ?? request;
  try {
    const outcome = await promotion(deps, request, url);
    return finish(outcome.state, outcome.reason);
  } catch (error) {
    // Another promotion of it (a replica resuming one it took for crashed) may have landed it meanwhile.
    if (await landed(deps, url, request, await deps.git.remoteSha(url, request.targetRef)).catch(() => false)) return finish('promoted');
    // Back to approved, so that approving again (or the reconciler) retries.
    await deps.store.transition(request.id, ['promoting'], 'approved', actor, error instanceof Error ? error.message.slice(0, 4000) : 'promotion failed');
    throw error;
  }
}

interface Outcome {
  state: 'promoted' | 'needs-rebase';
  reason?: string;
}

/** Whether the push already reached its target: the target holds the staged commit (or is gone, for a deletion). */
async function landed(deps: ServiceDeps, url: string, request: PushRequest, target: string | undefined): Promise<boolean> {
  if (request.newSha === null || target === undefined) return request.newSha === null && target === undefined;
  if (target === request.newSha) return true;
  await deps.git.fetchRef(url, request.targetRef);
  return deps.git.contains(target, request.newSha);
}

function moved(request: PushRequest, found: string | undefined): Outcome {
  return { state: 'needs-rebase', reason: `${request.targetRef} moved: expected ${request.oldSha ?? 'no ref'}, found ${found ?? 'no ref'}; rebase and push again` };
}

/**
 * The remote side of a promotion. Safe to run again after a crash at any point
 * and against another replica doing the same: it first checks whether the push
 * has landed, and its one push is atomic with a lease on the target.
 */
async function promotion(deps: ServiceDeps, request: PushRequest, url: string): Promise<Outcome> {
  // Staging ref first: a promotion that lands between the two reads then shows as landed, not as a lost staging ref.
  const stillStaged = (await deps.git.remoteSha(url, request.stagingRef)) !== undefined;
  const target = await deps.git.remoteSha(url, request.targetRef);
  if (await landed(deps, url, request, target)) {
    if (stillStaged) await deps.git.deleteRef(url, request.stagingRef);
    return { state: 'promoted' };
  }
  if (!stillStaged) return { state: 'needs-rebase', reason: `${request.stagingRef} is no longer on the remote; push again` };
  const staged = await deps.git.fetchRef(url, request.stagingRef);
  const expected = request.newSha ?? request.oldSha;
  if (staged !== expected) return { state: 'needs-rebase', reason: `${request.stagingRef} points at ${staged}, not at the recorded ${expected}; push again` };
  let step = { url, stagingRef: request.stagingRef, targetRef: request.targetRef, oldSha: request.oldSha, source: request.newSha };
  let merged: string | undefined;
  if (target !== (request.oldSha ?? undefined)) {
    if (!deps.review(request.repository).merge || request.newSha === null || target === undefined) return moved(request, target);
    const approvedAt = [...request.history].reverse().find((event) => event.state === 'approved')?.at ?? request.createdAt;
    merged = await deps.git.merge(target, request.newSha, `Merge ${request.id} into ${request.targetRef.replace(/^refs\/heads\//, '')}\n\nStaged as ${request.stagingRef} by ${request.pusher}; approved with aibox.`, new Date(approvedAt));
    if (!merged) return { state: 'needs-rebase', reason: `${request.targetRef} moved to ${target} and the push conflicts with it; rebase and push again` };
    step = { ...step, oldSha: target, source: merged };
  }
  crashPoint('promotion:before-push');
  const pushed = await deps.git.promote(step);
  crashPoint('promotion:after-push');
  if (pushed.ok) return { state: 'promoted', ...(merged ? { reason: `merged as ${merged}` } : {}) };
  // Lost a race: another replica promoted it, or the target moved meanwhile.
  const now = await deps.git.remoteSha(url, request.targetRef);
  if (await landed(deps, url, request, now)) return { state: 'promoted' };
  if (now !== step.oldSha && !merged) return moved(request, now);
  throw new AiboxError('PROCESS_FAILED', `promoting ${request.id} failed: ${pushed.detail}`);
}

export async function rejectRequest(deps: ServiceDeps, caller: Caller, id: string, reason: string): Promise<PushRequest> {
  const request = await decidable(deps, caller, id, 'rejecting');
  const rejected = await deps.store.transition(id, ['pending'], 'rejected', caller.name, reason);
  if (!rejected) throw wrongState((await deps.store.get(id)) ?? request, 'rejected');
  await announce(deps, rejected);
  await deps.git.deleteRef(urlOf(request), request.stagingRef);
  return rejected;
}

export async function cancelRequest(deps: ServiceDeps, caller: Caller, id: string): Promise<PushRequest> {
  requireDeveloper(caller, 'cancelling a push');
  const request = await getRequest(deps, caller, id);
  const cancelled = await deps.store.transition(id, ['pending'], 'cancelled', caller.name);
  if (!cancelled) throw wrongState((await deps.store.get(id)) ?? request, 'cancelled');
  await announce(deps, cancelled);
  await deps.git.deleteRef(urlOf(request), request.stagingRef);
  return cancelled;
}
