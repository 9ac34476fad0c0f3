import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import { ApproverRole } from '../../policy/schema.js';

/**
 * What the approval service stores: push requests with their history, and
 * API tokens. These schemas are the single source of truth; the types are
 * inferred from them and every row read back from a database is parsed again.
 */

export const REQUEST_STATES = ['pending', 'approved', 'promoting', 'promoted', 'needs-rebase', 'rejected', 'cancelled', 'expired', 'superseded'] as const;
export const RequestState = z.enum(REQUEST_STATES);
export type RequestState = z.infer<typeof RequestState>;

/** The states a newer push by the same pusher to the same target closes: nobody acts on them any more. */
export const SUPERSEDABLE: readonly RequestState[] = ['pending', 'needs-rebase'];

export const RequestId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{3,63}$/, 'must be 4 to 64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit');

export const CommitSha = z.string().regex(/^[0-9a-f]{40}$/, 'must be a commit sha of 40 lowercase hex digits');

/** git check-ref-format's rules that matter here, for a full ref name (refs/…). */
export const RefName = z
  .string()
  .max(1024)
  .refine(
    (ref) =>
      ref.startsWith('refs/') &&
      !/[\x00-\x20\x7f~^:?*[\\]/.test(ref) &&
      !ref.includes('..') &&
      !ref.includes('@{') &&
      !ref.includes('//') &&
      !ref.endsWith('/') &&
      !ref.endsWith('.') &&
      ref.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock')),
    'must be a full git ref name such as refs/heads/main',
  );

/** A person or service as the approval service knows it (a token's name, a git identity). */
export const Identity = z.string().regex(/^[^\s\x00-\x1f\x7f]{1,128}$/, 'must be 1 to 128 characters without spaces or control characters');

/** The canonical form of a remote (policy/repo-url.ts), e.g. git.example.com/acme/app. */
export const Repository = z.string().regex(/^[^\s\x00-\x1f\x7f]{1,2048}$/, 'must be a repository URL without spaces or control characters');

/** Stored as toISOString() so that text order is time order in both databases. */
export const Timestamp = z.iso.datetime({ offset: true }).transform((at) => new Date(at).toISOString());

export const Reason = z.string().max(4000, 'must be at most 4000 characters');

export const HistoryEvent = z.object({
  at: Timestamp,
  state: RequestState,
  actor: Identity,
  reason: Reason.optional(),
});
export type HistoryEvent = z.infer<typeof HistoryEvent>;

const requestFields = {
  id: RequestId,
  repository: Repository,
  /** The URL the push came from, which the service promotes on (repository is its canonical name). */
  url: Repository.optional(),
  sourceRef: RefName.optional(),
  targetRef: RefName,
  stagingRef: RefName,
  /** null: the push creates the target ref. */
  oldSha: CommitSha.nullable(),
  /** null: the push deletes the target ref. */
  newSha: CommitSha.nullable(),
  force: z.boolean(),
  // git refuses push options with a newline; so does this, as they are stored and shown per line.
  pushOptions: z.array(z.string().max(1024).regex(/^[^\n\r\x00]*$/, 'must not contain a newline or NUL')).max(100),
  commitRange: z.string().max(200).regex(/^[^\s]+$/, 'must not contain spaces').optional(),
  pusher: Identity,
  createdAt: Timestamp,
  expiresAt: Timestamp,
};

function checkRequest(request: { oldSha: string | null; newSha: string | null; createdAt: string; expiresAt: string }, ctx: z.RefinementCtx): void {
  if (request.oldSha === null && request.newSha === null) {
    ctx.addIssue({ code: 'custom', path: ['newSha'], message: 'oldSha and newSha cannot both be null: such a push changes nothing' });
  }
  if (request.expiresAt <= request.createdAt) {
    ctx.addIssue({ code: 'custom', path: ['expiresAt'], message: 'must be later than createdAt' });
  }
}

/** What a push brings: the store adds the state (pending) and the first history event. */
export const NewPushRequest = z.object(requestFields).superRefine(checkRequest);
export type NewPushRequest = z.infer<typeof NewPushRequest>;

export const PushRequest = z
  .object({
    ...requestFields,
    state: RequestState,
    reason: Reason.optional(),
    supersededBy: RequestId.optional(),
    decidedBy: Identity.optional(),
    history: z.array(HistoryEvent),
  })
  .superRefine(checkRequest);
export type PushRequest = z.infer<typeof PushRequest>;

/**
 * `developer` pushes (registers, reads and cancels its own requests); any other
 * role is an approver role (team-lead, security, …) that may decide the pushes
 * the policy's `tools.git_push.approvers` gives it.
 */
export const TokenRole = z.union([z.literal('developer'), ApproverRole]);
export type TokenRole = z.infer<typeof TokenRole>;

/** How long a new token is valid unless its creator says otherwise. */
export const DEFAULT_TOKEN_DAYS = 90;

/**
 * Validates what a caller hands the store. The message names the field, the
 * bad value and the rule: `push request: newSha: must be a commit sha … (got "xyz")`.
 */
export function parseInput<T extends z.ZodType>(schema: T, data: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path ?? [];
  const where = path.length > 0 ? `${path.join('.')}: ` : '';
  const value = valueAt(data, path);
  const got = value === undefined ? '' : ` (got ${JSON.stringify(value)?.slice(0, 80)})`;
  throw new AiboxError('USAGE', `${what}: ${where}${issue?.message ?? 'invalid'}${got}`);
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = Reflect.get(value, key);
  }
  return value;
}
