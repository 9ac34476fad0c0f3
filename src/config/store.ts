import { join } from 'node:path';
import { Document } from 'yaml';
import { AiboxError } from '../core/errors.js';
import { writeFileAtomic } from '../core/files.js';
import type { Paths } from '../core/paths.js';
import { readYamlDocument, readYamlFile } from '../core/yaml-file.js';
import { configSchema, isSettingKey, SETTING_KEYS, type Config, type SettingKey } from './settings.js';

export function configPath(paths: Paths): string {
  return join(paths.configDir, 'config.yaml');
}

export async function loadConfig(paths: Paths): Promise<Config> {
  return (await readYamlFile(configSchema, configPath(paths))) ?? configSchema.parse({});
}

export function requireSettingKey(key: string): SettingKey {
  if (isSettingKey(key)) return key;
  throw new AiboxError('USAGE', `unknown setting "${key}"`, `known settings: ${SETTING_KEYS.join(', ')}`);
}

/** Validates one value and writes it, keeping the file's comments and other keys. */
export async function setConfigValue(paths: Paths, key: string, raw: string): Promise<Config[SettingKey]> {
  const settingKey = requireSettingKey(key);
  const parsed = configSchema.shape[settingKey].safeParse(raw);
  if (!parsed.success) {
    throw new AiboxError(
      'USAGE',
      `invalid value "${raw}" for ${settingKey}: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      `see: aibox config list`,
    );
  }
  const path = configPath(paths);
  await loadConfig(paths); // refuse to touch a file that is already broken
  const document = (await readYamlDocument(path)) ?? new Document({});
  document.set(settingKey, parsed.data);
  await writeFileAtomic(path, document.toString());
  return parsed.data;
}

export interface SettingView {
  key: SettingKey;
  value: Config[SettingKey];
  default: Config[SettingKey];
  description: string;
}

export function describeSettings(config: Config): SettingView[] {
  const defaults = configSchema.parse({});
  return SETTING_KEYS.map((key) => ({
    key,
    value: config[key],
    default: defaults[key],
    description: configSchema.shape[key].description ?? '',
  }));
}

/** docs/config.md, generated from the settings table so the docs cannot drift. */
export function renderSettingsDoc(): string {
  const rows = describeSettings(configSchema.parse({})).map(
    (setting) => `| \`${setting.key}\` | \`${JSON.stringify(setting.default)}\` | ${setting.description} |`,
  );
  return [
    '# Settings',
    '',
    'Stored in `~/.config/aibox/config.yaml` (`$XDG_CONFIG_HOME/aibox/config.yaml`).',
    'Change one with `aibox config set KEY VALUE` (validated; comments in the file are kept),',
    'read one with `aibox config get KEY`, see all with `aibox config list`.',
    '',
    '<!-- generated from src/config/settings.ts by `npm run docs`; a unit test keeps it in sync -->',
    '| key | default | meaning |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
