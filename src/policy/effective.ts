import { AiboxError } from '../core/errors.js';
import { globMatch, pathCovers, patternCovers } from './match.js';
import {
  strictness,
  type CacheTool,
  type EgressRule,
  type GitPushRule,
  type LayerName,
  type PolicyLayer,
  type RiskClass,
  type SandboxRuntime,
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

/** One layer's own network.egress list. */
export interface EgressLayer {
  name: LayerName;
  origin: string;
  rules: EgressRule[];
}

export interface EffectivePolicy {
  layers: { name: string; origin: string }[];
  egress: Sourced<EgressRule[]>;
  /** Every layer that sets network.egress, top first: a host must be allowed in each (what a denial's fix names). */
  egressLayers: EgressLayer[];
  expose: Sourced<string[]>;
  /** Every layer's git push rules: the strictest class any layer gives a repo wins. */
  gitPush: GitPushLayer[];
  trustedKeys: Sourced<SigningKey[]>;
  allowedPacks: Sourced<string[]>;
  approvedScripts: Sourced<string[]>;
  /** Build caches shared between sandbox instances; the others are per instance. */
  sharedCaches: Sourced<CacheTool[]>;
  /** The runtimes a sandbox may use (runc only where a layer lets it). */
  runtimes: Sourced<SandboxRuntime[]>;
  /** What loading skipped and why (e.g. a project policy owned by another user). */
  warnings: string[];
}

function loosens(layer: PolicyLayer, what: string, value: string, upper: string): AiboxError {
  return new AiboxError(
    'INVALID_FILE',
    `${layer.origin}: the ${layer.name} policy tries to loosen ${what}: ${value} is not allowed by ${upper}`,
    `a lower layer may only tighten: remove ${value} from ${layer.origin}, or ask the owner of ${upper} to allow it`,
  );
}

function egressCovers(outer: EgressRule, inner: EgressRule): boolean {
  return patternCovers(outer.host, inner.host, 'host') && inner.ports.every((port) => outer.ports.includes(port)) && (!inner.direct || outer.direct === true);
}

/** The class one layer gives a repository: its first matching rule, else its default. */
export function layerClass(layer: GitPushLayer, repo: string): { class: RiskClass; rule: string } | undefined {
  const index = layer.rules.findIndex((rule) => globMatch(rule.repo, repo, 'repo'));
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
    egressLayers: [],
    expose: { value: [], origin: top.origin },
    gitPush: [],
    trustedKeys: { value: [], origin: top.origin },
    allowedPacks: { value: [], origin: top.origin },
    approvedScripts: { value: [], origin: top.origin },
    sharedCaches: { value: [], origin: top.origin },
    runtimes: { value: ['gvisor', 'runc'], origin: top.origin },
    warnings: [],
  };
  const normalizeKey = (pem: string) => pem.replace(/\s+/g, '');
  layers.forEach((layer, index) => {
    const { data, origin } = layer;
    /** A list a lower layer may narrow: each of its items must be covered by the list above. */
    const narrow = <T>(what: string, list: T[] | undefined, current: Sourced<T[]>, covered: (outer: T, item: T) => boolean, show: (item: T) => string): Sourced<T[]> => {
      if (!list) return current;
      const extra = index === 0 ? undefined : list.find((item) => !current.value.some((outer) => covered(outer, item)));
      if (extra !== undefined) throw loosens(layer, what, show(extra), current.origin);
      return { value: list, origin };
    };
    effective.egress = narrow('network.egress', data.network?.egress, effective.egress, egressCovers, (rule) => `${rule.host}:${rule.ports.join(',')}${rule.direct ? ' (direct)' : ''}`);
    if (data.network?.egress) effective.egressLayers.push({ name: layer.name, origin, rules: data.network.egress });
    effective.expose = narrow('filesystem.expose', data.filesystem?.expose, effective.expose, pathCovers, (path) => path);
    effective.trustedKeys = narrow('packs.trusted_keys', data.packs?.trusted_keys, effective.trustedKeys, (outer, key) => normalizeKey(outer.key) === normalizeKey(key.key), (key) => `key "${key.name}"`);
    effective.approvedScripts = narrow('packs.approved_scripts', data.packs?.approved_scripts, effective.approvedScripts, (outer, digest) => outer === digest, (digest) => digest);
    effective.allowedPacks = narrow('packs.allowed', data.packs?.allowed, effective.allowedPacks, (outer, pattern) => patternCovers(outer, pattern, 'pack'), (pattern) => pattern);
    effective.sharedCaches = narrow('caches.shared', data.caches?.shared, effective.sharedCaches, (outer, tool) => outer === tool, (tool) => tool);
    effective.runtimes = narrow('sandbox.runtimes', data.sandbox?.runtimes, effective.runtimes, (outer, runtime) => outer === runtime, (runtime) => runtime);
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
