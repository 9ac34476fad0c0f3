import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Context } from '../../src/core/context.js';
import { AiboxError } from '../../src/core/errors.js';
import { createOutput } from '../../src/core/output.js';
import { resolvePaths } from '../../src/core/paths.js';
import { runProcess } from '../../src/core/runner.js';
import { buildPack, publishPack } from '../../src/packs/author.js';
import { generateKeyPair } from '../../src/packs/cosign-keys.js';
import { entryProblem, shadowProblem } from '../../src/packs/tar-gate.js';
import { findLockFile } from '../../src/packs/lockfile.js';
import { parsePackSpec, readPackManifest } from '../../src/packs/manifest.js';
import { LayoutRegistry } from '../../src/packs/oci-layout.js';
import { resolvePacks } from '../../src/packs/resolve.js';
import { withDownloadProgress } from '../../src/packs/install.js';
import { renderEnv } from '../../src/packs/sandbox-store.js';
import { parseVariant, variantTip } from '../../src/packs/variants.js';
import { floatingTags, newestMatching } from '../../src/packs/versions.js';
import { mergeLayers } from '../../src/policy/effective.js';

describe('pack versions', () => {
  it('resolves @21 to the newest 21.x.y and ignores floating and signature tags', () => {
    const tags = ['21.0.1', '21.0.10', '21.1.0', '17.0.9', '21', 'latest', 'sha256-ab.sig'];
    assert.equal(newestMatching(tags, '21'), '21.1.0');
    assert.equal(newestMatching(tags, '21.0'), '21.0.10');
    assert.equal(newestMatching(tags, undefined), '21.1.0');
    assert.equal(newestMatching(tags, '22'), undefined);
  });
  it('moves floating tags only forward', () => {
    assert.deepEqual(floatingTags('1.0.0', []), ['1.0', '1', 'latest']);
    assert.deepEqual(floatingTags('1.2.0', ['1.0.0', '2.0.0']), ['1.2', '1']);
    assert.deepEqual(floatingTags('1.1.5', ['1.0.0', '1.2.0', '2.0.0']), ['1.1']);
  });
  it('parses pack specs and refuses garbage', () => {
    assert.deepEqual(parsePackSpec('java@21'), { name: 'java', version: '21' });
    assert.deepEqual(parsePackSpec('node@latest'), { name: 'node', version: undefined });
    for (const bad of ['Java', 'java@', 'java@21.x', '../x', 'a b']) assert.throws(() => parsePackSpec(bad), /invalid pack/);
  });
});

describe('archive entries', () => {
  it('refuses what could escape or weaken the pack folder', () => {
    const file = { type: 'file' as const, mode: 0o755, linkname: '' };
    assert.equal(entryProblem({ ...file, name: 'bin/java' }), undefined);
    assert.equal(entryProblem({ name: 'lib/x.so', type: 'symlink', linkname: '../lib64/x.so', mode: 0o777 }), undefined);
    assert.match(entryProblem({ ...file, name: '/etc/passwd' }) ?? '', /absolute/);
    assert.match(entryProblem({ ...file, name: 'a/../../x' }) ?? '', /\.\./);
    assert.match(entryProblem({ name: 'dev', type: 'character-device', mode: 0o644, linkname: '' }) ?? '', /character-device/);
    assert.match(entryProblem({ name: 'bin/x', type: 'symlink', linkname: '../../etc', mode: 0o777 }) ?? '', /outside/);
    assert.match(entryProblem({ name: 'bin/x', type: 'symlink', linkname: '/etc/shadow', mode: 0o777 }) ?? '', /absolute/);
    assert.match(entryProblem({ ...file, name: 'bin/su', mode: 0o4755 }) ?? '', /setuid/);
    assert.match(entryProblem({ ...file, name: 'bin/x', mode: 0o777 }) ?? '', /world-writable/);
  });
  it('refuses an entry that would replace or write through an earlier one', () => {
    const seen = new Map<string, string>();
    for (const [name, type] of [['./', 'directory'], ['./bin/', 'directory'], ['./bin/java', 'file'], ['./lib', 'symlink'], ['bin', 'directory']] as const) {
      assert.equal(shadowProblem({ name, type }, seen), undefined, name);
    }
    assert.equal(shadowProblem({ name: 'bin/java', type: 'file' }, seen), 'a second entry for the same path');
    assert.equal(shadowProblem({ name: './lib/x.so', type: 'file' }, seen), 'a path through the link lib (of the archive)');
  });
});

describe('manifest.yaml', () => {
  it('names the field and the line of a mistake', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-manifest-'));
    await writeFile(join(dir, 'manifest.yaml'), 'name: tool\nversion: 1.0\ndescription: x\nmaintainer: y\ninstall:\n  method: docker-layer\n');
    await assert.rejects(readPackManifest(dir), /manifest.yaml:2: version: must be an exact version/);
    await writeFile(join(dir, 'manifest.yaml'), 'name: tool\nversion: 1.0.0\ndescription: x\nmaintainer: y\ninstall:\n  method: docker-layer\n  colour: red\n');
    await assert.rejects(readPackManifest(dir), /manifest.yaml:\d+: install: Unrecognized key/);
  });
  it('renders the environment of installed packs for every shell', () => {
    const env = renderEnv({ version: 1, packs: { java: { version: '21.0.2', digest: 'd', layer: 'l', registry: 'r', installedAt: 't', path: ['/opt/toolpacks/java/21.0.2/bin'], vars: { JAVA_HOME: "/opt/toolpacks/java/21.0.2 it's" }, caches: [], source: 'install' } } });
    assert.match(env, /export JAVA_HOME='\/opt\/toolpacks\/java\/21.0.2 it'\\''s'/);
    assert.match(env, /PATH=\/opt\/toolpacks\/java\/21.0.2\/bin:"\$PATH"/);
  });
});

describe('resolving packs and their dependencies', () => {
  let ctx: Context;
  let registry: LayoutRegistry;
  let policy: ReturnType<typeof mergeLayers>;
  let signWith: { keyFile: string; password: string };
  const publish = async (name: string, version: string, depends: string[] = []) => {
    const dir = join(ctx.cwd, `${name}-${version}`);
    await mkdir(join(dir, 'files', 'bin'), { recursive: true });
    await writeFile(join(dir, 'files', 'bin', name), '#!/bin/sh\necho hi\n');
    await chmod(join(dir, 'files', 'bin', name), 0o755);
    await writeFile(join(dir, 'manifest.yaml'), `name: ${name}\nversion: ${version}\ndescription: test\nmaintainer: t@example.com\ninstall:\n  method: docker-layer\ndepends: [${depends.join(', ')}]\n`);
    await buildPack(ctx, dir, { baseImage: () => Promise.reject(new Error('a prepared folder needs no image')) });
    return publishPack(ctx, registry, dir, signWith);
  };
  before(async () => {
    const home = await mkdtemp(join(tmpdir(), 'aibox-packs-'));
    ctx = { run: runProcess, paths: resolvePaths({ HOME: home }), out: createOutput(true, { write: () => true }, { write: () => true }), env: {}, cwd: home };
    registry = new LayoutRegistry(join(home, 'registry'));
    const keys = await generateKeyPair('pw');
    await writeFile(join(home, 'k.key'), keys.privatePem);
    signWith = { keyFile: join(home, 'k.key'), password: 'pw' };
    policy = mergeLayers([{ name: 'org', origin: '/org.yaml', data: { version: 1, packs: { trusted_keys: [{ name: 'test', key: keys.publicPem }], allowed: ['*'] } } }]);
    await publish('node', '20.1.0');
    await publish('node', '20.2.0');
    await publish('node', '22.0.0');
    await publish('angular', '18.0.0', ['node@20']);
    await publish('a', '1.0.0', ['b@1']);
    await publish('b', '1.0.0', ['a@1']);
    await publish('wants22', '1.0.0', ['node@22']);
  });

  it('pulls dependencies, dependencies first', async () => {
    const packs = await resolvePacks(registry, policy, [parsePackSpec('angular@18')], { version: 1, packs: {} }, false);
    assert.deepEqual(packs.map((pack) => `${pack.name}@${pack.version}`), ['node@20.2.0', 'angular@18.0.0']);
    assert.ok(packs.every((pack) => pack.signedBy === 'test'));
  });
  it('keeps a locked version, and --frozen refuses what the lock does not name', async () => {
    const locked = await resolvePacks(registry, policy, [parsePackSpec('node@20')], { version: 1, packs: {} }, false);
    const lock = { version: 1 as const, packs: { node: { version: '20.1.0', digest: (await registry.getManifest('node', '20.1.0'))?.digest ?? '' } } };
    assert.equal(locked[0]?.version, '20.2.0');
    assert.equal((await resolvePacks(registry, policy, [parsePackSpec('node@20')], lock, true))[0]?.version, '20.1.0');
    await assert.rejects(resolvePacks(registry, policy, [parsePackSpec('angular')], lock, true), /angular is not in the lock file/);
  });
  it('finds the project\'s lock file, or takes --lock relative to the caller\'s folder (a command server runs in /)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'aibox-lock-'));
    const sub = join(home, 'app', 'src');
    await mkdir(join(home, 'app', '.git'), { recursive: true });
    await mkdir(sub);
    assert.equal(findLockFile(sub, home), join(home, 'app', '.aibox', 'packs.lock'));
    assert.equal(findLockFile(home, home), undefined, 'no project at or below home');
    assert.equal(findLockFile(sub, home, 'my.lock'), join(sub, 'my.lock'));
    assert.equal(findLockFile(sub, home, '/etc/x.lock'), '/etc/x.lock');
  });
  it('reports a cycle and a version conflict', async () => {
    await assert.rejects(resolvePacks(registry, policy, [parsePackSpec('a')], { version: 1, packs: {} }, false), (error: unknown) => error instanceof AiboxError && error.code === 'CONFLICT' && /dependency cycle: a@1.0.0 → b@1.0.0 → a@1.0.0|dependency cycle: b@1.0.0 → a@1.0.0 → b@1.0.0/.test(error.message));
    await assert.rejects(resolvePacks(registry, policy, [parsePackSpec('angular'), parsePackSpec('wants22')], { version: 1, packs: {} }, false), /version conflict: wants22@1.0.0 needs node@22, but angular@18.0.0 needs node@20/);
  });
  it('refuses republishing a version, and an unknown version lists what exists', async () => {
    await assert.rejects(publish('node', '20.1.0'), /already published, and published versions are immutable/);
    await assert.rejects(resolvePacks(registry, policy, [parsePackSpec('node@19')], { version: 1, packs: {} }, false), /no version of node@19 .*\(there: 22.0.0, 20.2.0, 20.1.0\)/);
  });
});

describe('pack environment variables', () => {
  it('refuses variables that steer every shell or the loader', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-manifest-'));
    for (const name of ['LD_PRELOAD', 'BASH_ENV', 'PATH', 'NODE_OPTIONS']) {
      await writeFile(join(dir, 'manifest.yaml'), `name: tool\nversion: 1.0.0\ndescription: x\nmaintainer: y\ninstall:\n  method: docker-layer\nenv:\n  vars:\n    ${name}: /x\n`);
      await assert.rejects(readPackManifest(dir), /must not be a variable that controls the shell or the loader/, name);
    }
  });
});

describe('image variants', () => {
  it('suggests the variant a project folder calls for, and refuses an unknown one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aibox-variant-'));
    const instance = { name: 'proj' };
    assert.equal(variantTip(dir, instance), undefined);
    await writeFile(join(dir, 'build.gradle.kts'), '');
    assert.equal(variantTip(dir, instance), 'tip: this folder has build.gradle.kts; the java image variant comes with java@21: aibox rm --name proj && aibox start --image java --name proj (volumes are kept)');
    assert.equal(parseVariant('node'), 'node');
    assert.throws(() => parseVariant('rust'), (error: unknown) => error instanceof AiboxError && error.code === 'USAGE' && /use one of: java, node, full/.test(error.hint ?? ''));
  });
});

describe('download progress', () => {
  /** A download that writes `chunks` pieces of 100 kB into `file`, one every `everyMs`. */
  async function slowDownload(file: string, chunks: number, everyMs: number): Promise<void> {
    for (let i = 0; i < chunks; i++) {
      await writeFile(file, Buffer.alloc(100_000), { flag: 'a' });
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  }
  const contextWith = (tty: boolean, lines: string[]): Context => {
    const stderr = { isTTY: tty, columns: 200, write: (text: string) => lines.push(text) };
    return { run: runProcess, paths: resolvePaths({ HOME: '/nonexistent' }), out: createOutput(false, { write: () => true }, stderr), env: {}, cwd: '/' };
  };

  it('on a terminal, shows how much of the layer has arrived as it grows, then the next step', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'aibox-progress-')), 'layer.tmp');
    const lines: string[] = [];
    await withDownloadProgress(contextWith(true, lines), 'java@21.0.2', file, 1_000_000, slowDownload(file, 10, 100));
    const shown = lines.filter((line) => line.startsWith('downloading'));
    assert.ok(shown.length >= 2, `several updates: ${JSON.stringify(lines)}`);
    const amounts = shown.map((line) => Number(/: ([\d.]+) of 1\.0 MB$/.exec(line)?.[1]));
    assert.ok(amounts.every((amount, i) => amount >= (amounts[i - 1] ?? 0)), `it only grows: ${amounts.join(', ')}`);
    assert.ok((amounts.at(-1) ?? 0) > (amounts[0] ?? 0), `it grows: ${amounts.join(', ')}`);
    assert.equal(lines.at(-1), 'checking and extracting java@21.0.2…');
  });

  it('without a terminal (a log, --json, the broker), prints nothing of it', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'aibox-progress-')), 'layer.tmp');
    const lines: string[] = [];
    await withDownloadProgress(contextWith(false, lines), 'java@21.0.2', file, 1_000_000, slowDownload(file, 5, 100));
    assert.deepEqual(lines, []);
  });
});
