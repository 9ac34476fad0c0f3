import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfig } from '../../config/store.js';
import type { Context } from '../../core/context.js';
import { AiboxError } from '../../core/errors.js';
import type { EffectivePolicy } from '../../policy/effective.js';
import { loadPolicyFor } from '../../policy/load.js';
import { decide, parseQuestion } from '../../policy/query.js';
import { loadGitRewrites } from '../../policy/repo-url.js';
import { applyPolicy } from '../../sandbox/apply-policy.js';
import { contextFor } from '../app.js';

async function effectivePolicy(ctx: Context): Promise<EffectivePolicy> {
  const effective = await loadPolicyFor(ctx, await loadConfig(ctx.paths));
  effective.warnings.forEach((warning) => ctx.out.warn(warning));
  return effective;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('Show the effective layered policy (org > team > project) and ask it questions');
  policy
    .command('show')
    .description('Print the effective policy with the file each value comes from')
    .action(async (_options: object, command: Command) => {
      const { ctx } = contextFor(command);
      const effective = await effectivePolicy(ctx);
      const human = [
        `# layers, top first: ${effective.layers.map((layer) => `${layer.name} (${layer.origin})`).join(' > ')}`,
        `# network.egress from ${effective.egress.origin}`,
        stringify({ network: { egress: effective.egress.value } }).trim(),
        `# filesystem.expose from ${effective.expose.origin}`,
        stringify({ filesystem: { expose: effective.expose.value } }).trim(),
        '# tools.git_push: the strictest class any layer gives a repository wins',
        ...effective.gitPush.map((layer) => `#   from ${layer.origin}\n${stringify({ default: layer.default ?? '(inherited)', rules: layer.rules }).trim().replace(/^/gm, '  ')}`),
        `# packs.trusted_keys from ${effective.trustedKeys.origin}`,
        stringify({ trusted_keys: effective.trustedKeys.value.map((key) => key.name) }).trim(),
        `# packs.allowed from ${effective.allowedPacks.origin}`,
        stringify({ allowed: effective.allowedPacks.value }).trim(),
        `# packs.approved_scripts from ${effective.approvedScripts.origin}`,
        stringify({ approved_scripts: effective.approvedScripts.value }).trim(),
        `# caches.shared from ${effective.sharedCaches.origin} (build caches shared between instances; the others are per instance)`,
        stringify({ caches: { shared: effective.sharedCaches.value } }).trim(),
        `# sandbox.runtimes from ${effective.runtimes.origin}`,
        stringify({ sandbox: { runtimes: effective.runtimes.value } }).trim(),
      ];
      ctx.out.result({ policy: effective }, human.join('\n'));
    });
  policy
    .command('apply')
    .description("Push the effective policy's egress allowlist to the sandbox's proxy (no restart)")
    .action(async (_options: object, command: Command) => {
      const { ctx, instance } = contextFor(command);
      const result = await applyPolicy(ctx, instance);
      const human = {
        reloaded: `${instance.name}'s proxy now enforces ${result.rules} network.egress rule(s) from ${result.origin}`,
        unchanged: `${instance.name}'s proxy already enforces ${result.rules} network.egress rule(s) from ${result.origin}`,
        'not-running': `${instance.name}'s proxy is not running; its next start enforces ${result.rules} network.egress rule(s) from ${result.origin}`,
      }[result.outcome];
      ctx.out.result({ instance: instance.name, ...result }, human);
    });
  policy
    .command('check')
    .description('Ask the policy: egress HOST[:PORT] | expose PATH | git-push REPO | pack NAME@VERSION')
    .argument('<kind>', 'egress, expose, git-push or pack')
    .argument('<subject>', 'what to check')
    .action(async (kind: string, subject: string, _options: object, command: Command) => {
      const { ctx } = contextFor(command);
      const effective = await effectivePolicy(ctx);
      const rewrites = kind === 'git-push' ? await loadGitRewrites(ctx.run, ctx.cwd) : [];
      const decision = decide(effective, parseQuestion(kind, subject, rewrites));
      ctx.out.result({ decision }, `${decision.allowed ? 'allow' : 'deny'}${decision.riskClass ? ` (${decision.riskClass})` : ''}: ${decision.explanation}`);
      if (!decision.allowed) throw new AiboxError('POLICY_DENIED', decision.explanation);
    });
}
