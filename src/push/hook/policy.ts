import { z } from 'zod';
import { AiboxError } from '../../core/errors.js';
import { IDENTITY_PATTERN, StagingMode } from '../staging.js';

/**
 * What the server-side hook enforces: whose pushes it trusts (the approval
 * service's git identity), where the git server names the pusher, which staging
 * namespace developers write, and which refs only the service may move.
 */
export const DEFAULT_SERVICE_IDENTITY = 'aibox-approvals';
export const DEFAULT_IDENTITY_ENV = 'AIBOX_PUSHER';
export const DEFAULT_PROTECT = ['refs/heads/*', 'refs/tags/*'];

const identity = z.string().regex(IDENTITY_PATTERN, 'expected a name such as aibox-approvals or alice@example.com (letters, digits, . _ @ + -, at most 64)');

/** A variable name the hook reads with ${NAME-}: nothing but an identifier ever reaches the script unquoted. */
export const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'expected an environment variable name such as AIBOX_PUSHER, REMOTE_USER or GL_USER');

/**
 * A protected ref pattern: a full ref name where `*` matches any characters, `/` included
 * (refs/heads/* covers refs/heads/team/x). Only ref-name characters, so nothing else has a meaning.
 */
const refPattern = z
  .string()
  .regex(/^refs\/[A-Za-z0-9._*-]+(\/[A-Za-z0-9._*-]+)*$/, 'expected a ref pattern such as refs/heads/* or refs/heads/main (letters, digits, . _ - / and *)')
  .refine((pattern) => !/\.\.|^\.|\/\.|\.lock(\/|$)|\.$/.test(pattern), 'not a valid ref name: no "..", no component starting with "." or ending with ".lock"');

export const HookPolicy = z.object({
  serviceIdentity: identity,
  identityEnv: EnvName,
  namespace: StagingMode,
  protect: z.array(refPattern).min(1, 'give at least one pattern'),
});
export type HookPolicy = z.infer<typeof HookPolicy>;

const FLAGS: Record<keyof HookPolicy, string> = {
  serviceIdentity: '--service-identity',
  identityEnv: '--identity-env',
  namespace: '--namespace',
  protect: '--protect',
};

export interface HookPolicyInput {
  serviceIdentity?: string;
  identityEnv?: string;
  namespace?: string;
  protect?: string[];
}

/** The policy from command-line values (defaults for those not given); a bad one fails naming its flag and value. */
export function parseHookPolicy(input: HookPolicyInput): HookPolicy {
  const values = {
    serviceIdentity: input.serviceIdentity ?? DEFAULT_SERVICE_IDENTITY,
    identityEnv: input.identityEnv ?? DEFAULT_IDENTITY_ENV,
    namespace: input.namespace ?? 'refs',
    protect: input.protect && input.protect.length > 0 ? input.protect : DEFAULT_PROTECT,
  };
  const parsed = HookPolicy.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const key = Object.keys(FLAGS).find((name): name is keyof HookPolicy => name === issue?.path[0]) ?? 'protect';
  const value = key === 'protect' ? values.protect[Number(issue?.path[1] ?? 0)] : values[key];
  const message = key === 'namespace' ? 'expected refs or branches' : issue?.message;
  throw new AiboxError('USAGE', `${FLAGS[key]}: ${message} (got ${JSON.stringify(value)})`, 'see aibox approvals install-hook --help');
}
