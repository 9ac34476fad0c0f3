import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { cachedNpmRegistry, DEBIAN_SUITE, packageSources, type PackageSources } from '../config/package-sources.js';
import type { Config } from '../config/settings.js';
import { AiboxError } from '../core/errors.js';
import type { Context } from '../core/context.js';
import { readYamlFile } from '../core/yaml-file.js';
import { BUILT_IN_ORIGIN, defaultOrgPolicy } from './defaults.js';
import { mergeLayers, type EffectivePolicy } from './effective.js';
import { policyLayerSchema, type LayerName, type PolicyLayer } from './schema.js';

export const ORG_POLICY_PATH = '/etc/aibox/policy.yaml';

export interface PolicySources {
  org: string;
  /** Empty when there is no team layer. */
  team: string;
  /** Folder to search upward from for .aibox/policy.yaml. */
  projectDir: string;
  /** The search stops here at the latest (and at the repository root, if that comes first). */
  home: string;
  /** The machine's package sources, for the built-in org policy; called only when there is no org file. */
  machine: () => Promise<PackageSources>;
}

export function policySources(config: Config, ctx: Pick<Context, 'cwd' | 'run' | 'paths' | 'env'>): PolicySources {
  return {
    org: ORG_POLICY_PATH,
    team: config['policy.team'],
    projectDir: ctx.cwd,
    home: ctx.paths.home,
    machine: async () => {
      const found = await packageSources(ctx.run, DEBIAN_SUITE, () => cachedNpmRegistry(ctx.run, ctx.paths.cacheDir, ctx.cwd, ctx.env));
      return { ...found, debianMirror: config['image.mirror'] || found.debianMirror };
    },
  };
}

/**
 * The nearest .aibox/policy.yaml at or above dir, up to the repository root (the
 * nearest folder with .git) or home, whichever comes first: a folder above them
 * (say /tmp) may belong to someone else.
 */
function findProjectPolicy(dir: string, home: string): string | undefined {
  for (let current = resolve(dir); ; current = dirname(current)) {
    const candidate = join(current, '.aibox', 'policy.yaml');
    if (existsSync(candidate)) return candidate;
    if (existsSync(join(current, '.git')) || current === resolve(home) || dirname(current) === current) return undefined;
  }
}

async function readLayer(name: LayerName, path: string): Promise<PolicyLayer | undefined> {
  const data = await readYamlFile(policyLayerSchema, path);
  return data && { name, origin: path, data };
}

/** Why aibox ignores a project policy: one another user could have written. */
async function foreignOwner(path: string): Promise<string | undefined> {
  const me = process.getuid?.();
  const { uid } = await stat(path);
  if (me === undefined || uid === me || uid === 0) return undefined;
  return `ignoring the project policy ${path}: it belongs to uid ${uid}, not to you (uid ${me}) or root; if it is yours: chown ${me} ${path}`;
}

export async function loadPolicy(sources: PolicySources): Promise<EffectivePolicy> {
  const org = (await readLayer('org', sources.org)) ?? { name: 'org', origin: BUILT_IN_ORIGIN, data: defaultOrgPolicy(await sources.machine()) };
  const layers: PolicyLayer[] = [org];
  if (sources.team) {
    const team = await readLayer('team', sources.team);
    if (!team) {
      throw new AiboxError('INVALID_FILE', `team policy ${sources.team} (setting policy.team) does not exist`, 'fix the path: aibox config set policy.team PATH (or "" for none)');
    }
    layers.push(team);
  }
  const warnings: string[] = [];
  const projectPath = findProjectPolicy(sources.projectDir, sources.home);
  const foreign = projectPath && (await foreignOwner(projectPath));
  if (foreign) warnings.push(foreign);
  else if (projectPath) {
    const project = await readLayer('project', projectPath);
    if (project) layers.push(project);
  }
  return { ...mergeLayers(layers), warnings };
}

/** The effective policy for one command run (its folder, home and runner). */
export function loadPolicyFor(ctx: Context, config: Config): Promise<EffectivePolicy> {
  return loadPolicy(policySources(config, ctx));
}
