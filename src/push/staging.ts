import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * Where a review-required push waits for approval: a staging ref on the same
 * remote, named so that the remote alone says who pushed what to which target
 * and when. The staging refs are the source of truth; an approval service's
 * database is an index it can rebuild from them.
 *
 *   refs/aibox/staging/<identity>/<UTC timestamp>/<target without refs/>
 *   refs/heads/aibox/staging/<identity>/<UTC timestamp>/<target without refs/>   (branches mode)
 *
 * A deletion of the target is staged as `…/<timestamp>/delete/<target>`, pointing
 * at the commit the target had when the deletion was asked for.
 */
export const StagingMode = z.enum(['refs', 'branches']);
export type StagingMode = z.infer<typeof StagingMode>;

const PREFIX: Record<StagingMode, string> = { refs: 'refs/aibox/staging/', branches: 'refs/heads/aibox/staging/' };

/** Who may push: a name such as alice or alice@example.com (one ref name component, never a `/`). */
export const IDENTITY_PATTERN = /^[A-Za-z0-9][\w.@+-]{0,63}$/;

/** Where every identity's staging namespace lives. */
export function stagingRoot(mode: StagingMode): string {
  return PREFIX[mode];
}

/** 20261127T205501Z: sorts as time, valid in a ref name. */
export function stamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function stagingPrefix(mode: StagingMode, identity: string): string {
  return `${stagingRoot(mode)}${identity}/`;
}

export function stagingRef(mode: StagingMode, identity: string, at: Date, target: string, deletion = false): string {
  return `${stagingPrefix(mode, identity)}${stamp(at)}/${deletion ? 'delete/' : ''}${target.replace(/^refs\//, '')}`;
}

/** A short, stable id of a staged push: derived from its staging ref, so the remote alone yields it. */
export function requestId(ref: string): string {
  return createHash('sha256').update(ref).digest('hex').slice(0, 10);
}

export interface StagedPush {
  id: string;
  ref: string;
  identity: string;
  stagedAt: string;
  target: string;
  deletion: boolean;
}

/** Reads a staging ref back; undefined for any other ref. */
export function parseStagingRef(ref: string, mode: StagingMode): StagedPush | undefined {
  if (!ref.startsWith(PREFIX[mode])) return undefined;
  const match = /^([^/]+)\/(\d{8}T\d{6}Z)\/(delete\/)?(.+)$/.exec(ref.slice(PREFIX[mode].length));
  if (!match) return undefined;
  const [, identity = '', time = '', deletion, target = ''] = match;
  const stagedAt = `${time.slice(0, 4)}-${time.slice(4, 6)}-${time.slice(6, 8)}T${time.slice(9, 11)}:${time.slice(11, 13)}:${time.slice(13, 15)}Z`;
  return { id: requestId(ref), ref, identity, stagedAt, target: `refs/${target}`, deletion: Boolean(deletion) };
}

/** A staged push as the helper reports it for registration: the body of the service's POST /v1/requests, without the URL. */
export const StagedReport = z.strictObject({
  /** The local ref pushed, when it was one (not HEAD or a commit). */
  sourceRef: z.string().min(1).max(1024).optional(),
  targetRef: z.string().min(1).max(1024),
  stagingRef: z.string().min(1).max(1024),
  oldSha: z.string().regex(/^[0-9a-f]{40}$/).nullable(),
  newSha: z.string().regex(/^[0-9a-f]{40}$/).nullable(),
  force: z.boolean(),
  pushOptions: z.array(z.string().max(1024)).max(100),
});
export type StagedReport = z.infer<typeof StagedReport>;
