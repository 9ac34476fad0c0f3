import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configPath, describeSettings, loadConfig, renderSettingsDoc, setConfigValue } from '../../src/config/store.js';
import { resolvePaths } from '../../src/core/paths.js';

async function freshPaths() {
  const home = await mkdtemp(join(tmpdir(), 'aibox-config-'));
  return resolvePaths({ HOME: home });
}

describe('config', () => {
  it('lists every setting with its default and description', async () => {
    const paths = await freshPaths();
    const settings = describeSettings(await loadConfig(paths));
    const port = settings.find((setting) => setting.key === 'ssh.port');
    assert.deepEqual([port?.value, port?.default], [2222, 2222]);
    assert.ok(settings.every((setting) => setting.description.length > 10));
  });

  it('validates and stores values, keeping comments and other keys', async () => {
    const paths = await freshPaths();
    await mkdir(paths.configDir, { recursive: true });
    await writeFile(configPath(paths), '# my settings\nruntime: runc # because\n');
    assert.equal(await setConfigValue(paths, 'ssh.port', '2300'), 2300);
    const text = await readFile(configPath(paths), 'utf8');
    assert.match(text, /# my settings/);
    assert.match(text, /runtime: runc # because/);
    assert.equal((await loadConfig(paths))['ssh.port'], 2300);
  });

  it('refuses bad keys and values with the key, the value and the fix', async () => {
    const paths = await freshPaths();
    await assert.rejects(setConfigValue(paths, 'ssh.prot', '1'), /unknown setting "ssh.prot"[\s\S]*/);
    await assert.rejects(setConfigValue(paths, 'ssh.port', '22'), /invalid value "22" for ssh.port/);
    await assert.rejects(setConfigValue(paths, 'runtime', 'kata'), /invalid value "kata" for runtime/);
  });

  it('refuses to load or rewrite a broken config file', async () => {
    const paths = await freshPaths();
    await mkdir(paths.configDir, { recursive: true });
    await writeFile(configPath(paths), 'ssh.port: [\n');
    await assert.rejects(loadConfig(paths), /config.yaml(:\d+)? is not valid YAML/);
    await assert.rejects(setConfigValue(paths, 'runtime', 'runc'), /not valid YAML/);
    assert.equal(await readFile(configPath(paths), 'utf8'), 'ssh.port: [\n');
    await writeFile(configPath(paths), 'ssh.port: 80\n');
    await assert.rejects(loadConfig(paths), /config.yaml:1: ssh.port: /);
  });

  it('keeps all state under the XDG folders of HOME', () => {
    const paths = resolvePaths({ HOME: '/h', XDG_CONFIG_HOME: 'relative-is-ignored' });
    assert.deepEqual([paths.configDir, paths.dataDir, paths.stateDir, paths.sshConfig], ['/h/.config/aibox', '/h/.local/share/aibox', '/h/.local/state/aibox', '/h/.ssh/config']);
    assert.equal(resolvePaths({ HOME: '/h', XDG_DATA_HOME: '/d' }).instanceDir('x'), '/d/aibox/instances/x');
  });
});

describe('docs/config.md', () => {
  it('is generated from the settings table (run `npm run docs` after changing a setting)', async () => {
    assert.equal(await readFile('docs/config.md', 'utf8'), renderSettingsDoc());
  });
});
