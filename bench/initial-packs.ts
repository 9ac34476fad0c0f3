/**
 * Initial packs benchmark (not a test), in one run, under gVisor and runc:
 * - `aibox install java@21` end to end (packs/java-21, built from its recipe) from a loopback
 *   registry (docker-registry) into a running sandbox: cold (empty host layer cache, not
 *   installed) and warm (layer cached, uninstalled first);
 * - the e2e test's builds inside the sandbox against the same builds on the host, with the
 *   same pack binaries (the java-21 and node-20 layers extracted on the host), alternated so
 *   both see the same machine state: `mvn -o compile` of a small project from the seeded
 *   Maven cache (test/fixtures/maven-seed) of test/fixtures/maven-demo, and `npm ci --offline` of
 *   bench/fixtures/npm-project from a filled npm cache, both in /workspace.
 * Prints a Markdown report for docs/performance.md and writes
 * bench/results/initial-packs-latest.json. Medians of RUNS.
 *
 *   npm run bench:initial-packs
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ORG_POLICY_PATH } from '../src/policy/load.js';
import { aibox, freePort, testUser, type TestUser } from '../test/helpers/cli.js';
import { builtPack } from '../test/helpers/packs.js';
import { startRegistry } from '../test/helpers/registry.js';
import { load, machine, median, must, seconds, timed, timedAsync } from './common.js';

const RUNS = 3;
const IN_SANDBOX = '/workspace/bench';

/** A shell command on the host; throws with its output when it fails. */
function sh(command: string): string {
  const result = spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 900_000, maxBuffer: 256 << 20 });
  must({ code: result.status ?? 1, stderr: `${result.stdout}${result.stderr ?? String(result.error)}` }, command);
  return result.stdout;
}

/** The same build, on the host and in the sandbox: DIR is the bench folder on either side. */
const BUILDS: Record<string, (dir: string) => string> = {
  'mvn -o compile': (dir) => `cd ${dir}/maven-demo && rm -rf target && JAVA_HOME=${dir}/java/jdk ${dir}/java/maven/bin/mvn -o -B -q -Dmaven.repo.local=${dir}/m2 compile`,
  'npm ci --offline': (dir) => `cd ${dir}/npm-project && rm -rf node_modules && ${dir}/node/bin/node ${dir}/node/lib/node_modules/npm/bin/npm-cli.js ci --offline --cache ${dir}/npm-cache --ignore-scripts --no-audit --no-fund >/dev/null`,
};

/** The bench folder: both packs extracted, the Maven seed, the two projects and a filled npm cache. */
async function benchFolder(user: TestUser, dir: string, java: string, node: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, pack] of [['java', java], ['node', node]] as const) sh(`mkdir -p ${dir}/${name} && zstd -dc ${pack}/.pack/layer.tar.zst | tar -x -C ${dir}/${name}`);
  const seed = await builtPack(user, 'maven-seed', resolve('test/fixtures'));
  sh(`mkdir -p ${dir}/m2 && zstd -dc ${seed}/.pack/layer.tar.zst | tar -x -C ${dir}/m2 --strip-components=2 ./repository`);
  await cp(resolve('test/fixtures/maven-demo'), join(dir, 'maven-demo'), { recursive: true });
  await cp(resolve('bench/fixtures/npm-project'), join(dir, 'npm-project'), { recursive: true });
  // Online once, with the pack's npm and this machine's registry: fills the cache both sides build from.
  sh(`cd ${dir}/npm-project && ${dir}/node/bin/node ${dir}/node/lib/node_modules/npm/bin/npm-cli.js ci --cache ${dir}/npm-cache --ignore-scripts --no-audit --no-fund >/dev/null && rm -rf node_modules`);
}

interface RuntimeResult {
  runtime: 'gvisor' | 'runc';
  load: string;
  install: { cold: number; warm: number };
  builds: Record<string, { host: number; sandbox: number; ratio: number }>;
}

async function benchRuntime(runtime: RuntimeResult['runtime'], user: TestUser, hostDir: string): Promise<RuntimeResult> {
  const ssh = (command: string) => `ssh -F ${join(user.home, '.ssh', 'config')} ${user.name} '${command.replace(/'/g, `'\\''`)}'`;
  try {
    must(await aibox(user, ['start', '--runtime', runtime, '--port', String(await freePort())]), 'aibox start');
    // The same folder in the sandbox (packs extracted into /workspace, not installed: the build is measured, not PATH).
    sh(`tar -C ${hostDir} -c . | ${ssh(`mkdir -p ${IN_SANDBOX} && tar -x -C ${IN_SANDBOX}`)}`);

    console.error(`${runtime}: aibox install java@21, cold and warm (load ${load()})`);
    const cold: number[] = [];
    const warm: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await rm(join(user.home, '.cache', 'aibox', 'blobs'), { recursive: true, force: true });
      cold.push(await timedAsync(async () => must(await aibox(user, ['install', 'java@21']), 'aibox install (cold)')));
      must(await aibox(user, ['uninstall', 'java']), 'aibox uninstall');
      warm.push(await timedAsync(async () => must(await aibox(user, ['install', 'java@21']), 'aibox install (warm)')));
      must(await aibox(user, ['uninstall', 'java']), 'aibox uninstall');
    }

    const builds: RuntimeResult['builds'] = {};
    for (const [label, command] of Object.entries(BUILDS)) {
      console.error(`${runtime}: ${label}, host and sandbox alternated (load ${load()})`);
      const hostTimes: number[] = [];
      const sandboxTimes: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        hostTimes.push(timed(() => sh(command(hostDir))));
        // Timed inside, so the ssh connection is not counted.
        sandboxTimes.push(Number(sh(ssh(`s=$(date +%s%N); ${command(IN_SANDBOX)}; echo $(( ($(date +%s%N) - s) / 1000000 ))`)).trim().split('\n').pop()) / 1000);
      }
      builds[label] = { host: median(hostTimes), sandbox: median(sandboxTimes), ratio: median(sandboxTimes) / median(hostTimes) };
    }
    return { runtime, load: load(), install: { cold: median(cold), warm: median(warm) }, builds };
  } finally {
    await aibox(user, ['rm', '--volumes']);
  }
}

const work = await mkdtemp(join(tmpdir(), 'aibox-bench-initial-'));
const server = await startRegistry();
const savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
const author = await testUser('bench-initial');
const user = { ...author, env: { ...author.env, COSIGN_PASSWORD: 'bench' } };
try {
  must(await aibox(user, ['pack', 'keygen', '--output-prefix', join(user.home, 'bench')]), 'aibox pack keygen');
  must(await aibox(user, ['config', 'set', 'packs.registry', `${server.ref}/bench`]), 'aibox config set');
  const [java, node] = [await builtPack(user, 'java-21'), await builtPack(user, 'node-20')];
  must(await aibox(user, ['pack', 'publish', java, '--key', join(user.home, 'bench.key')]), 'aibox pack publish');
  await mkdir('/etc/aibox', { recursive: true });
  await writeFile(ORG_POLICY_PATH, stringify({ version: 1, packs: { trusted_keys: [{ name: 'bench', key: await readFile(join(user.home, 'bench.pub'), 'utf8') }], allowed: ['*'] } }));
  const hostDir = join(work, 'bench');
  await benchFolder(user, hostDir, java, node);

  const runtimes: RuntimeResult[] = [];
  for (const runtime of ['gvisor', 'runc'] as const) {
    const name = `${user.name}-${runtime}`;
    runtimes.push(await benchRuntime(runtime, { ...user, name, env: { ...user.env, AIBOX_INSTANCE: name } }, hostDir));
  }
  const layerMb = (Number(sh(`stat -c %s ${java}/.pack/layer.tar.zst`)) / 1e6).toFixed(0);
  const report = [
    `Machine: ${await machine()}`,
    `Date: ${new Date().toISOString().slice(0, 10)}; load average at the end of each runtime: ${runtimes.map((result) => `${result.runtime} ${result.load}`).join(', ')}. Medians of ${RUNS}.`,
    '',
    `| runtime | \`aibox install java@21\` cold (${layerMb} MB layer) | warm (layer cached) | ${Object.keys(BUILDS).map((label) => `${label}: host / sandbox / ratio`).join(' | ')} |`,
    `|---|---|---|${Object.keys(BUILDS).map(() => '---|').join('')}`,
    ...runtimes.map(({ runtime, install, builds }) => `| ${runtime} | ${seconds(install.cold)} | ${seconds(install.warm)} | ${Object.values(builds).map((times) => `${seconds(times.host)} / ${seconds(times.sandbox)} / **${times.ratio.toFixed(2)}×**`).join(' | ')} |`),
  ].join('\n');
  console.log(report);
  await mkdir('bench/results', { recursive: true });
  await writeFile('bench/results/initial-packs-latest.json', `${JSON.stringify({ machine: await machine(), date: new Date().toISOString(), runs: RUNS, runtimes }, null, 2)}\n`);
} finally {
  if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
  else await writeFile(ORG_POLICY_PATH, savedPolicy);
  await server.stop();
  await rm(work, { recursive: true, force: true });
  await rm(user.home, { recursive: true, force: true });
}
