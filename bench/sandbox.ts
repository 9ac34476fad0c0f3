/**
 * Sandbox speed benchmark (not a test): SSH reconnect, stopped → first ssh, and
 * a file-heavy build (`npm ci --offline` of bench/fixtures/npm-project) as a
 * ratio against the host measured in the same run. Prints a Markdown report
 * for docs/performance.md and writes bench/results/latest.json.
 *
 *   npm run bench                            # all variants
 *   AIBOX_BENCH_FLAGS=only npm run bench     # only the runsc releases and flags
 *   AIBOX_BENCH_FLAGSETS=default ...         # only aibox's flags under each release
 *   AIBOX_BENCH_FLAGSETS=seccomp ...         # aibox's flags, and the same without --oci-seccomp
 *   AIBOX_BENCH_FLAGSETS=workspace ...       # aibox's flags, the workspace on a volume and on a tmpfs
 *   AIBOX_BENCH_RUNSC=20240729 ...           # only that runsc release's flag sets
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aibox, freePort, host, testUser, type TestUser } from '../test/helpers/cli.js';
import { gvisorSetup, RUNSC_DIRECTFS_RELEASE } from '../src/sandbox/runtime.js';
import { runscReleases, type Runsc } from '../test/helpers/runsc.js';
import { load, machine, median, must, seconds, timed } from './common.js';

const RECONNECTS = 20;
const COLD_STARTS = 5;
const BUILDS = 5;
const FLAG_BUILDS = 3;
const BUILD_TIMEOUT = 600_000;
const FIXTURE = resolve('bench/fixtures/npm-project');
const IMAGE_DIR = '/workspace/bench';

async function npmDir(): Promise<string> {
  const npm = execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  return dirname(dirname(await realpath(npm)));
}

/** A project copy, a warm npm cache, and the npm to run inside the sandbox. */
async function prepare(): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'aibox-bench-'));
  await cp(FIXTURE, join(work, 'project'), { recursive: true });
  hostNpm(work, ['ci'], 'project'); // fills the cache (online, once)
  await rm(join(work, 'project', 'node_modules'), { recursive: true, force: true });
  await cp(await npmDir(), join(work, 'npm'), { recursive: true });
  return work;
}

function hostNpm(work: string, args: string[], project = 'hostcopy'): void {
  must(host('npm', ['--prefix', join(work, project), ...args, '--cache', join(work, 'cache'), '--ignore-scripts', '--no-audit', '--no-fund'], undefined, BUILD_TIMEOUT), 'host npm ci');
}

const BUILD_COMMAND = `cd ${IMAGE_DIR}/project && rm -rf node_modules && /opt/aibox/node/bin/node ${IMAGE_DIR}/npm/bin/npm-cli.js ci --offline --cache ${IMAGE_DIR}/cache --ignore-scripts --no-audit --no-fund >/dev/null`;

interface BuildTimes {
  host: number;
  sandbox: number;
  ratio: number;
}

/**
 * Alternates host and sandbox builds so both see the same machine state (this
 * VM's disk speed drifts by 2x over minutes), and compares the medians.
 */
async function timeBuilds(work: string, exec: (command: string) => { code: number; stderr: string }, builds = BUILDS): Promise<BuildTimes> {
  const hostSeconds: number[] = [];
  const sandboxSeconds: number[] = [];
  await cp(join(work, 'project'), join(work, 'hostcopy'), { recursive: true });
  for (let run = 0; run < builds; run++) {
    await rm(join(work, 'hostcopy', 'node_modules'), { recursive: true, force: true });
    hostSeconds.push(timed(() => hostNpm(work, ['ci', '--offline'])));
    sandboxSeconds.push(timed(() => must(exec(BUILD_COMMAND), 'sandbox npm ci')));
  }
  await rm(join(work, 'hostcopy'), { recursive: true, force: true });
  const hostMedian = median(hostSeconds);
  const sandboxMedian = median(sandboxSeconds);
  return { host: hostMedian, sandbox: sandboxMedian, ratio: sandboxMedian / hostMedian };
}

function copyIn(work: string, exec: (args: string[], input: Buffer) => void): void {
  const tar = execFileSync('tar', ['-C', work, '-c', 'project', 'cache', 'npm'], { maxBuffer: 1 << 30 });
  exec(['sh', '-c', `mkdir -p ${IMAGE_DIR} && tar -x -C ${IMAGE_DIR}`], tar);
}

interface AiboxResult {
  variant: string;
  reconnect: number;
  reconnectNoMux: number;
  coldStart: number;
  build: BuildTimes;
}

async function benchAibox(runtime: 'gvisor' | 'runc', work: string): Promise<AiboxResult> {
  const user: TestUser = await testUser(`bench-${runtime}`);
  const sshConfig = join(user.home, '.ssh', 'config');
  const ssh = (args: string[], input?: Buffer) => spawnSync('ssh', ['-F', sshConfig, ...args], { input, maxBuffer: 1 << 30, encoding: 'buffer' });
  try {
    must(await aibox(user, ['start', '--runtime', runtime, '--port', String(await freePort())]), 'aibox start');
    ssh([user.name, 'true']);
    const reconnect = median(Array.from({ length: RECONNECTS }, () => timed(() => ssh([user.name, 'true']))));
    const reconnectNoMux = median(Array.from({ length: RECONNECTS }, () => timed(() => ssh(['-o', 'ControlPath=none', user.name, 'true']))));
    const cold: number[] = [];
    for (let run = 0; run < COLD_STARTS; run++) {
      must(await aibox(user, ['stop']), 'aibox stop');
      const start = performance.now();
      must(await aibox(user, ['start']), 'aibox start');
      const result = ssh([user.name, 'true']);
      if (result.status !== 0) throw new Error(`first ssh failed: ${result.stderr}`);
      cold.push((performance.now() - start) / 1000);
    }
    copyIn(work, (args, input) => {
      const result = ssh([user.name, args.map((arg) => `'${arg}'`).join(' ')], input);
      if (result.status !== 0) throw new Error(`copy failed: ${result.stderr}`);
    });
    const build = await timeBuilds(work, (command) => {
      const result = ssh([user.name, command]);
      return { code: result.status ?? 1, stderr: result.stderr.toString() };
    });
    return { variant: `aibox ${runtime}`, reconnect, reconnectNoMux, coldStart: median(cold), build };
  } finally {
    await aibox(user, ['rm', '--volumes']);
  }
}

/** runsc flags, and where the workspace lives: a named volume (as in aibox), or a tmpfs in the sandbox's memory. */
interface FlagSet {
  flags: string[];
  workspace: 'volume' | 'tmpfs';
}

/** gVisor flag variants on plain podman with the aibox image, to choose the default flags. */
async function benchGvisorFlags(runsc: Runsc, { flags, workspace }: FlagSet, work: string, image: string): Promise<BuildTimes> {
  const name = `aibox-bench-flags-${process.pid}`;
  const wrapper = join(work, 'runsc-variant');
  await writeFile(wrapper, `#!/bin/sh\nexec ${runsc.path} ${flags.join(' ')} "$@"\n`, { mode: 0o755 });
  const volume = `${name}-ws`;
  const mount = workspace === 'tmpfs' ? ['--tmpfs', '/workspace:rw,exec,size=4g,mode=1777'] : ['-v', `${volume}:/workspace`];
  must(host('podman', ['run', '-d', '--name', name, '--runtime', wrapper, '--user', '1000:1000', '--read-only', '--cap-drop', 'ALL', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=8192:8192', ...mount, image, 'sleep', 'infinity']), 'podman run');
  try {
    copyIn(work, (args, input) => {
      const result = spawnSync('podman', ['exec', '-i', name, ...args], { input, maxBuffer: 1 << 30 });
      if (result.status !== 0) throw new Error(`copy failed: ${result.stderr}`);
    });
    return await timeBuilds(work, (command) => host('podman', ['exec', name, 'sh', '-c', command], undefined, BUILD_TIMEOUT), FLAG_BUILDS);
  } finally {
    host('podman', ['rm', '-f', name]);
    host('podman', ['volume', 'rm', '-f', volume]);
  }
}

/**
 * The flag sets measured under each runsc release (AIBOX_BENCH_FLAGS=only skips the aibox
 * runs): aibox's default first, then one change each, so every ratio says what one flag does.
 */
function flagSets(release: number): FlagSet[] {
  const base = gvisorSetup(release).flags;
  const sets = (...flags: string[][]) => flags.map((set): FlagSet => ({ flags: set, workspace: 'volume' }));
  if (process.env.AIBOX_BENCH_FLAGSETS === 'default') return sets(base);
  // Without podman's default seccomp profile, which gVisor applies inside the sandbox (runc on the host).
  const noSeccomp = base.filter((flag) => flag !== '--oci-seccomp');
  if (process.env.AIBOX_BENCH_FLAGSETS === 'seccomp') return sets(base, noSeccomp);
  // The build's files in the sandbox's memory: what gVisor costs without its gofer, and what a stop loses.
  const inMemory: FlagSet = { flags: base, workspace: 'tmpfs' };
  if (process.env.AIBOX_BENCH_FLAGSETS === 'workspace') return [...sets(base), inMemory];
  if (release < RUNSC_DIRECTFS_RELEASE) return sets(['--network=host'], base, noSeccomp);
  return [
    ...sets(
      base,
      [...base, '--file-access-mounts=exclusive'],
      [...base, '--directfs=false'],
      [...base, '--platform=ptrace'],
      [...base, '--overlay2=none'],
      [...base, '--dcache=10000'],
      noSeccomp,
    ),
    inMemory,
  ];
}

const work = await prepare();
const results: AiboxResult[] = [];
if (process.env.AIBOX_BENCH_FLAGS !== 'only') for (const runtime of ['gvisor', 'runc'] as const) results.push(await benchAibox(runtime, work));
const image = 'localhost/aibox:latest'; // tagged by every build: the image the runs above used
const flagVariants: (FlagSet & { runsc: number; build: BuildTimes | string })[] = [];
const onlyRelease = Number(process.env.AIBOX_BENCH_RUNSC) || undefined;
for (const runsc of await runscReleases()) {
  if (onlyRelease && runsc.release !== onlyRelease) continue;
  for (const set of flagSets(runsc.release)) {
    const what = `runsc ${runsc.release} ${set.flags.join(' ')} (workspace: ${set.workspace})`;
    // A variant whose build fails (--dcache=10000 ran out of file descriptors) is reported, not fatal.
    const build = await benchGvisorFlags(runsc, set, work, image).catch((error: unknown) => String(error).split('\n')[0] ?? 'failed');
    console.error(`${what}: ${typeof build === 'string' ? build : `${build.ratio.toFixed(2)}×`} (load ${load()})`);
    flagVariants.push({ runsc: runsc.release, ...set, build });
  }
}
await rm(work, { recursive: true, force: true });

const build = (times: BuildTimes | string) => (typeof times === 'string' ? `failed: ${times} | | ` : `${seconds(times.sandbox)} | ${seconds(times.host)} | **${times.ratio.toFixed(2)}×**`);
const report = [
  `Machine: ${await machine()}`,
  `Date: ${new Date().toISOString().slice(0, 10)}`,
  '',
  `| variant | reconnect (median of ${RECONNECTS}) | reconnect, no multiplexing | stopped → first ssh (median of ${COLD_STARTS}) | npm ci --offline in sandbox | same on host (interleaved) | sandbox / host |`,
  '|---|---|---|---|---|---|---|',
  ...results.map((result) => `| ${result.variant} | ${seconds(result.reconnect)} | ${seconds(result.reconnectNoMux)} | ${seconds(result.coldStart)} | ${build(result.build)} |`),
  '',
  `| runsc | flags (plain podman, ${image}; median of ${FLAG_BUILDS}) | workspace | npm ci --offline in sandbox | same on host | sandbox / host |`,
  '|---|---|---|---|---|---|',
  ...flagVariants.map((variant) => `| ${variant.runsc} | \`${variant.flags.join(' ')}\` | ${variant.workspace === 'tmpfs' ? 'tmpfs (memory)' : 'named volume'} | ${build(variant.build)} |`),
].join('\n');
console.log(report);
await mkdir('bench/results', { recursive: true });
// A flags-only run keeps its own file, so it does not replace the last full run's.
await writeFile(process.env.AIBOX_BENCH_FLAGS === 'only' ? 'bench/results/gvisor-flags-latest.json' : 'bench/results/latest.json', `${JSON.stringify({ machine: await machine(), date: new Date().toISOString(), results, flagVariants }, null, 2)}\n`);
