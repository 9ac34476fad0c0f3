import { userInfo } from 'node:os';
import { z } from 'zod';
import { askHost } from '../broker/client.js';
import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { loadPolicyFor } from '../policy/load.js';
import { decide } from '../policy/query.js';
import { RISK_CLASSES } from '../policy/schema.js';
import { cancelOnHost, cancelThroughHost, registerOnHost, registerThroughHost, requestsOnHost, requestsThroughHost } from './register.js';
import type { PushClass, PushHost } from './remote-helper.js';
import { StagingMode } from './staging.js';

const pushClassSchema = z.object({ riskClass: z.enum(RISK_CLASSES), explanation: z.string(), identity: z.string().min(1), staging: StagingMode });

/** What the policy makes of a push to URL, with who pushes and where staging goes: decided on the host. */
export async function classifyOnHost(ctx: Context, url: string): Promise<PushClass> {
  const config = await loadConfig(ctx.paths);
  const policy = await loadPolicyFor(ctx, config);
  const decision = decide(policy, { kind: 'git-push', repo: url });
  return {
    riskClass: decision.riskClass ?? 'blocked',
    explanation: decision.explanation,
    identity: config['push.identity'] || userInfo().username,
    staging: config['push.staging'],
  };
}

/** The same, from inside the sandbox: the host side answers (src/broker/), the policy never leaves the host. */
export async function classifyThroughHost(ctx: Context, url: string): Promise<PushClass> {
  return pushClassSchema.parse(await askHost(ctx, { v: 1, op: 'push-check', url }));
}

/** The host's answers for the helper: asked directly on the host, through the broker inside the sandbox. */
export function pushHost(ctx: Context): PushHost {
  const inside = ctx.env.AIBOX_SANDBOX === '1';
  return {
    classify: (url) => (inside ? classifyThroughHost(ctx, url) : classifyOnHost(ctx, url)),
    register: (url, pushes) => (inside ? registerThroughHost(ctx, url, pushes) : registerOnHost(ctx, url, pushes)),
    requests: () => (inside ? requestsThroughHost(ctx) : requestsOnHost(ctx)),
    cancel: (id) => (inside ? cancelThroughHost(ctx, id) : cancelOnHost(ctx, id)),
  };
}
