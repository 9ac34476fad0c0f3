import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { configSchema } from '../../src/config/settings.js';
import { AiboxError } from '../../src/core/errors.js';
import { applyMachineSettings, machineSettingsPath } from '../../src/ide/machine-settings.js';
import { fetchVerified, fetchVscode, planVscode } from '../../src/ide/vscode-fetch.js';
import { expandUrl, extensionFile, mergeMachineSettings, parseExtensionList, vscodeArch } from '../../src/ide/vscode.js';
import { planImage } from '../../src/image/build.js';
import { packageRoot } from '../../src/image/package-root.js';
import { parseSetupReport } from '../../src/shell/setup.js';

const COMMIT = 'a'.repeat(40);
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('vscode: server URL template', () => {
  it('fills {commit} and {arch}', () => {
    assert.equal(expandUrl('https://mirror.example.com/vscode/{commit}/server-linux-{arch}.tar.gz', { commit: COMMIT, arch: 'x64' }, 'vscode.serverUrl'), `https://mirror.example.com/vscode/${COMMIT}/server-linux-x64.tar.gz`);
  });
  it('refuses an unknown placeholder, naming the setting', () => {
    assert.throws(() => expandUrl('https://mirror.example.com/{platform}', { commit: COMMIT }, 'vscode.serverUrl'), (error: AiboxError) => /vscode\.serverUrl has an unknown placeholder \{platform\}/.test(error.message) && /\{commit\}/.test(error.hint ?? ''));
  });
  it("names the architecture as VS Code's download URLs do", () => {
    assert.equal(vscodeArch('x64'), 'x64');
    assert.equal(vscodeArch('arm64'), 'arm64');
    assert.throws(() => vscodeArch('s390x'), /no Linux server for the architecture s390x/);
  });
});

describe('vscode: extension list', () => {
  const digest = 'b'.repeat(64);
  it('reads publisher.name@version sha256 lines, comments and blank lines ignored', () => {
    const list = parseExtensionList(`# curated\n\nexample.linter@1.2.3 ${digest}\nexample.go-tools@0.40.1-pre sha256:${'C'.repeat(64)}  # trailing comment\n`, 'extensions.txt');
    assert.deepEqual(list, [
      { publisher: 'example', name: 'linter', version: '1.2.3', sha256: digest },
      { publisher: 'example', name: 'go-tools', version: '0.40.1-pre', sha256: 'c'.repeat(64) },
    ]);
    assert.equal(extensionFile(list[0]!), 'example.linter-1.2.3.vsix');
  });
  it('names file and line of a bad entry', () => {
    assert.throws(() => parseExtensionList(`example.linter@1.2.3 ${digest}\nexample.linter 1.2.3\n`, 'list.txt'), /list\.txt:2: not an extension line/);
    assert.throws(() => parseExtensionList(`example.linter@1.2.3 ${'b'.repeat(63)}\n`, 'list.txt'), /list\.txt:1/);
  });
  it('refuses an extension listed twice', () => {
    assert.throws(() => parseExtensionList(`example.linter@1.2.3 ${digest}\nExample.Linter@1.2.4 ${digest}\n`, 'list.txt'), /list\.txt:2: Example\.Linter is already listed on line 1/);
  });
  it("aibox's own list parses (and pins nothing it could not verify)", async () => {
    const file = join(packageRoot(), 'images', 'vscode', 'extensions.txt');
    assert.deepEqual(parseExtensionList(await readFile(file, 'utf8'), file), []);
  });
});

describe('vscode: machine settings merge', () => {
  it('creates the setting in an empty or missing file', () => {
    assert.deepEqual(JSON.parse(mergeMachineSettings('', 'f') ?? ''), { 'telemetry.telemetryLevel': 'off' });
    assert.deepEqual(JSON.parse(mergeMachineSettings('{}\n', 'f') ?? ''), { 'telemetry.telemetryLevel': 'off' });
  });
  it("keeps the user's keys, comments and indentation", () => {
    const user = '{\n    // mine\n    "editor.fontSize": 15,\n    "files.exclude": { "**/.git": true }, // trailing\n}\n';
    const merged = mergeMachineSettings(user, 'f') ?? '';
    // The user's trailing comma stays where it was (VS Code reads settings as JSONC).
    assert.equal(merged, '{\n    // mine\n    "editor.fontSize": 15,\n    "files.exclude": { "**/.git": true },\n    "telemetry.telemetryLevel": "off", // trailing\n}\n');
  });
  it('turns another level off and leaves an off file alone', () => {
    assert.equal(mergeMachineSettings('{\n  "a": 1,\n  "telemetry.telemetryLevel": "all"\n}\n', 'f'), '{\n  "a": 1,\n  "telemetry.telemetryLevel": "off"\n}\n');
    assert.equal(mergeMachineSettings('{\n  "telemetry.telemetryLevel": "off"\n}\n', 'f'), undefined);
  });
  it('handles one-line files and files with only comments', () => {
    assert.equal(mergeMachineSettings('{"a":1}', 'f'), '{"a":1,"telemetry.telemetryLevel":"off"}');
    const merged = mergeMachineSettings('{\n  // nothing yet\n}\n', 'f') ?? '';
    assert.match(merged, /\/\/ nothing yet\n {2}"telemetry\.telemetryLevel": "off"\n\}/);
  });
  it('never rewrites a file it cannot read', () => {
    assert.throws(() => mergeMachineSettings('{ "a": ', 'settings.json'), /settings\.json is not valid JSON .*left it unchanged/);
    assert.throws(() => mergeMachineSettings('[1]', 'settings.json'), /top level is not a JSON object/);
  });
  it('applies it in a home folder, keeping the mode', async () => {
    const home = await mkdtemp(join(tmpdir(), 'aibox-vscode-home-'));
    const file = machineSettingsPath(home);
    assert.equal(await applyMachineSettings(home), true);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { 'telemetry.telemetryLevel': 'off' });
    await writeFile(file, '{ "x": true }');
    await chmod(file, 0o644);
    assert.equal(await applyMachineSettings(home), true);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { x: true, 'telemetry.telemetryLevel': 'off' });
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    assert.equal(await applyMachineSettings(home), false);
  });
});

describe('vscode: plan and verified download', () => {
  it('is nothing without vscode.serverUrl (the default), whatever else is set', async () => {
    assert.equal(await planVscode(configSchema.parse({ 'vscode.commit': COMMIT }), packageRoot()), undefined);
  });
  it('asks for the commit and the digest a URL needs', async () => {
    await assert.rejects(planVscode(configSchema.parse({ 'vscode.serverUrl': 'https://mirror.example.com/{commit}.tar.gz' }), packageRoot()), /vscode\.commit is empty/);
    await assert.rejects(planVscode(configSchema.parse({ 'vscode.serverUrl': 'https://mirror.example.com/{commit}.tar.gz', 'vscode.commit': COMMIT }), packageRoot()), /vscode\.serverSha256 is empty/);
  });
  it('a CLI URL needs its digest', async () => {
    const base = { 'vscode.serverUrl': 'https://mirror.example.com/{commit}.tar.gz', 'vscode.commit': COMMIT, 'vscode.serverSha256': 'e'.repeat(64), 'vscode.cliUrl': 'https://mirror.example.com/{commit}/cli-{arch}.tar.gz' };
    await assert.rejects(planVscode(configSchema.parse(base), packageRoot()), /vscode\.cliSha256 is empty/);
    const plan = await planVscode(configSchema.parse({ ...base, 'vscode.cliSha256': 'f'.repeat(64) }), packageRoot());
    assert.equal(plan?.cli?.url, `https://mirror.example.com/${COMMIT}/cli-${vscodeArch()}.tar.gz`);
  });
  it('needs vscode.extensionUrl when the list has extensions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-vscode-'));
    const list = join(dir, 'extensions.txt');
    await writeFile(list, `example.linter@1.0.0 ${'d'.repeat(64)}\n`);
    const base = { 'vscode.serverUrl': 'https://mirror.example.com/{commit}/{arch}.tar.gz', 'vscode.commit': COMMIT, 'vscode.serverSha256': 'e'.repeat(64), 'vscode.extensions': list };
    await assert.rejects(planVscode(configSchema.parse(base), packageRoot()), /lists 1 extension\(s\) but setting vscode\.extensionUrl is empty/);
    const plan = await planVscode(configSchema.parse({ ...base, 'vscode.extensionUrl': 'https://mirror.example.com/vsix/{publisher}.{name}-{version}.vsix' }), packageRoot());
    assert.equal(plan?.server.url, `https://mirror.example.com/${COMMIT}/${vscodeArch()}.tar.gz`);
    assert.deepEqual(plan?.extensions.map((e) => e.url), ['https://mirror.example.com/vsix/example.linter-1.0.0.vsix']);
  });
  it('a VS Code pin changes the image tag, not the system stage (tool packs keep their cache)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-vscode-'));
    const bundle = join(dir, 'aibox.mjs');
    const ca = join(dir, 'ca.pem');
    await writeFile(bundle, 'x');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\n');
    const common = { 'image.mirror': 'http://mirror.example.com/debian', 'image.caBundle': ca, 'image.from': 'registry.example.com/debian:bookworm' };
    const without = await planImage(configSchema.parse(common), packageRoot(), bundle);
    const pinned = { ...common, 'vscode.serverUrl': 'https://mirror.example.com/{commit}.tar.gz', 'vscode.commit': COMMIT, 'vscode.serverSha256': 'e'.repeat(64) };
    const withVscode = await planImage(configSchema.parse(pinned), packageRoot(), bundle);
    const otherMirror = await planImage(configSchema.parse({ ...pinned, 'vscode.serverUrl': 'https://other.example.com/{commit}.tar.gz' }), packageRoot(), bundle);
    assert.equal(without.vscode, undefined);
    assert.notEqual(withVscode.tag, without.tag);
    assert.equal(withVscode.systemTag, without.systemTag);
    assert.equal(otherMirror.tag, withVscode.tag, 'the digest names the content, not the mirror');
  });
  it('copies a file whose sha256 matches, and keeps it in the cache', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-vscode-'));
    const src = join(dir, 'server.tar.gz');
    await writeFile(src, 'server bytes');
    const cache = join(dir, 'cache');
    await fetchVerified(pathToFileURL(src).href, sha('server bytes'), join(dir, 'out'), cache, 'the server', 'setting');
    assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'server bytes');
    assert.deepEqual(await readdir(join(cache, 'vscode')), [sha('server bytes')]);
  });
  it('a wrong sha256 names URL, expected and actual digest, and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-vscode-'));
    const src = join(dir, 'server.tar.gz');
    await writeFile(src, 'tampered');
    const url = pathToFileURL(src).href;
    const expected = sha('original');
    const cache = join(dir, 'cache');
    await mkdir(join(dir, 'ctx'));
    await assert.rejects(fetchVerified(url, expected, join(dir, 'ctx', 'server.tar.gz'), cache, 'the VS Code server archive', 'aibox config set vscode.serverSha256 SHA256'), (error: AiboxError) => {
      assert.ok(error.message.includes(url));
      assert.ok(error.message.includes(`expected ${expected}`));
      assert.ok(error.message.includes(sha('tampered')));
      assert.match(error.message, /nothing was unpacked/);
      assert.match(error.hint ?? '', /fix the mirror.*vscode\.serverSha256/);
      return true;
    });
    assert.deepEqual(await readdir(join(dir, 'ctx')), []);
    assert.deepEqual(await readdir(join(cache, 'vscode')), []);
  });
  it('a missing mirror file is an error naming the URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-vscode-'));
    await assert.rejects(fetchVerified('http://127.0.0.1:9/none.tar.gz', sha('x'), join(dir, 'o'), dir, 'the server', 's'), /cannot download http:\/\/127\.0\.0\.1:9\/none\.tar\.gz/);
  });
  it('fills the build context: install script, commit, archive, VSIX files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-vscode-'));
    await writeFile(join(dir, 'server.tar.gz'), 'S');
    await writeFile(join(dir, 'example.linter-1.0.0.vsix'), 'V');
    await writeFile(join(dir, 'cli.tar.gz'), 'C');
    const list = join(dir, 'list.txt');
    await writeFile(list, `example.linter@1.0.0 ${sha('V')}\n`);
    const plan = await planVscode(configSchema.parse({ 'vscode.serverUrl': `${pathToFileURL(dir).href}/server.tar.gz`, 'vscode.commit': COMMIT, 'vscode.serverSha256': sha('S'), 'vscode.cliUrl': `${pathToFileURL(dir).href}/cli.tar.gz`, 'vscode.cliSha256': sha('C'), 'vscode.extensions': list, 'vscode.extensionUrl': `${pathToFileURL(dir).href}/{publisher}.{name}-{version}.vsix` }), packageRoot());
    assert.ok(plan);
    const context = join(dir, 'context');
    await fetchVscode(plan, context, join(dir, 'cache'), () => undefined);
    assert.deepEqual((await readdir(join(context, 'vscode'))).sort(), ['cli.tar.gz', 'commit', 'extensions', 'install.sh', 'server.tar.gz']);
    assert.deepEqual(await readdir(join(context, 'vscode', 'extensions')), ['example.linter-1.0.0.vsix']);
    assert.equal(await readFile(join(context, 'vscode', 'commit'), 'utf8'), `${COMMIT}\n`);
  });
});

describe('vscode: the start report', () => {
  it('reads the linked commit and a failed settings merge', () => {
    const report = parseSetupReport(`aibox-setup:status=none\naibox-setup:vscode=${COMMIT}\naibox-setup:vscode_settings=failed\naibox-setup:vscode_error=bad json\n`, '');
    assert.equal(report.status, 'none');
    assert.equal(report.vscode, COMMIT);
    assert.equal(report.vscode_settings, 'failed');
  });
});

/** The first words of an aibox command line (up to 4: subcommands, flags, `--`): what the e2e test must pass as the start of aibox's argv. */
function argvStart(line: string): string {
  const words: string[] = [];
  for (const word of line.split(/\s+/).slice(1)) {
    if (!/^(--?)?[a-z][\w.@-]*$|^--$/.test(word) || words.length === 4) break;
    words.push(word);
  }
  return `[${words.map((word) => `'${word}'`).join(', ')}`;
}

/** The aibox command lines of the first sh block after HEADING in docs/vscode.md. */
async function docCommands(heading: string): Promise<string[]> {
  const doc = await readFile(join(packageRoot(), 'docs', 'vscode.md'), 'utf8');
  const block = new RegExp(`## ${heading}[\\s\\S]*?\`\`\`sh\n([\\s\\S]*?)\`\`\``).exec(doc)?.[1] ?? '';
  return block.split('\n').filter((line) => line.startsWith('aibox '));
}

describe('docs/vscode.md', () => {
  it('every aibox command of the quickstart is run by test/e2e/vscode.test.ts', async () => {
    const e2e = await readFile(join(packageRoot(), 'test', 'e2e', 'vscode.test.ts'), 'utf8');
    const commands = await docCommands('Quickstart');
    assert.ok(commands.length >= 7);
    for (const line of commands) assert.ok(e2e.includes(argvStart(line)), `${line}: the e2e test runs aibox ${argvStart(line)}`);
  });

  it("every aibox command of the code-server section is run by test/e2e/ide-code-server.test.ts, with the same quoted arguments", async () => {
    const e2e = await readFile(join(packageRoot(), 'test', 'e2e', 'ide-code-server.test.ts'), 'utf8');
    const commands = await docCommands('code-server, the open-source alternative');
    assert.ok(commands.length >= 4);
    for (const line of commands) {
      assert.ok(e2e.includes(argvStart(line)), `${line}: the e2e test runs aibox ${argvStart(line)}`);
      for (const [, quoted] of line.matchAll(/'([^']*)'/g)) assert.ok(e2e.includes(`'${quoted}'`), `${line}: the e2e test passes '${quoted}'`);
    }
  });
});
