import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import { canonicalRepo } from '../../policy/repo-url.js';
import { parseStagingRef, requestId } from '../staging.js';
import type { ApprovalStore, PushRequest, RequestState, TokenRole } from '../store/index.js';
import { eventOf, type Notify } from '../notify/index.js';
import type { PromotionGit } from './git.js';

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
  /** Tells people a request changed state (push/notify/: queues, never throws, never waits for a delivery). */
  notify?: Notify;
}

/** Announces a request's new state, once its compare-and-set succeeded. */
async function announce(deps: ServiceDeps, request: PushRequest | undefined): Promise<PushRequest | undefined> {
  const event = request && eventOf(request, deps.now());
  if (event) await deps.notify?.(event);
  return request;
}

export const DEFAULT_TTL_MS = 48 * 3600_000;

/** The body of POST /v1/requests. The pusher is the token's name, never the body's. */
export const CreateBody = z.object({
  repository: z.string(),
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

function requireRole(caller: Caller, role: TokenRole, what: string): void {
  if (caller.role !== role) throw new AiboxError('POLICY_DENIED', `${what} needs a ${role} token; ${caller.name} has a ${caller.role} token`);
}

export async function createRequest(deps: ServiceDeps, caller: Caller, body: CreateBody): Promise<{ id: string; superseded: string[] }> {
  requireRole(caller, 'developer', 'registering a push');
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
  const { request, superseded } = await deps.store.createRequest({
    id,
    repository: body.repository,
    url: body.url,
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
  for (const changed of [request, ...superseded]) await announce(deps, changed);
  return { id, superseded: superseded.map((old) => old.id) };
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
  requireRole(caller, 'approver', `${action} a push`);
  const request = await getRequest(deps, caller, id);
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

async function promote(deps: ServiceDeps, request: PushRequest, actor: string): Promise<PushRequest> {
  const url = urlOf(request);
  const finish = async (to: RequestState, reason?: string) => (await announce(deps, await deps.store.transition(request.id, ['promoting'], to, actor, reason))) ?? request;
  const target = await deps.git.remoteSha(url, request.targetRef);
  // Idempotent: the target already has what was staged (a promotion that crashed after its push).
  if (target === (request.newSha ?? undefined)) {
    if (await deps.git.remoteSha(url, request.stagingRef)) await deps.git.deleteRef(url, request.stagingRef);
    return finish('promoted');
  }
  if (target !== (request.oldSha ?? undefined)) {
    return finish('needs-rebase', `${request.targetRef} moved: expected ${request.oldSha ?? 'no ref'}, found ${target ?? 'no ref'}; rebase and push again`);
  }
  try {
    const staged = await deps.git.fetchRef(url, request.stagingRef);
    const expected = request.newSha ?? request.oldSha;
    if (staged !== expected) return finish('needs-rebase', `${request.stagingRef} points at ${staged}, not at the recorded ${expected}; push again`);
    const pushed = await deps.git.promote({ url, stagingRef: request.stagingRef, targetRef: request.targetRef, oldSha: request.oldSha, update: request.newSha !== null });
    if (pushed.ok) return finish('promoted');
    const now = await deps.git.remoteSha(url, request.targetRef);
    if (now !== (request.oldSha ?? undefined)) {
      return finish('needs-rebase', `${request.targetRef} moved: expected ${request.oldSha ?? 'no ref'}, found ${now ?? 'no ref'}; rebase and push again`);
    }
    throw new AiboxError('PROCESS_FAILED', `promoting ${request.id} failed: ${pushed.detail}`);
  } catch (error) {
    // Back to approved, so that approving again retries.
    await deps.store.transition(request.id, ['promoting'], 'approved', actor, error instanceof Error ? error.message.slice(0, 4000) : 'promotion failed');
    throw error;
  }
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
  requireRole(caller, 'developer', 'cancelling a push');
  const request = await getRequest(deps, caller, id);
  const cancelled = await deps.store.transition(id, ['pending'], 'cancelled', caller.name);
  if (!cancelled) throw wrongState((await deps.store.get(id)) ?? request, 'cancelled');
  await announce(deps, cancelled);
  await deps.git.deleteRef(urlOf(request), request.stagingRef);
  return cancelled;
}
