import { loadConfig } from '../config/store.js';
import type { Context } from '../core/context.js';
import { proxyName, reloadEgress, requireOwnProxy } from '../egress/index.js';
import { loadPolicyFor } from '../policy/load.js';
import type { Instance } from './instance.js';
import { withInstanceLock } from './instances.js';
import { notFound } from './lifecycle.js';
import { requireOwn } from './ownership.js';
import { Podman } from './podman.js';

/** `aibox policy apply`: the effective policy's egress allowlist into the sandbox's proxy, under the instance lock, without a restart. */
export function applyPolicy(ctx: Context, instance: Instance): Promise<{ outcome: 'reloaded' | 'unchanged' | 'not-running'; rules: number; origin: string }> {
  return withInstanceLock(ctx, instance, async () => {
    const found = await new Podman(ctx.run).inspectContainers([instance.name, proxyName(instance.name)]);
    const sandbox = requireOwn(instance, found.get(instance.name));
    if (!sandbox) throw notFound(instance);
    const proxy = requireOwnProxy(instance.name, found.get(proxyName(instance.name)));
    const policy = await loadPolicyFor(ctx, await loadConfig(ctx.paths));
    policy.warnings.forEach((warning) => ctx.out.warn(warning));
    const outcome = await reloadEgress(ctx, instance.name, sandbox, proxy, policy);
    return { outcome, rules: policy.egress.value.length, origin: policy.egress.origin };
  });
}
