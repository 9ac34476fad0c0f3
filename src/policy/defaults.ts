import type { PolicyLayerData } from './schema.js';

/** Origin of the embedded org layer; /etc/aibox/policy.yaml replaces it. */
export const BUILT_IN_ORIGIN = 'built-in default';

/**
 * The org layer used when /etc/aibox/policy.yaml does not exist: the package
 * registries the initial tool packs need, the sandbox's own folders, and review
 * before any git push.
 */
export const DEFAULT_ORG_POLICY: PolicyLayerData = {
  version: 1,
  network: {
    egress: [
      { host: 'registry.npmjs.org', ports: [443] },
      { host: 'deb.debian.org', ports: [80, 443] },
      { host: 'pypi.org', ports: [443] },
      { host: 'files.pythonhosted.org', ports: [443] },
      { host: 'repo.maven.apache.org', ports: [443] },
    ],
  },
  filesystem: { expose: ['/workspace', '/home/dev'] },
  tools: { git_push: { default: 'review-required', rules: [] } },
  packs: { trusted_keys: [], allowed: ['*'] },
};
