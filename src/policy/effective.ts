import { AiboxError } from '../core/errors.js';
import { globMatch, pathCovers, patternCovers } from './match.js';
import {
  strictness,
  type EgressRule,
  type GitPushRule,
  type PolicyLayer,
  type RiskClass,
  type SigningKey,
} from './schema.js';

/** A value of the effective policy with the layer file it came from. */
export interface Sourced<T> {
  value: T;
  origin: string;
}

export interface GitPushLayer {
  origin: string;
  default?: RiskClass;
  rules: GitPushRule[];
}

export interface EffectivePolicy {
  layers: { name: string; origin: string }[];
  egress: Sourced<EgressRule[]>;
  expose: Sourced<string[]>;
  /** Every layer's git push rules: the strictest class any layer gives a repo wins. */
  gitPush: GitPushLayer[];
  trustedKeys: Sourced<SigningKey[]>;
  allowedPacks: Sourced<string[]>;
}

function loosens(layer: PolicyLayer, what: string, value: string, upper: string): AiboxError {
  return new AiboxError(
    'INVALID_FILE',
    `${layer.origin}: the ${layer.name} policy tries to loosen ${what}: ${value} is not allowed by ${upper}`,
    `a lower layer may only tighten: remove ${value} from ${layer.origin}, or ask the owner of ${upper} to allow it`,
  );
}

function egressCovered(outer: EgressRule[], inner: EgressRule): boolean {
  return inner.ports.every((port) => outer.some((rule) => patternCovers(rule.host, inner.host) && rule.ports.includes(port)));
}

/** The class one layer gives a repository: its first matching rule, else its default. */
export function layerClass(layer: GitPushLayer, repo: string): { class: RiskClass; rule: string } | undefined {
  const index = layer.rules.findIndex((rule) => globMatch(rule.repo, repo));
  const rule = layer.rules[index];
  if (rule) return { class: rule.class, rule: `tools.git_push.rules[${index}] (repo "${rule.repo}")` };
  if (layer.default) return { class: layer.default, rule: 'tools.git_push.default' };
  return undefined;
}

/**
 * Merges layers top-down (org, team, project). A lower layer may only tighten:
 * anything that would loosen is refused with the file and the value to change.
 */
export function mergeLayers(layers: readonly PolicyLayer[]): EffectivePolicy {
  const [top] = layers;
  if (!top) throw new AiboxError('INTERNAL', 'no policy layer');
  const effective: EffectivePolicy = {
    layers: layers.map(({ name, origin }) => ({ name, origin })),
    egress: { value: [], origin: top.origin },
    expose: { value: [], origin: top.origin },
    gitPush: [],
    trustedKeys: { value: [], origin: top.origin },
    allowedPacks: { value: [], origin: top.origin },
  };
  layers.forEach((layer, index) => {
    const first = index === 0;
    const { data, origin } = layer;
    const egress = data.network?.egress;
    if (egress) {
      if (!first) {
        const extra = egress.find((rule) => !egressCovered(effective.egress.value, rule));
        if (extra) throw loosens(layer, 'network.egress', `${extra.host}:${extra.ports.join(',')}`, effective.egress.origin);
      }
      effective.egress = { value: egress, origin };
    }
    const expose = data.filesystem?.expose;
    if (expose) {
      if (!first) {
        const extra = expose.find((path) => !effective.expose.value.some((outer) => pathCovers(outer, path)));
        if (extra) throw loosens(layer, 'filesystem.expose', extra, effective.expose.origin);
      }
      effective.expose = { value: expose, origin };
    }
    const keys = data.packs?.trusted_keys;
    if (keys) {
      if (!first) {
        const normalize = (pem: string) => pem.replace(/\s+/g, '');
        const extra = keys.find((key) => !effective.trustedKeys.value.some((outer) => normalize(outer.key) === normalize(key.key)));
        if (extra) throw loosens(layer, 'packs.trusted_keys', `key "${extra.name}"`, effective.trustedKeys.origin);
      }
      effective.trustedKeys = { value: keys, origin };
    }
    const allowed = data.packs?.allowed;
    if (allowed) {
      if (!first) {
        const extra = allowed.find((pattern) => !effective.allowedPacks.value.some((outer) => patternCovers(outer, pattern)));
        if (extra) throw loosens(layer, 'packs.allowed', extra, effective.allowedPacks.origin);
      }
      effective.allowedPacks = { value: allowed, origin };
    }
    const gitPush = data.tools?.git_push;
    if (gitPush) {
      const current: GitPushLayer = { origin, default: gitPush.default, rules: gitPush.rules };
      for (const upper of effective.gitPush) checkGitPushTightens(layer, current, upper);
      effective.gitPush.push(current);
    }
  });
  return effective;
}

function checkGitPushTightens(layer: PolicyLayer, lower: GitPushLayer, upper: GitPushLayer): void {
  if (lower.default && upper.default && strictness(lower.default) < strictness(upper.default)) {
    throw loosens(layer, 'tools.git_push.default', lower.default, `${upper.origin} (${upper.default})`);
  }
  for (const rule of lower.rules) {
    const above = layerClass(upper, rule.repo);
    if (above && strictness(rule.class) < strictness(above.class)) {
      throw loosens(layer, `tools.git_push for "${rule.repo}"`, rule.class, `${upper.origin} (${above.class})`);
    }
  }
}
