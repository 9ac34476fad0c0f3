import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Config } from '../config/settings.js';
import { AiboxError } from '../core/errors.js';
import { readYamlDocument, validateFile } from '../core/yaml-file.js';
import { BUILT_IN_ORIGIN, DEFAULT_ORG_POLICY } from './defaults.js';
import { mergeLayers, type EffectivePolicy } from './effective.js';
import { policyLayerSchema, type LayerName, type PolicyLayer } from './schema.js';

export const ORG_POLICY_PATH = '/etc/aibox/policy.yaml';

export interface PolicySources {
  org: string;
  /** Empty when there is no team layer. */
  team: string;
  /** Folder to search upward from for .aibox/policy.yaml. */
  projectDir: string;
}

export function policySources(config: Config, cwd: string): PolicySources {
  return { org: ORG_POLICY_PATH, team: config['policy.team'], projectDir: cwd };
}

/** The nearest .aibox/policy.yaml at or above dir. */
function findProjectPolicy(dir: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    const candidate = join(current, '.aibox', 'policy.yaml');
    if (existsSync(candidate)) return candidate;
    if (dirname(current) === current) return undefined;
  }
}

async function readLayer(name: LayerName, path: string): Promise<PolicyLayer | undefined> {
  const document = await readYamlDocument(path);
  if (!document) return undefined;
  return { name, origin: path, data: validateFile(policyLayerSchema, document.toJS() ?? {}, path) };
}

export async function loadPolicy(sources: PolicySources): Promise<EffectivePolicy> {
  const org = (await readLayer('org', sources.org)) ?? { name: 'org', origin: BUILT_IN_ORIGIN, data: DEFAULT_ORG_POLICY };
  const layers: PolicyLayer[] = [org];
  if (sources.team) {
    const team = await readLayer('team', sources.team);
    if (!team) {
      throw new AiboxError('INVALID_FILE', `team policy ${sources.team} (setting policy.team) does not exist`, 'fix the path: aibox config set policy.team PATH (or "" for none)');
    }
    layers.push(team);
  }
  const projectPath = findProjectPolicy(sources.projectDir);
  if (projectPath) {
    const project = await readLayer('project', projectPath);
    if (project) layers.push(project);
  }
  return mergeLayers(layers);
}
