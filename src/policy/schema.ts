import { z } from 'zod';
import { globProblem, pathProblem } from './match.js';
import { canonicalRepo } from './repo-url.js';

export const RISK_CLASSES = ['safe', 'review-required', 'blocked'] as const;
export type RiskClass = (typeof RISK_CLASSES)[number];

/** Risk classes ordered by strictness: a lower layer may only move up this list. */
export function strictness(riskClass: RiskClass): number {
  return RISK_CLASSES.indexOf(riskClass);
}

/** Build caches a sandbox keeps; each is per instance unless the policy shares it between instances. */
export const CACHE_TOOLS = ['npm', 'maven', 'gradle', 'pip'] as const;
export type CacheTool = (typeof CACHE_TOOLS)[number];

/** The container runtimes a sandbox may use: gVisor, or runc (the host's kernel, weaker isolation). */
export const SANDBOX_RUNTIMES = ['gvisor', 'runc'] as const;
export type SandboxRuntime = (typeof SANDBOX_RUNTIMES)[number];

const hostPattern = z
  .string()
  .regex(/^(\*\.)?[a-z0-9*]([a-z0-9*.-]*[a-z0-9*])?$/i, 'must be a host name or pattern such as *.example.com')
  .transform((host) => host.toLowerCase());

const globPattern = z.string().min(1).superRefine((pattern, ctx) => {
  const problem = globProblem(pattern);
  if (problem) ctx.addIssue({ code: 'custom', message: `is not a valid pattern: ${problem}` });
});

/** A repository pattern, canonical like the remotes it is matched against (lowercase, no ".git", no trailing "/"). */
const repoPattern = z
  .string()
  .transform((pattern, ctx) => {
    const canonical = canonicalRepo(pattern);
    if ('repo' in canonical) return canonical.repo;
    ctx.addIssue({ code: 'custom', message: `must be a repository pattern such as git.example.com/acme/*: ${canonical.problem}` });
    return z.NEVER;
  })
  .pipe(globPattern);

const sandboxPath = z.string().superRefine((path, ctx) => {
  const problem = pathProblem(path);
  if (problem) ctx.addIssue({ code: 'custom', message: `${problem}, e.g. /workspace/app` });
});

/** A dotted IPv4 address (each part 0-255). */
export function isIpv4(host: string): boolean {
  const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)?.slice(1).map(Number);
  return Boolean(parts && parts.every((part) => part <= 255));
}

const egressRuleSchema = z
  .object({
    host: hostPattern,
    ports: z.array(z.number().int().min(1).max(65535)).min(1).default([443]),
    /**
     * Reached without the proxy, for protocols an HTTP proxy does not carry (git://,
     * ssh, a database): only an IPv4 address, on these ports. Default: through the proxy.
     */
    direct: z.boolean().optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.direct && !isIpv4(rule.host)) {
      ctx.addIssue({ code: 'custom', path: ['direct'], message: `direct needs an IPv4 address as host, not "${rule.host}" (a name is reached through the proxy), e.g. 10.0.0.5` });
    }
  });

/**
 * A role that may approve review-required pushes, as the approval service's
 * tokens carry it (`aibox approvals token create NAME --role team-lead`).
 * `developer` is the pusher's role and can never approve.
 */
export const ApproverRole = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be a role name such as team-lead: lowercase letters, digits and "-"')
  .refine((role) => role !== 'developer', 'developer is the pushing role; an approver role is another name, such as team-lead');

/** Who approves, and whether a target that moved may be merged: per rule, else the section's. */
const reviewFields = {
  approvers: z.array(ApproverRole).min(1).optional().describe('roles whose tokens may approve (default: team-lead)'),
  merge: z.boolean().optional().describe('on approval, merge when the target moved meanwhile (default: false, the request needs a rebase)'),
};

const gitPushRuleSchema = z
  .object({
    repo: repoPattern.describe('repository pattern, e.g. git.example.com/acme/*'),
    class: z.enum(RISK_CLASSES),
    ...reviewFields,
  })
  .strict();

const signingKeySchema = z
  .object({
    name: z.string().min(1),
    key: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key' }),
  })
  .strict();

/** One policy layer (org, team or project). Every section is optional: absent means inherited. */
export const policyLayerSchema = z
  .object({
    version: z.literal(1).default(1),
    network: z.object({ egress: z.array(egressRuleSchema).optional() }).strict().optional(),
    filesystem: z
      .object({ expose: z.array(sandboxPath).optional() })
      .strict()
      .optional(),
    tools: z
      .object({
        git_push: z
          .object({ default: z.enum(RISK_CLASSES).optional(), rules: z.array(gitPushRuleSchema).default([]), ...reviewFields })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    packs: z
      .object({
        trusted_keys: z.array(signingKeySchema).optional(),
        allowed: z.array(globPattern).optional(),
        approved_scripts: z
          .array(z.string().regex(/^sha256:[a-f0-9]{64}$/, 'must be sha256:<64 hex digits> of an approved install script'))
          .optional()
          .describe('install scripts (method script) that may run in a sandbox, by sha256'),
      })
      .strict()
      .optional(),
    caches: z
      .object({ shared: z.array(z.enum(CACHE_TOOLS)).optional().describe('build caches shared between sandbox instances') })
      .strict()
      .optional(),
    sandbox: z
      .object({ runtimes: z.array(z.enum(SANDBOX_RUNTIMES)).min(1).optional().describe('runtimes a sandbox may use; runc shares the host kernel') })
      .strict()
      .optional(),
  })
  .strict();

export type PolicyLayerData = z.infer<typeof policyLayerSchema>;
export type EgressRule = z.infer<typeof egressRuleSchema>;
export type GitPushRule = z.infer<typeof gitPushRuleSchema>;
export type SigningKey = z.infer<typeof signingKeySchema>;

export type LayerName = 'org' | 'team' | 'project';

export interface PolicyLayer {
  name: LayerName;
  /** The file it came from, or "built-in default" for aibox's embedded org policy. */
  origin: string;
  data: PolicyLayerData;
}
