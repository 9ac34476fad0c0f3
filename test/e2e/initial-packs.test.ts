/**
 * The initial packs that can be built here, end to end: node-20, angular-18 and ai-tools built from
 * their recipes (packs/) against the npm registry, java-21 and python-3.11 against Debian's,
 * signed with a test key, published to an OCI layout folder, installed into a gVisor
 * sandbox, and their smoke.sh run there over ssh. ai-tools' LLM proxy variables: absent without the settings,
 * set after them. java@21's Maven builds a project offline from a Maven cache the test seeds
 * (test/fixtures/maven-seed: Debian's packaged Maven plugins), and that cache and npm's
 * survive re-creation. The node and java image variants.
 * Builds are shared with the other tests of the run (test/helpers/packs.ts); podman keeps the
 * recipes' layers between runs, so only a first run downloads (~650 MB).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ORG_POLICY_PATH } from '../../src/policy/load.js';
import { aibox, aiboxOk, cleanup, freePort, testUser, type TestUser } from '../helpers/cli.js';
import { builtPack, publishInitialPacks } from '../helpers/packs.js';

const PACKS = resolve('packs');
/** A Maven project with no dependencies (shared with bench/initial-packs.ts). */
const MAVEN_PROJECT = resolve('test/fixtures/maven-demo');
const PROXY = { anthropic: 'https://llm-proxy.example.com/anthropic', openai: 'https://llm-proxy.example.com/openai/v1' };

describe('initial packs node-20, angular-18, ai-tools, java-21 and python-3.11: built from their recipes, signed, installed, smoke-tested under gVisor; the node and java image variants', { timeout: 30 * 60_000 }, () => {
  let user: TestUser;
  let savedPolicy: string | undefined;
  const timings: Record<string, number> = {};

  async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await run();
    } finally {
      timings[label] = (Date.now() - started) / 1000;
    }
  }

  const ok = (args: string[]) => aiboxOk(user, args);

  /** Other test files rewrite the org policy too: ours goes in right before it is read. */
  async function writePolicy(): Promise<void> {
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY_PATH, stringify({ version: 1, packs: { trusted_keys: [{ name: 'e2e', key: await readFile(join(user.home, 'platform.pub'), 'utf8') }], allowed: ['*'] } }));
  }

  /** Runs a pack's smoke.sh as dev in the sandbox, as its README says: ssh aibox sh -s < smoke.sh. */
  async function smoke(folder: string): Promise<string> {
    const script = await readFile(join(PACKS, folder, 'smoke.sh'), 'utf8');
    const result = spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, 'sh -s'], { input: script, encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `${folder}/smoke.sh: ${result.stdout}${result.stderr}`);
    return result.stdout;
  }

  before(async () => {
    savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
    user = await testUser('e2e-initial');
    user.env.COSIGN_PASSWORD = 'e2e initial packs';
    await ok(['pack', 'keygen', '--output-prefix', join(user.home, 'platform')]);
    await ok(['config', 'set', 'packs.registry', join(user.home, 'layout')]);
  });

  after(async () => {
    await cleanup(user);
    await rm(user.home, { recursive: true, force: true });
    if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
    else await writeFile(ORG_POLICY_PATH, savedPolicy);
  });

  it('builds, publishes, installs and smoke-tests node@20, angular@18 (which pulls node@20 in) and ai-tools', async (t) => {
    const started = aibox(user, ['start', '--port', String(await freePort())]);
    await timed('build (once per recipe content; see helpers/packs.ts) and publish', () => publishInitialPacks(user, ['node-20', 'angular-18', 'ai-tools'], join(user.home, 'platform.key')));
    const start = await started;
    assert.equal(start.code, 0, start.stderr);

    await writePolicy();
    const outcomes = (stdout: string) => (JSON.parse(stdout) as { packs: { name: string; outcome: string }[] }).packs.map(({ name, outcome }) => `${name} ${outcome}`).sort();
    const angular = await timed('install angular@18 (and node@20)', () => ok(['install', 'angular@18', '--json']));
    assert.deepEqual(outcomes(angular.stdout), ['angular installed', 'node installed'], 'angular@18 pulls node@20 in');
    const ng = await timed('smoke angular-18', () => smoke('angular-18'));
    assert.match(ng, /^ok: ng is Angular CLI 18$/m);
    assert.match(ng, /^ok: ng runs on Node\.js 20$/m);
    const tools = await timed('install ai-tools (node@20 is there)', () => ok(['install', 'ai-tools', '--json']));
    assert.deepEqual(outcomes(tools.stdout), ['ai-tools installed', 'node already-installed']);

    const node = await timed('smoke node-20', () => smoke('node-20'));
    assert.match(node, /^ok: node v20\.20\.2$/m);
    assert.match(node, /^ok: yarn 1\.22\.22$/m);
    const smoked = await timed('smoke ai-tools', () => smoke('ai-tools'));
    assert.match(smoked, /^ok: claude 2\.1\.332 \(Claude Code\)$/m);
    assert.match(smoked, /^ok: codex codex-cli 0\.171\.0$/m);
    assert.match(smoked, /^ANTHROPIC_BASE_URL=\(not set\)$/m, 'no LLM proxy configured: no variable');
    assert.match(smoked, /^OPENAI_BASE_URL=\(not set\)$/m);

    await ok(['config', 'set', 'llm.anthropicBaseUrl', PROXY.anthropic]);
    await ok(['config', 'set', 'llm.openaiBaseUrl', PROXY.openai]);
    await ok(['uninstall', 'ai-tools']);
    await timed('install ai-tools again (cached layer)', () => ok(['install', 'ai-tools']));
    const proxied = await smoke('ai-tools');
    assert.match(proxied, new RegExp(`^ANTHROPIC_BASE_URL=${PROXY.anthropic}$`, 'm'), 'the org proxy reaches every shell');
    assert.match(proxied, new RegExp(`^OPENAI_BASE_URL=${PROXY.openai}$`, 'm'));

    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });

  it('java@21 (Debian trixie\'s OpenJDK on bookworm): smoke test; Maven compiles a project offline from a seeded cache', async (t) => {
    const ssh = (command: string, input?: Buffer) => spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, command], { input, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    await timed('build (once per recipe content) and publish java-21', () => publishInitialPacks(user, ['java-21'], join(user.home, 'platform.key')));
    await writePolicy();
    const installed = JSON.parse((await timed('install java@21', () => ok(['install', 'java@21', '--json']))).stdout);
    assert.deepEqual(installed.packs.map(({ name, version }: { name: string; version: string }) => `${name}@${version}`), ['java@21.0.13']);
    const java = await timed('smoke java-21', () => smoke('java-21'));
    assert.match(java, /^ok: javac and java run$/m);
    assert.match(ssh('java -version 2>&1').stdout, /openjdk version "21\.0\.13"/);

    // The test's Maven cache: Debian's packaged plugins, streamed from the fixture's layer into ~/.m2/repository.
    const seed = await timed('build the Maven seed (once)', () => builtPack(user, 'maven-seed', resolve('test/fixtures')));
    const layer = spawnSync('zstd', ['-dc', join(seed, '.pack', 'layer.tar.zst')], { maxBuffer: 512 * 1024 * 1024 });
    assert.equal(layer.status, 0, String(layer.stderr));
    const seeded = ssh('mkdir -p ~/.m2/repository && tar -x -C ~/.m2/repository --strip-components=2 ./repository && ls ~/.m2/repository/org/apache/maven/plugins', layer.stdout);
    assert.equal(seeded.status, 0, seeded.stderr);
    assert.match(seeded.stdout, /maven-compiler-plugin/);

    const project = spawnSync('tar', ['-C', MAVEN_PROJECT, '-c', '.'], { maxBuffer: 16 * 1024 * 1024 });
    assert.equal(ssh('mkdir -p /workspace/maven-demo && tar -x -C /workspace/maven-demo', project.stdout).status, 0);
    const build = await timed('mvn -o compile (seeded cache, no network)', async () => ssh('set -e; cd /workspace/maven-demo; mvn -o -B compile 2>&1; java -cp target/classes demo.Hello'));
    assert.equal(build.status, 0, build.stdout + build.stderr);
    assert.match(build.stdout, /BUILD SUCCESS/);
    assert.match(build.stdout, /^built by maven for 21$/m);
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });

  it('python@3.11 (Debian bookworm\'s CPython, built here while 3.12 cannot be): `aibox install python` picks it; a venv and a local wheel', async (t) => {
    await timed('build (once per recipe content) and publish python-3.11', () => publishInitialPacks(user, ['python-3.11'], join(user.home, 'platform.key')));
    await writePolicy();
    const installed = JSON.parse((await timed('install python', () => ok(['install', 'python', '--json']))).stdout);
    assert.deepEqual(installed.packs.map(({ name, version }: { name: string; version: string }) => `${name}@${version}`), ['python@3.11.2']);
    const python = await timed('smoke python-3.11', () => smoke('python-3.11'));
    assert.match(python, /^ok: python runs from the pack \/opt\/toolpacks\/python\/3\.11\.2$/m);
    assert.match(python, /^ok: venv \+ local wheel hello from a local wheel$/m);
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });

  it('the npm and Maven caches survive re-creation: in a new container, `npm ci --offline` and `mvn` (online) build from them and download nothing', async (t) => {
    // The registry this machine's npm is configured with (the sandbox reaches the same one).
    const registry = spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).stdout.trim();
    const ssh = (command: string) => spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, command], { encoding: 'utf8', timeout: 300_000 });
    const misses = (output: string) => output.split('\n').filter((line) => /http fetch GET 200 .*cache miss/.test(line)).length;
    const npm = `npm --registry ${registry} --no-audit --no-fund --loglevel http`;
    const first = await timed('npm install (empty cache)', async () => ssh(`set -e; mkdir -p /workspace/cache-demo; cd /workspace/cache-demo; printf '{"name":"cache-demo","version":"1.0.0","private":true}\\n' > package.json; ${npm} install is-number@7.0.0 2>&1`));
    assert.equal(first.status, 0, first.stdout + first.stderr);
    assert.ok(misses(first.stdout) > 0, `the first install downloads: ${first.stdout}`);

    await ok(['rm']);
    await ok(['start']);
    const second = await timed('npm ci --offline (new container, kept cache)', async () => ssh(`set -e; cd /workspace/cache-demo; rm -rf node_modules; ${npm} ci --offline 2>&1; cat node_modules/is-number/package.json`));
    assert.equal(second.status, 0, `npm ci --offline fails when the cache is gone: ${second.stdout}${second.stderr}`);
    assert.equal(misses(second.stdout), 0, second.stdout);
    assert.match(second.stdout, /"version": "7\.0\.0"/);
    // Not offline: Maven would download what it misses (and the policy would refuse it); it needs nothing.
    const maven = await timed('mvn compile (new container, kept cache)', async () => ssh('set -e; cd /workspace/maven-demo; rm -rf target; mvn -B compile 2>&1; java -cp target/classes demo.Hello'));
    assert.equal(maven.status, 0, `mvn fails when the Maven cache is gone: ${maven.stdout}${maven.stderr}`);
    assert.doesNotMatch(maven.stdout, /Downloading from/, maven.stdout);
    assert.match(maven.stdout, /^built by maven for 21$/m);
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });

  it('the node image variant: the same signed pack baked in; node runs with no install step, in a new and in a kept packs volume', async (t) => {
    await writePolicy();
    const built = await timed('image build --variant node', () => ok(['image', 'build', '--variant', 'node', '--json']));
    const variant: { image: string; built: boolean; packs: { name: string; version: string }[] } = JSON.parse(built.stdout);
    assert.deepEqual({ image: variant.image, packs: variant.packs.map(({ name, version }) => `${name}@${version}`) }, { image: 'localhost/aibox-node:20-bookworm', packs: ['node@20.20.2'] });
    assert.equal(JSON.parse((await ok(['image', 'build', '--variant', 'node', '--json'])).stdout).built, false, 'same base, same pack digests: not rebuilt');

    // A second sandbox, started first from the base image in a project with package.json: the tip names the variant.
    const other: TestUser = { ...user, name: `${user.name}-v`, env: { ...user.env, AIBOX_INSTANCE: `${user.name}-v` } };
    const project = join(user.home, 'project');
    await mkdir(project, { recursive: true });
    await writeFile(join(project, 'package.json'), '{"name": "demo"}\n');
    try {
      const port = String(await freePort());
      const first = await aibox(other, ['start', '--port', port], { cwd: project });
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /tip: this folder has package\.json; the node image variant comes with node@20: aibox rm --name \S+ && aibox start --image node/);
      const ssh = (command: string) => spawnSync('ssh', ['-F', join(other.home, '.ssh', 'config'), other.name, command], { encoding: 'utf8' });
      // A packs volume that has held packs (podman copies an image's folder only into an empty one).
      await aiboxOk(other, ['install', 'node@20']);
      await aiboxOk(other, ['uninstall', 'node']);
      assert.notEqual(ssh('command -v node').status, 0, 'the base image has no node');

      // That volume is kept by rm: start --image copies the image's packs into it.
      await aiboxOk(other, ['rm']);
      const kept = JSON.parse((await timed('start --image node (kept volume)', () => aiboxOk(other, ['start', '--image', 'node', '--port', port, '--json']))).stdout);
      assert.equal(kept.image, 'localhost/aibox-node:20-bookworm');
      assert.deepEqual(kept.imagePacks, ['node@20.20.2']);
      assert.equal(ssh('node -v').stdout, 'v20.20.2\n', 'on PATH in the next shell, no install step');
      const { status } = JSON.parse((await aiboxOk(other, ['status', '--json'])).stdout);
      assert.deepEqual(status.packs.map(({ name, version, source }: { name: string; version: string; source: string }) => `${name}@${version} ${source}`), ['node@20.20.2 image']);
      assert.equal(status.image.current, true, 'a variant of the current base image is current');

      // A new packs volume gets them from podman (an image's folder is copied into an empty volume).
      await aiboxOk(other, ['rm', '--volumes']);
      const fresh = JSON.parse((await timed('start --image node (new volume)', () => aiboxOk(other, ['start', '--image', 'node', '--port', port, '--json']))).stdout);
      assert.deepEqual(fresh.imagePacks, [], 'nothing to add');
      assert.equal(ssh('node -v; yarn --version').stdout, 'v20.20.2\n1.22.22\n');
      assert.notEqual(ssh('touch /opt/toolpacks/node/20.20.2/bin/planted').status, 0, 'dev cannot change a baked pack either');
    } finally {
      await cleanup(other);
    }
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });
  it('the java image variant: a sandbox started from aibox-java has java@21 on PATH with no install step', async (t) => {
    await writePolicy();
    const built = JSON.parse((await timed('image build --variant java', () => ok(['image', 'build', '--variant', 'java', '--json']))).stdout);
    assert.deepEqual({ image: built.image, packs: built.packs.map(({ name, version }: { name: string; version: string }) => `${name}@${version}`) }, { image: 'localhost/aibox-java:21-bookworm', packs: ['java@21.0.13'] });
    const other: TestUser = { ...user, name: `${user.name}-j`, env: { ...user.env, AIBOX_INSTANCE: `${user.name}-j` } };
    try {
      const port = String(await freePort());
      const started = JSON.parse((await timed('start --image java (new volume)', () => aiboxOk(other, ['start', '--image', 'java', '--port', port, '--json']))).stdout);
      assert.equal(started.image, 'localhost/aibox-java:21-bookworm');
      const ssh = spawnSync('ssh', ['-F', join(other.home, '.ssh', 'config'), other.name, 'java -version 2>&1; mvn --version'], { encoding: 'utf8' });
      assert.equal(ssh.status, 0, ssh.stdout + ssh.stderr);
      assert.match(ssh.stdout, /openjdk version "21\.0\.13"/);
      assert.match(ssh.stdout, /Apache Maven 3\.9\.9/);
      const { status } = JSON.parse((await aiboxOk(other, ['status', '--json'])).stdout);
      assert.deepEqual(status.packs.map(({ name, version, source }: { name: string; version: string; source: string }) => `${name}@${version} ${source}`), ['java@21.0.13 image']);
    } finally {
      await cleanup(other);
    }
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });
});
