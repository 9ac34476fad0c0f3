/**
 * Compatibility matrix (not a test, but CI runs it through test/e2e/compat.test.ts): one
 * sandbox per runtime (gVisor, runc), the tools the image lacks copied in from the host,
 * then each check of bench/compat/ run inside. Writes the table to docs/compatibility.md and
 * the raw results to bench/results/compat-latest.json (or both into `--out DIR`).
 *
 *   npm run bench:compat [-- --out DIR] [-- --only ID,ID]
 *
 * Sizes (the defaults are the issue's; CI runs smaller ones, see test/e2e/compat.test.ts):
 * GIT_FILES, the large repository's files (50000); INOTIFY_SIDE, the watched tree's
 * folders per level, SIDE x SIDE in all (100); FILE_MIB, the big file (2048).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { aibox, freePort, host, testUser, type TestUser } from '../test/helpers/cli.js';
import { load } from './common.js';
import { CHECKS, type Check, type RuntimeResults } from './compat/checks.js';
import { parseCheckOutput, renderMarkdown, RUNTIMES, type CompatReport, type Environment, type Runtime } from './compat/report.js';
import { prepareTools } from './compat/tools.js';

const SCRIPTS = resolve('bench/compat');

async function environment(): Promise<Environment> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const runscPath = host('sh', ['-c', 'command -v runsc']).stdout.trim();
  return {
    date: new Date().toISOString().slice(0, 10),
    runsc: host('runsc', ['--version']).stdout.split('\n')[0]?.trim() || 'runsc not found',
    runscPath: runscPath || 'not on PATH',
    podman: host('podman', ['--version']).stdout.trim(),
    kernel: release(),
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    nofileHard: /^Max open files\s+\S+\s+(\S+)/m.exec(limits)?.[1] ?? 'unknown',
    node: process.version,
  };
}

function ssh(user: TestUser, command: string, input: string, timeoutSeconds: number) {
  return spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, command], {
    input,
    encoding: 'utf8',
    timeout: timeoutSeconds * 1000,
    killSignal: 'SIGKILL',
    maxBuffer: 16 << 20,
  });
}

async function runCheck(user: TestUser, check: Check, prelude: string) {
  const script = await readFile(join(SCRIPTS, `${check.id}.sh`), 'utf8');
  const started = performance.now();
  const size = (name: string, fallback: number) => `${name}=${Number(process.env[name] ?? fallback)}`;
  const env = `CHECK=${check.id} ${size('GIT_FILES', 50000)} ${size('INOTIFY_SIDE', 100)} ${size('FILE_MIB', 2048)}`;
  const ran = ssh(user, `${env} bash -s`, `${prelude}\n${script}`, check.timeoutSeconds + 30);
  const seconds = (performance.now() - started) / 1000;
  const timedOut = ran.error !== undefined && 'code' in ran.error && ran.error.code === 'ETIMEDOUT';
  return parseCheckOutput(ran.stdout ?? '', ran.stderr ?? '', { code: ran.status, timedOut, timeoutSeconds: check.timeoutSeconds + 30 }, seconds);
}

async function runRuntime(runtime: Runtime, tools: string, checks: readonly Check[]): Promise<{ results: RuntimeResults; seconds: number }> {
  const started = performance.now();
  const user = await testUser(`compat-${runtime}`);
  const results: RuntimeResults = {};
  try {
    const start = await aibox(user, ['start', '--runtime', runtime, '--port', String(await freePort())]);
    if (start.code !== 0) throw new Error(`aibox start --runtime ${runtime}: ${start.stderr.trim()}`);
    const copy = spawnSync('sh', ['-c', `tar -C "$1" --exclude=./usr/share/man --exclude=./usr/share/doc --exclude=./usr/share/locale -c . | ssh -F "$2" "$3" 'mkdir -p /tmp/compat-tools && tar -C /tmp/compat-tools -x'`, 'sh', tools, join(user.home, '.ssh', 'config'), user.name], { encoding: 'utf8' });
    if (copy.status !== 0) throw new Error(`copying the tools into the ${runtime} sandbox: ${copy.stderr.trim()}`);
    const prelude = await readFile(join(SCRIPTS, 'prelude.sh'), 'utf8');
    for (const check of checks) {
      const result = await runCheck(user, check, prelude);
      results[check.id] = result;
      console.error(`${runtime} ${check.id}: ${result.outcome}${result.metric ? ` (${result.metric})` : ''}${result.outcome === 'works' ? '' : `: ${result.detail}`} [${result.seconds.toFixed(1)} s]`);
    }
  } finally {
    await aibox(user, ['rm', '--volumes']);
    await rm(user.home, { recursive: true, force: true });
  }
  return { results, seconds: (performance.now() - started) / 1000 };
}

const { values } = parseArgs({ options: { out: { type: 'string' }, only: { type: 'string' } } });
const only = values.only?.split(',');
const checks = only ? CHECKS.filter((check) => only.includes(check.id)) : CHECKS;
const work = await mkdtemp(join(tmpdir(), 'aibox-compat-'));
try {
  const tools = await prepareTools(work);
  const report: CompatReport = {
    environment: await environment(),
    checks: checks.map(({ id, title }) => ({ id, title })),
    results: { gvisor: {}, runc: {} },
    seconds: { gvisor: 0, runc: 0 },
    load: { gvisor: '', runc: '' },
  };
  for (const runtime of RUNTIMES) {
    const { results, seconds } = await runRuntime(runtime, tools, checks);
    report.results[runtime] = results;
    report.seconds[runtime] = seconds;
    report.load[runtime] = load();
  }
  const docs = values.out ?? 'docs';
  const results = values.out ?? 'bench/results';
  await mkdir(docs, { recursive: true });
  await mkdir(results, { recursive: true });
  await writeFile(join(docs, 'compatibility.md'), renderMarkdown(report, checks));
  await writeFile(join(results, 'compat-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(renderMarkdown(report, checks));
} finally {
  await rm(work, { recursive: true, force: true });
}
