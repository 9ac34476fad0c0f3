import { AiboxError } from '../core/errors.js';
import { BUILT_IN_ORIGIN } from './defaults.js';
import { layerClass, type EffectivePolicy } from './effective.js';
import { ORG_POLICY_PATH } from './load.js';
import { globMatch, pathCovers, pathProblem } from './match.js';
import { canonicalRepo, type UrlRewrite } from './repo-url.js';
import { strictness, type EgressRule, type PolicyLayerData, type RiskClass } from './schema.js';

export type Question =
  | { kind: 'egress'; host: string; port: number }
  | { kind: 'expose'; path: string }
  /** repo: any remote URL form; rewrites: git's url.<base>.(push)insteadOf, applied as git applies them. */
  | { kind: 'git-push'; repo: string; rewrites?: readonly UrlRewrite[] }
  | { kind: 'pack'; pack: string };

export interface Decision {
  allowed: boolean;
  /** For git push: safe, review-required or blocked. */
  riskClass?: RiskClass;
  /** The rule that decided, e.g. network.egress[2]; "none" when nothing matched. */
  rule: string;
  /** The policy file that rule lives in (the file to change). */
  origin: string;
  explanation: string;
  /** For a denied egress: what to change, in which file (the end of the explanation). */
  fix?: string;
}

/** The one policy question API: allow or deny, with the rule and the file to change. */
export function decide(policy: EffectivePolicy, question: Question): Decision {
  switch (question.kind) {
    case 'egress': {
      const { port } = question;
      const host = question.host.toLowerCase();
      const index = policy.egress.value.findIndex((rule) => allowsEgress(rule, host, port));
      const origin = policy.egress.origin;
      if (index >= 0) {
        return { allowed: true, rule: `network.egress[${index}]`, origin, explanation: `egress to ${host}:${port} is allowed by network.egress[${index}] in ${origin}` };
      }
      const fix = egressFix(policy, host, port);
      return { allowed: false, rule: 'none', origin, fix, explanation: `egress to ${host}:${port} is denied: no network.egress entry in ${origin} allows it; to allow it ${fix}` };
    }
    case 'expose': {
      const { path } = question;
      const origin = policy.expose.origin;
      const problem = pathProblem(path);
      if (problem) return { allowed: false, rule: 'none', origin, explanation: `${path} may not be exposed: a path to expose ${problem}` };
      const index = policy.expose.value.findIndex((outer) => pathCovers(outer, path));
      if (index >= 0) {
        return { allowed: true, rule: `filesystem.expose[${index}]`, origin, explanation: `${path} may be exposed by filesystem.expose[${index}] in ${origin}` };
      }
      return { allowed: false, rule: 'none', origin, explanation: `${path} may not be exposed: it is outside filesystem.expose in ${origin}; add it there${upperHint(policy, origin)}` };
    }
    case 'git-push': {
      const canonical = canonicalRepo(question.repo, question.rewrites);
      if ('repo' in canonical) return decideGitPush(policy, canonical.repo);
      return {
        allowed: false,
        riskClass: 'blocked',
        rule: 'none',
        origin: policy.layers[0]?.origin ?? '',
        explanation: `git push to ${question.repo} is blocked: aibox cannot tell which repository it is (${canonical.problem}); use the remote's URL, e.g. https://git.example.com/acme/app`,
      };
    }
    case 'pack': {
      const { pack } = question;
      const index = policy.allowedPacks.value.findIndex((pattern) => globMatch(pattern, pack, 'pack'));
      const origin = policy.allowedPacks.origin;
      if (index >= 0) {
        return { allowed: true, rule: `packs.allowed[${index}]`, origin, explanation: `pack ${pack} is allowed by packs.allowed[${index}] in ${origin}` };
      }
      return { allowed: false, rule: 'none', origin, explanation: `pack ${pack} is not allowed: no packs.allowed pattern in ${origin} matches it; add one there${upperHint(policy, origin)}` };
    }
  }
}

function decideGitPush(policy: EffectivePolicy, repo: string): Decision {
  let decided: { class: RiskClass; rule: string; origin: string } = {
    class: 'safe',
    rule: 'none',
    origin: policy.layers[0]?.origin ?? '',
  };
  for (const layer of policy.gitPush) {
    const found = layerClass(layer, repo);
    if (found && (decided.rule === 'none' || strictness(found.class) > strictness(decided.class))) {
      decided = { ...found, origin: layer.origin };
    }
  }
  const by = decided.rule === 'none' ? 'no tools.git_push rule matches, so it is safe' : `by ${decided.rule} in ${decided.origin}`;
  return {
    allowed: decided.class !== 'blocked',
    riskClass: decided.class,
    rule: decided.rule,
    origin: decided.origin,
    explanation: `git push to ${repo} is ${decided.class} ${by}`,
  };
}

function allowsEgress(rule: EgressRule, host: string, port: number): boolean {
  return globMatch(rule.host, host, 'host') && rule.ports.includes(port);
}

/**
 * Where to allow a denied host:port: the file the effective list comes from, and
 * first every layer above it that does not allow it either (a lower layer may only tighten).
 */
function egressFix(policy: EffectivePolicy, host: string, port: number): string {
  const add = `add {host: ${host}, ports: [${port}]} to network.egress in ${policyFile(policy.egress.origin)}`;
  const lowest = policy.egressLayers.at(-1);
  const blocking = policy.egressLayers.slice(0, -1).filter((layer) => !layer.rules.some((rule) => allowsEgress(rule, host, port)));
  if (!lowest || blocking.length === 0) return add;
  return `${add} — the ${lowest.name} layer may only tighten; ask for it in ${blocking.map((layer) => `the ${layer.name} policy ${policyFile(layer.origin)}`).join(' and ')}`;
}

/** The file to edit for a layer: the built-in default is replaced by writing the org file. */
function policyFile(origin: string): string {
  return origin === BUILT_IN_ORIGIN ? `${ORG_POLICY_PATH} (it replaces the built-in default, which aibox policy show prints)` : origin;
}

/** When a lower layer narrowed a list, the upper layers must allow the thing too. */
function upperHint(policy: EffectivePolicy, origin: string): string {
  const index = policy.layers.findIndex((layer) => layer.origin === origin);
  const above = policy.layers.slice(0, Math.max(index, 0)).map((layer) => layer.origin);
  return above.length > 0 ? ` (and it must be allowed in ${above.join(', ')})` : '';
}

/** Parses the CLI form of a question: `egress HOST[:PORT]`, `expose PATH`, `git-push REPO`, `pack NAME@VERSION`. */
export function parseQuestion(kind: string, subject: string, rewrites: readonly UrlRewrite[] = []): Question {
  switch (kind) {
    case 'egress': {
      const match = /^([^:]+)(?::(\d+))?$/.exec(subject);
      if (!match?.[1]) throw new AiboxError('USAGE', `invalid egress target "${subject}"`, 'use HOST or HOST:PORT, e.g. registry.example.com:443');
      return { kind, host: match[1], port: Number(match[2] ?? 443) };
    }
    case 'expose':
      return { kind, path: subject };
    case 'git-push':
      return { kind, repo: subject, rewrites };
    case 'pack':
      return { kind, pack: subject };
    default:
      throw new AiboxError('USAGE', `unknown policy question "${kind}"`, 'use one of: egress, expose, git-push, pack');
  }
}

/** Who may approve a review-required push to a repository, and whether a moved target may be merged. */
export interface PushReview {
  approvers: string[];
  merge: boolean;
  /** The rule that decided, e.g. tools.git_push.rules[1] (repo "…"), or the section's defaults. */
  rule: string;
}

export const DEFAULT_APPROVERS = ['team-lead'];

/**
 * The approval service's question, answered from one layer (the org policy it
 * runs under): the first rule matching the repository that says, else the
 * section's `approvers` / `merge`, else team-lead and no merge.
 */
export function pushReview(layer: PolicyLayerData, repo: string): PushReview {
  const section = layer.tools?.git_push;
  const index = section?.rules.findIndex((rule) => globMatch(rule.repo, repo, 'repo')) ?? -1;
  const rule = section?.rules[index];
  return {
    approvers: rule?.approvers ?? section?.approvers ?? DEFAULT_APPROVERS,
    merge: rule?.merge ?? section?.merge ?? false,
    rule: rule ? `tools.git_push.rules[${index}] (repo "${rule.repo}")` : 'tools.git_push',
  };
}
