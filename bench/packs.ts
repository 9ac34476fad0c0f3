/**
 * Tool pack benchmark (not a test). Builds a real JDK tree (Debian's
 * openjdk-17-jdk-headless and -jre-headless, unpacked), then in one run:
 * - layer formats: `createLayer` with zstd and gzip (size, time), raw extraction
 *   on the host (`zstd -dc | tar -x`, `tar -xzf`) and `extractLayer` from a file
 *   (hash while decompressing into a file, archive check, tar of that file: the path `aibox install` takes);
 * - `aibox install` of that pack from a loopback registry (docker-registry),
 *   signed: cold (empty host layer cache, not installed), warm (layer cached,
 *   uninstalled first) and already installed, next to the raw host extraction
 *   of the same layer measured in between; cold and already installed also from a
 *   terminal inside the sandbox (its command server and the host's broker: no Node start);
 * - where the cold install's time goes: each step timed by calling the domain
 *   functions `aibox install` calls.
 * Under gVisor and runc. Prints a Markdown report for docs/performance.md and
 * writes bench/results/packs-latest.json. Medians of RUNS.
 *
 *   npm run bench:packs
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { performance } from 'node:perf_hooks';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { z } from 'zod';
import { loadConfig } from '../src/config/store.js';
import type { Context } from '../src/core/context.js';
import { createOutput } from '../src/core/output.js';
import { resolvePaths } from '../src/core/paths.js';
import { runProcess } from '../src/core/runner.js';
import { extractLayer } from '../src/packs/extract.js';
import { packStoreOf } from '../src/packs/install.js';
import { createLayer, type LayerCompression } from '../src/packs/layer.js';
import { sha256File } from '../src/packs/registry.js';
import { openPackRegistry } from '../src/packs/registry-config.js';
import { resolvePacks } from '../src/packs/resolve.js';
import { cleanStaging, placePack, readInstalled, removePackDir, writeInstalled } from '../src/packs/sandbox-store.js';
import { verifyPackSignature } from '../src/packs/signing.js';
import { loadPolicyFor, ORG_POLICY_PATH } from '../src/policy/load.js';
import { requireRunningQuick } from '../src/sandbox/lifecycle.js';
import { resolveInstance } from '../src/sandbox/instance.js';
import { AIBOX, aibox, freePort, testUser, type CliResult, type TestUser } from '../test/helpers/cli.js';
import { startRegistry } from '../test/helpers/registry.js';
import { load, machine, median, must, seconds, timed, timedAsync } from './common.js';

const RUNS = 5;
const PACK = 'jdk';
const FORMATS: readonly LayerCompression[] = ['zstd', 'gzip'];
const LAYER_FILE: Record<LayerCompression, string> = { zstd: 'layer.tar.zst', gzip: 'layer.tar.gz' };

/** A shell command on the host; throws with its stderr when it fails. */
function sh(command: string): string {
  const result = spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  must({ code: result.status ?? 1, stderr: result.stderr ?? String(result.error) }, command);
  return result.stdout;
}

/**
 * Links a pack may not hold (absolute, or out of the tree) are replaced by the
 * file they name inside `root` (Debian's JDK links its conf/ to /etc), else dropped.
 */
async function containLinks(tree: string, root: string): Promise<void> {
  const links = sh(`find "${tree}" -type l -printf '%P\\0%l\\0'`).split('\0');
  for (let i = 0; i + 1 < links.length; i += 2) {
    const [path = '', target = ''] = [links[i], links[i + 1]];
    const inside = !target.startsWith('/') && !posix.normalize(posix.join(posix.dirname(path), target)).startsWith('..');
    if (inside) continue;
    const file = join(tree, path);
    await unlink(file);
    const source = target.startsWith('/') ? join(root, target) : '';
    if (source && (await lstat(source).catch(() => undefined))?.isFile()) await copyFile(source, file);
  }
}

/** The JDK tree: Debian's packages through apt's configured sources; else /usr/lib/x86_64-linux-gnu of this host. */
async function jdkTree(work: string): Promise<{ dir: string; source: string; version: string; bytes: number; files: number }> {
  const debs = join(work, 'debs');
  const root = join(work, 'root');
  await mkdir(debs);
  await mkdir(root);
  const download = spawnSync('sh', ['-c', `cd "${debs}" && apt-get download openjdk-17-jdk-headless openjdk-17-jre-headless`], { encoding: 'utf8', timeout: 600_000 });
  let dir: string;
  let source: string;
  let version = '17.0.0';
  if (download.status === 0) {
    const files = await readdir(debs);
    for (const deb of files) sh(`dpkg -x "${join(debs, deb)}" "${root}"`);
    dir = join(root, 'usr/lib/jvm/java-17-openjdk-amd64');
    version = /_(\d+\.\d+\.\d+)/.exec(files.find((file) => file.startsWith('openjdk-17-jdk')) ?? '')?.[1] ?? version;
    source = `Debian's ${files.map((file) => file.replace(/_amd64\.deb$/, '')).join(' + ')}, ${dir.slice(root.length)}`;
  } else {
    console.error(`apt-get download failed (${download.stderr.trim()}); using /usr/lib/x86_64-linux-gnu of this host`);
    dir = join(root, 'lib');
    sh(`cp -a /usr/lib/x86_64-linux-gnu "${dir}"`);
    source = 'this host\'s /usr/lib/x86_64-linux-gnu';
  }
  await containLinks(dir, root);
  sh(`chmod -R u+rwX,go+rX,go-w "${dir}"`);
  const bytes = Number(sh(`du -sb "${dir}" | cut -f1`).trim());
  const files = Number(sh(`find "${dir}" | wc -l`).trim());
  return { dir, source, version, bytes, files };
}

function hostExtract(work: string, layer: string, compression: LayerCompression): number {
  const target = join(work, 'host-extract');
  sh(`rm -rf "${target}" && mkdir "${target}"`);
  const command = compression === 'zstd' ? `zstd -dc "${layer}" | tar -x -C "${target}"` : `tar -xzf "${layer}" -C "${target}"`;
  const took = timed(() => sh(command));
  sh(`rm -rf "${target}"`);
  return took;
}

interface FormatResult {
  compression: LayerCompression;
  bytes: number;
  compress: number;
  hostExtract: number;
}

/** createLayer both ways, RUNS each (interleaved), and the host extraction of each. */
async function compareFormats(work: string, tree: string): Promise<FormatResult[]> {
  const samples: Record<LayerCompression, { compress: number[]; extract: number[] }> = { zstd: { compress: [], extract: [] }, gzip: { compress: [], extract: [] } };
  for (let run = 0; run < RUNS; run++) {
    for (const format of FORMATS) {
      const layer = join(work, LAYER_FILE[format]);
      samples[format].compress.push(await timedAsync(() => createLayer(runProcess, tree, layer, format)));
      samples[format].extract.push(hostExtract(work, layer, format));
    }
  }
  const results: FormatResult[] = [];
  for (const format of FORMATS) {
    const { compress, extract } = samples[format];
    results.push({ compression: format, bytes: (await stat(join(work, LAYER_FILE[format]))).size, compress: median(compress), hostExtract: median(extract) });
  }
  return results;
}

const BENCH_KEY = 'aibox-bench';

/**
 * Makes the org policy trust the bench key (packs are verified against its
 * packs.trusted_keys), keeping everything else in it. Called before each install:
 * other tests on this machine may rewrite the org policy meanwhile.
 */
async function trustKey(publicKey: string): Promise<void> {
  const text = await readFile(ORG_POLICY_PATH, 'utf8').catch(() => 'version: 1\n');
  const policy = parseDocument(text);
  const ours = (item: unknown) => isMap(item) && item.get('name') === BENCH_KEY;
  const keys = policy.getIn(['packs', 'trusted_keys']);
  const allowed = policy.getIn(['packs', 'allowed']);
  const trusted = isSeq(keys) && keys.items.some((item) => ours(item) && isMap(item) && item.get('key') === publicKey);
  // An org policy without packs.allowed allows no pack at all.
  const allowedHere = isSeq(allowed) && allowed.items.some((item) => isScalar(item) && (item.value === '*' || item.value === `${PACK}@*`));
  if (trusted && allowedHere) return;
  if (!trusted) {
    const entry = { name: BENCH_KEY, key: publicKey };
    if (isSeq(keys)) {
      keys.items = keys.items.filter((item) => !ours(item)); // a key of an earlier run, put back by someone's restore
      policy.addIn(['packs', 'trusted_keys'], entry);
    } else policy.setIn(['packs', 'trusted_keys'], [entry]);
  }
  if (!allowedHere && isSeq(allowed)) policy.addIn(['packs', 'allowed'], `${PACK}@*`);
  else if (!allowedHere) policy.setIn(['packs', 'allowed'], [`${PACK}@*`]);
  await mkdir(dirname(ORG_POLICY_PATH), { recursive: true });
  await writeFile(ORG_POLICY_PATH, policy.toString());
}

/** Takes the bench key out of the org policy again (the file itself is removed only when the bench created it). */
async function untrustKey(createdPolicy: boolean): Promise<void> {
  if (createdPolicy) return rm(ORG_POLICY_PATH, { force: true });
  const text = await readFile(ORG_POLICY_PATH, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const policy = parseDocument(text);
  const keys = policy.getIn(['packs', 'trusted_keys']);
  if (!isSeq(keys)) return;
  keys.items = keys.items.filter((item) => !(isMap(item) && item.get('name') === BENCH_KEY));
  const allowed = policy.getIn(['packs', 'allowed']);
  if (isSeq(allowed)) allowed.items = allowed.items.filter((item) => !(isScalar(item) && item.value === `${PACK}@*`));
  await writeFile(ORG_POLICY_PATH, policy.toString());
}

interface Published {
  registry: string;
  version: string;
  /** Seconds of `aibox pack build` and of `aibox pack publish --key`. */
  build: number;
  publish: number;
}

/** The pack folder (files/ is the JDK tree), built, published and signed with the aibox command. */
async function publishJdk(user: TestUser, work: string, tree: string, version: string, registry: string): Promise<Published> {
  const dir = join(work, 'pack');
  await mkdir(dir);
  await symlink(tree, join(dir, 'files'));
  const manifest = [`name: ${PACK}`, `version: ${version}`, 'description: OpenJDK 17 (Debian openjdk-17-jdk-headless), for the pack benchmark', 'maintainer: platform@example.com', 'install:', '  method: docker-layer', 'env:', '  path: [bin]', '  vars:', '    JAVA_HOME: $PACK_DIR', ''];
  await writeFile(join(dir, 'manifest.yaml'), manifest.join('\n'));
  must(await aibox(user, ['config', 'set', 'packs.registry', registry]), 'aibox config set');
  const build = await timedAsync(async () => must(await aibox(user, ['pack', 'build', dir]), 'aibox pack build'));
  const publish = await timedAsync(async () => must(await aibox(user, ['pack', 'publish', dir, '--key', join(user.home, 'bench.key')]), 'aibox pack publish'));
  return { registry, version, publish, build };
}

interface InstallResult {
  /** From the host, through its command server (as users run it after their first install). */
  cold: number;
  warm: number;
  installed: number;
  /** From the host with AIBOX_NO_SERVER=1: Node loads the whole bundle for each command. */
  coldNode: number;
  installedNode: number;
  /** `aibox install` in a terminal inside the sandbox (its command server, then the host's broker): cold, and already installed. */
  insideCold: number;
  insideInstalled: number;
  /** The same, timed from the bench: with the SSH session that carries the command. */
  insideColdSsh: number;
  insideInstalledSsh: number;
  rawZstd: number;
  rawGzip: number;
}

const installReportSchema = z.object({ packs: z.array(z.object({ outcome: z.string(), downloaded: z.boolean() })) });
const ATTEMPTS = 5;

/**
 * Times `aibox install` of the pack. An attempt the policy refused (another test on
 * this machine rewrote the org policy in between) is repeated, not timed.
 */
async function install(user: TestUser, from: 'host' | 'host-node' | 'sandbox' = 'host'): Promise<{ seconds: number; throughSsh: number; outcome: string; downloaded: boolean }> {
  const publicKey = await readFile(join(user.home, 'bench.pub'), 'utf8');
  // Timed in the sandbox's own shell (bash's clock, no process started for it), as in a terminal there;
  // `throughSsh` adds the SSH session that carries the command from the bench.
  const inside = async () => {
    const script = `s=$EPOCHREALTIME; aibox install ${PACK} --json; code=$?; e=$EPOCHREALTIME; echo "bench-seconds $s $e" >&2; exit $code`;
    const ssh = spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, `bash -c '${script}'`], { encoding: 'utf8' });
    const [, start = '0', end = '0'] = /^bench-seconds (\S+) (\S+)$/m.exec(ssh.stderr) ?? [];
    return { code: ssh.status ?? 1, stdout: ssh.stdout, stderr: ssh.stderr, seconds: Number(end) - Number(start) };
  };
  for (let attempt = 1; ; attempt++) {
    await trustKey(publicKey);
    const start = performance.now();
    const noServer = from === 'host-node' ? { env: { ...user.env, AIBOX_NO_SERVER: '1' } } : {};
    const result: CliResult & { seconds?: number } = from === 'sandbox' ? await inside() : await aibox(user, ['install', PACK, '--json'], noServer);
    const throughSsh = (performance.now() - start) / 1000;
    if (result.code === 8 && attempt < ATTEMPTS) continue;
    must(result, 'aibox install');
    const [report = { outcome: 'none', downloaded: false }] = installReportSchema.parse(JSON.parse(result.stdout)).packs;
    return { seconds: result.seconds ?? throughSsh, throughSsh, ...report };
  }
}

async function uninstall(user: TestUser): Promise<void> {
  must(await aibox(user, ['uninstall', PACK]), 'aibox uninstall');
}

/** `aibox install` end to end, cold / warm / installed, with the raw host extraction of the same layers interleaved. */
async function timeInstalls(user: TestUser, work: string): Promise<InstallResult> {
  const cold: number[] = [];
  const warm: number[] = [];
  const installed: number[] = [];
  const node = { cold: [] as number[], installed: [] as number[] };
  const inside = { cold: [] as number[], installed: [] as number[], coldSsh: [] as number[], installedSsh: [] as number[] };
  const raw = { zstd: [] as number[], gzip: [] as number[] };
  const expect = (got: { seconds: number; outcome: string; downloaded: boolean }, outcome: string, downloaded: boolean): number => {
    if (got.outcome !== outcome || got.downloaded !== downloaded) throw new Error(`expected ${outcome} (downloaded ${downloaded}), got ${JSON.stringify(got)}`);
    return got.seconds;
  };
  // The first install from the host also starts its command server (and makes the pack's cache folders), so it is not timed.
  await install(user);
  for (let run = 0; run < RUNS; run++) {
    await uninstall(user);
    await rm(join(user.home, '.cache', 'aibox', 'blobs'), { recursive: true, force: true });
    for (const format of FORMATS) raw[format].push(hostExtract(work, join(work, LAYER_FILE[format]), format));
    cold.push(expect(await install(user), 'installed', true));
    await uninstall(user);
    warm.push(expect(await install(user), 'installed', false));
    installed.push(expect(await install(user), 'already-installed', false));
    await uninstall(user);
    await rm(join(user.home, '.cache', 'aibox', 'blobs'), { recursive: true, force: true });
    node.cold.push(expect(await install(user, 'host-node'), 'installed', true));
    node.installed.push(expect(await install(user, 'host-node'), 'already-installed', false));
  }
  // From inside: the first call also starts the sandbox's command server, so it is not timed.
  await install(user, 'sandbox');
  for (let run = 0; run < RUNS; run++) {
    await uninstall(user);
    await rm(join(user.home, '.cache', 'aibox', 'blobs'), { recursive: true, force: true });
    const cold = await install(user, 'sandbox');
    inside.cold.push(expect(cold, 'installed', true));
    inside.coldSsh.push(cold.throughSsh);
    const installed = await install(user, 'sandbox');
    inside.installed.push(expect(installed, 'already-installed', false));
    inside.installedSsh.push(installed.throughSsh);
  }
  return {
    cold: median(cold), warm: median(warm), installed: median(installed), rawZstd: median(raw.zstd), rawGzip: median(raw.gzip),
    coldNode: median(node.cold), installedNode: median(node.installed),
    insideCold: median(inside.cold), insideInstalled: median(inside.installed), insideColdSsh: median(inside.coldSsh), insideInstalledSsh: median(inside.installedSsh),
  };
}

/** extractLayer from the layer file (sha256 while decompressing into a file, TarGate, tar) into a folder of the host, per format. */
async function onePassExtract(work: string): Promise<Record<LayerCompression, number>> {
  const samples = { zstd: [] as number[], gzip: [] as number[] };
  for (let run = 0; run < RUNS; run++) {
    for (const format of FORMATS) {
      const file = join(work, LAYER_FILE[format]);
      const { digest, size } = await sha256File(file);
      const into = join(work, 'extract');
      await mkdir(into);
      samples[format].push(await timedAsync(() => extractLayer({ file, digest, size, compression: format, into, what: 'bench', source: { location: 'bench', what: 'layer' } })));
      await rm(into, { recursive: true });
    }
  }
  return { zstd: median(samples.zstd), gzip: median(samples.gzip) };
}

type Phases = Record<string, number>;

/**
 * One cold install, step by step, through the functions `aibox install` calls
 * (src/packs/install.ts): where the time goes. Medians of RUNS.
 */
async function profileInstall(user: TestUser): Promise<Phases> {
  const sink = { write: () => true };
  const paths = resolvePaths(user.env);
  const ctx: Context = { run: runProcess, paths, out: createOutput(false, sink, sink), env: user.env, cwd: user.home };
  const instance = resolveInstance(paths, user.name);
  const store = await packStoreOf(instance);
  const samples: Record<string, number[]> = {};
  let times: Record<string, number> = {};
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const value = await fn();
    times[name] = (performance.now() - start) / 1000;
    return value;
  };
  const publicKey = await readFile(join(user.home, 'bench.pub'), 'utf8');
  for (let run = 0; run < RUNS; ) {
    times = {};
    await trustKey(publicKey);
    await step('CLI start: launcher → host command server → back (aibox uninstall of nothing)', async () => spawnSync(process.execPath, [AIBOX, 'uninstall', 'none'], { env: user.env }));
    await step('  without the server: the whole bundle (aibox --version)', async () => sh(`"${process.execPath}" "${AIBOX}" --version`));
    const config = await step('config + policy', async () => {
      const loaded = await loadConfig(paths);
      return { config: loaded, policy: await loadPolicyFor(ctx, loaded) };
    });
    if (!config.policy.trustedKeys.value.some((key) => key.key === publicKey)) continue; // another test rewrote the org policy meanwhile
    await step('sandbox running? (its shared SSH connection answers on its socket)', () => requireRunningQuick(ctx, instance));
    const registry = await openPackRegistry(ctx, config.config);
    const [pack] = await step('resolve (tags, manifest, signature, config)', () => resolvePacks(registry, config.policy, [{ name: PACK }], { version: 1, packs: {} }, false));
    if (!pack) throw new Error('resolved nothing');
    await step('  of which: signature', () => verifyPackSignature(registry, PACK, pack.reference, pack.digest, config.policy.trustedKeys.value));
    const installed = await step('read installed.json (host)', () => readInstalled(store));
    await step('clean staging (host)', () => cleanStaging(store));
    const { digest, size } = pack.layer;
    const download = join(await mkdtemp(join(tmpdir(), 'aibox-bench-blob-')), 'layer');
    await step('download (curl into a file)', () => registry.downloadBlob(PACK, digest, size, download));
    await step('sha256 alongside decompression into a file; check; tar; rename', () =>
      placePack(store, `${PACK}-profile`, pack.version, (into) => extractLayer({ file: download, digest, size, compression: 'zstd', into, what: 'bench', source: { location: registry.location, what: 'layer' } })),
    );
    await rm(dirname(download), { recursive: true });
    await step('record installed.json + env.sh (host)', () => writeInstalled(store, installed));
    await removePackDir(store, `${PACK}-profile`, pack.version);
    for (const [name, value] of Object.entries(times)) (samples[name] ??= []).push(value);
    run++;
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}

interface RuntimeResult {
  runtime: 'gvisor' | 'runc';
  load: string;
  onePass: Record<LayerCompression, number>;
  hostExtract: Record<LayerCompression, number>;
  /** `java -version` in the sandbox, from the pack (the read cost of the toolpacks mount). */
  javaStart: number;
  install: InstallResult;
  phases: Phases;
  javaVersion: string;
}

/** What a stopped bench must undo (the finally blocks do not run when a signal ends node). */
const undo = new Set<() => Promise<unknown>>();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: cleaning up`);
    void Promise.allSettled([...undo].map((step) => step())).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

async function benchRuntime(runtime: 'gvisor' | 'runc', user: TestUser, work: string): Promise<RuntimeResult> {
  const file = (format: LayerCompression) => join(work, LAYER_FILE[format]);
  const removeSandbox = () => aibox(user, ['rm', '--volumes']);
  undo.add(removeSandbox);
  try {
    must(await aibox(user, ['start', '--runtime', runtime, '--port', String(await freePort())]), 'aibox start');
    const hostSamples = { zstd: [] as number[], gzip: [] as number[] };
    for (const format of FORMATS) hostSamples[format].push(hostExtract(work, file(format), format));
    console.error(`${runtime}: extractLayer from the layer file (load ${load()})`);
    const onePass = await onePassExtract(work);
    for (const format of FORMATS) hostSamples[format].push(hostExtract(work, file(format), format), hostExtract(work, file(format), format));
    console.error(`${runtime}: aibox install cold, warm, installed (load ${load()})`);
    const installs = await timeInstalls(user, work);
    const ssh = (command: string) => spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, command], { encoding: 'utf8' });
    const java = ssh('java -version 2>&1 | head -1');
    const javaStart = median(Array.from({ length: 5 }, () => Number(ssh('s=$(date +%s%N); java -version 2>/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))').stdout.trim()) / 1000));
    console.error(`${runtime}: the steps of a cold install (load ${load()})`);
    const phases = await profileInstall(user);
    return { runtime, load: load(), onePass, hostExtract: { zstd: median(hostSamples.zstd), gzip: median(hostSamples.gzip) }, install: installs, phases, javaVersion: java.stdout.trim() || java.stderr.trim(), javaStart };
  } finally {
    undo.delete(removeSandbox);
    await removeSandbox();
  }
}

const work = await mkdtemp(join(tmpdir(), 'aibox-bench-packs-'));
const server = await startRegistry();
const createdPolicy = !existsSync(ORG_POLICY_PATH);
let home: string | undefined;
const cleanUp = async () => {
  await untrustKey(createdPolicy);
  await server.stop();
  await rm(work, { recursive: true, force: true });
  if (home) await rm(home, { recursive: true, force: true });
};
undo.add(cleanUp);
try {
  const tree = await jdkTree(work);
  console.error(`JDK tree: ${tree.source}, ${(tree.bytes / 1e6).toFixed(0)} MB in ${tree.files} entries (load ${load()})`);
  const formats = await compareFormats(work, tree.dir);
  // One HOME: the signing key, the setting packs.registry and the host layer cache; one sandbox per runtime.
  const author = await testUser('bench-packs');
  home = author.home;
  const user = { ...author, env: { ...author.env, COSIGN_PASSWORD: 'bench' } };
  must(await aibox(user, ['pack', 'keygen', '--output-prefix', join(user.home, 'bench')]), 'aibox pack keygen');
  const published = await publishJdk(user, work, tree.dir, tree.version, `${server.ref}/bench`);
  const runtimes: RuntimeResult[] = [];
  for (const runtime of ['gvisor', 'runc'] as const) {
    const name = `${user.name}-${runtime}`;
    runtimes.push(await benchRuntime(runtime, { ...user, name, env: { ...user.env, AIBOX_INSTANCE: name } }, work));
  }

  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const report = [
    `Machine: ${await machine()}`,
    `Date: ${new Date().toISOString().slice(0, 10)}; load average at the end of each runtime: ${runtimes.map((result) => `${result.runtime} ${result.load}`).join(', ')}`,
    `Pack: ${tree.source}: ${mb(tree.bytes)} in ${tree.files} files and folders. Medians of ${RUNS}.`,
    '',
    `| layer | size | createLayer | host: raw extract | host: extractLayer (${runtimes.map((result) => `during ${result.runtime}`).join(' / ')}) |`,
    '|---|---|---|---|---|',
    ...formats.map((format) => `| ${format.compression} | ${mb(format.bytes)} (${((100 * format.bytes) / tree.bytes).toFixed(0)} %) | ${seconds(format.compress)} | ${seconds(format.hostExtract)} | ${runtimes.map((result) => seconds(result.onePass[format.compression])).join(' / ')} |`),
    '',
    `Authoring: \`aibox pack build\` ${seconds(published.build)}, \`aibox pack publish --key\` (upload to loopback, sign) ${seconds(published.publish)}.`,
    '',
    'From the host: through its command server (the launcher), as after the first install of a session; "no server": AIBOX_NO_SERVER=1, the whole bundle loaded per command.',
    '',
    '| runtime | install cold | raw host extract (zstd) | cold / raw | raw host extract (tar -xzf) | install warm (layer cached) | install, already installed | no server: cold (cold / raw), already installed | from inside: cold (cold / raw) [through ssh] | from inside: already installed [through ssh] |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...runtimes.map(({ runtime, install: times }) => `| ${runtime} | ${seconds(times.cold)} | ${seconds(times.rawZstd)} | **${(times.cold / times.rawZstd).toFixed(2)}×** | ${seconds(times.rawGzip)} | ${seconds(times.warm)} | ${seconds(times.installed)} | ${seconds(times.coldNode)} (${(times.coldNode / times.rawZstd).toFixed(2)}×), ${seconds(times.installedNode)} | ${seconds(times.insideCold)} (${(times.insideCold / times.rawZstd).toFixed(2)}×) [${seconds(times.insideColdSsh)}] | ${seconds(times.insideInstalled)} [${seconds(times.insideInstalledSsh)}] |`),
    '',
    `| step of a cold install | ${runtimes.map((result) => result.runtime).join(' | ')} |`,
    `|---|${runtimes.map(() => '---|').join('')}`,
    ...Object.keys(runtimes[0]?.phases ?? {}).map((phase) => `| ${phase} | ${runtimes.map((result) => seconds(result.phases[phase] ?? 0)).join(' | ')} |`),
    '',
    `java -version in the sandbox: ${runtimes.map((result) => `${result.runtime}: ${result.javaVersion}, ${seconds(result.javaStart)} (median of 5)`).join('; ')}`,
  ].join('\n');
  console.log(report);
  await mkdir('bench/results', { recursive: true });
  const results = { machine: await machine(), date: new Date().toISOString(), runs: RUNS, tree: { source: tree.source, bytes: tree.bytes, files: tree.files }, formats, authoring: published, runtimes };
  await writeFile('bench/results/packs-latest.json', `${JSON.stringify(results, null, 2)}\n`);
} finally {
  undo.delete(cleanUp);
  await cleanUp();
}
