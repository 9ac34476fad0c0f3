import { z } from 'zod';

export const RISK_CLASSES = ['safe', 'review-required', 'blocked'] as const;
export type RiskClass = (typeof RISK_CLASSES)[number];

/** Risk classes ordered by strictness: a lower layer may only move up this list. */
export function strictness(riskClass: RiskClass): number {
  return RISK_CLASSES.indexOf(riskClass);
}

const hostPattern = z
  .string()
  .regex(/^(\*\.)?[a-z0-9*]([a-z0-9*.-]*[a-z0-9*])?$/i, 'must be a host name or pattern such as *.example.com');

const egressRuleSchema = z
  .object({
    host: hostPattern,
    ports: z.array(z.number().int().min(1).max(65535)).min(1).default([443]),
  })
  .strict();

const gitPushRuleSchema = z
  .object({
    repo: z.string().min(1).describe('repository pattern, e.g. github.com/acme/*'),
    class: z.enum(RISK_CLASSES),
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
      .object({ expose: z.array(z.string().regex(/^\//, 'must be an absolute path in the sandbox')).optional() })
      .strict()
      .optional(),
    tools: z
      .object({
        git_push: z
          .object({ default: z.enum(RISK_CLASSES).optional(), rules: z.array(gitPushRuleSchema).default([]) })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
    packs: z
      .object({
        trusted_keys: z.array(signingKeySchema).optional(),
        allowed: z.array(z.string().min(1)).optional(),
      })
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
