import type { PackageSources } from '../config/package-sources.js';
import type { EgressRule, PolicyLayerData } from './schema.js';

/** Origin of the embedded org layer; /etc/aibox/policy.yaml replaces it. */
export const BUILT_IN_ORIGIN = 'built-in default';

/** Egress to the host of an http(s) URL, on its port. An IP v6 host (a glob class in a pattern) is left out. */
function egressTo(url: string | undefined): EgressRule[] {
  if (!url || !URL.canParse(url)) return [];
  const { protocol, hostname, port } = new URL(url);
  if ((protocol !== 'http:' && protocol !== 'https:') || !/^[a-z0-9.-]+$/.test(hostname)) return [];
  return [{ host: hostname, ports: [Number(port || (protocol === 'http:' ? 80 : 443))] }];
}

/**
 * The org layer used when /etc/aibox/policy.yaml does not exist: egress only to
 * the package sources this machine already uses (the Debian mirror, whose
 * `-security` suite lives on the same host, and the npm registry), the sandbox's
 * own folders, review before any git push, and no build cache shared between
 * instances.
 */
export function defaultOrgPolicy(sources: PackageSources): PolicyLayerData {
  return {
    version: 1,
    network: { egress: [...egressTo(sources.debianMirror), ...egressTo(sources.npmRegistry)] },
    filesystem: { expose: ['/workspace', '/home/dev'] },
    tools: { git_push: { default: 'review-required', rules: [] } },
    packs: { trusted_keys: [], allowed: ['*'] },
    caches: { shared: [] },
  };
}
