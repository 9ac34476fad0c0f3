import type { Command } from 'commander';
import { configPath, describeSettings, loadConfig, requireSettingKey, setConfigValue } from '../../config/store.js';
import { contextFor } from '../app.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('Read and change aibox settings (~/.config/aibox/config.yaml)');
  config
    .command('get')
    .argument('<key>', 'setting name, e.g. ssh.port')
    .description('Print one setting')
    .action(async (key: string, _options: object, command: Command) => {
      const { ctx } = contextFor(command);
      const settingKey = requireSettingKey(key);
      const value = (await loadConfig(ctx.paths))[settingKey];
      ctx.out.result({ key: settingKey, value }, String(value));
    });
  config
    .command('set')
    .argument('<key>', 'setting name, e.g. ssh.port')
    .argument('<value>', 'new value (validated)')
    .description('Validate and store one setting')
    .action(async (key: string, value: string, _options: object, command: Command) => {
      const { ctx } = contextFor(command);
      const stored = await setConfigValue(ctx.paths, key, value);
      ctx.out.result({ key, value: stored }, `${key} = ${stored}`);
    });
  config
    .command('list')
    .description('List every setting with its value, default and meaning')
    .action(async (_options: object, command: Command) => {
      const { ctx } = contextFor(command);
      const settings = describeSettings(await loadConfig(ctx.paths));
      const lines = settings.map((setting) => `${setting.key} = ${JSON.stringify(setting.value)}${setting.value === setting.default ? '' : ` (default ${JSON.stringify(setting.default)})`}\n    ${setting.description}`);
      ctx.out.result({ path: configPath(ctx.paths), settings }, lines.join('\n'));
    });
}
