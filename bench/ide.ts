/**
 * code-server first paint benchmark (not a test): the `code-server` pack in a gVisor
 * sandbox, reached from headless Chromium through `aibox port-forward`, against the same
 * pack folder run straight on the host (its Node 20, no sandbox, no forward) as the
 * baseline.
 *
 * Set-up as test/e2e/ide-code-server.test.ts does it: node@20 and code-server built from
 * their recipes (once per recipe content, test/helpers/packs.ts), signed with a fresh key,
 * published to an OCI layout folder (packs.registry), allowed by an org policy with no
 * egress; `aibox install code-server`; `code-server /workspace` started as docs/vscode.md
 * says; `aibox port-forward LOCAL:13337`.
 *
 * Measured per run, each in a fresh browser context (no cache, no cookie), from submitting
 * the password on the login page: until `.monaco-workbench` is visible (first paint), and
 * until the explorer lists a file of the opened folder (the extension host is up). RUNS
 * runs, sandbox and host alternating, so load drift hits both; medians reported. The
 * first run of each is also the server's first page.
 *
 * Prints a Markdown report for docs/performance.md; raw numbers go to
 * bench/results/ide-latest.json.
 *
 * It writes /etc/aibox/policy.yaml (the org layer) and puts back what was there in a
 * finally block, as the e2e tests do. On a machine shared with other runs that also write
 * it, run it in a private mount of /etc/aibox:
 *
 *   npm run build && unshare --mount --propagation unchanged sh -c \
 *     'mkdir -p /tmp/aibox-etc && mount --bind /tmp/aibox-etc /etc/aibox && node build/bench/ide.js'
 *
 * or `npm run bench:ide` on a machine of one's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import { stringify } from 'yaml';
import { ORG_POLICY_PATH } from '../src/policy/load.js';
import { aibox, freePort, host, sshTo, testUser, type TestUser } from '../test/helpers/cli.js';
import { publishInitialPacks } from '../test/helpers/packs.js';
import { load, machine, median, must } from './common.js';

const RUNS = 3;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SANDBOX_PORT = 13337;
const START = 'setsid -f code-server /workspace > /tmp/code-server.log 2>&1 < /dev/null';
const FILE = 'code-server-bench.txt';

interface Paint {
  /** Seconds from the login's submit to `.monaco-workbench`. */
  workbench: number;
  /** Seconds from the login's submit to the explorer listing FILE. */
  explorer: number;
  load: string;
}

async function aiboxMust(user: TestUser, args: string[]): Promise<string> {
  const result = await aibox(user, args);
  must(result, `aibox ${args.join(' ')}`);
  return result.stdout;
}

async function waitForHealth(site: string, what: () => string): Promise<void> {
  const deadline = Date.now() + 180_000;
  while ((await fetch(`${site}/healthz`).catch(() => undefined))?.ok !== true) {
    if (Date.now() > deadline) throw new Error(`code-server did not answer on ${site}: ${what()}`);
    await sleep(250);
  }
}

/** One login in a fresh browser context: the seconds to the workbench and to the explorer's file. */
async function paintOnce(browser: Browser, site: string, password: string): Promise<Paint> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${site}/login`);
    await page.locator('input[type=password]').fill(password);
    const submitted = performance.now();
    await page.locator('input[type=password]').press('Enter');
    await page.locator('.monaco-workbench').waitFor({ timeout: 180_000 });
    const workbench = (performance.now() - submitted) / 1000;
    await page.locator('.explorer-folders-view').getByText(FILE).waitFor({ timeout: 180_000 });
    const explorer = (performance.now() - submitted) / 1000;
    return { workbench, explorer, load: load() };
  } finally {
    await context.close();
  }
}

const savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
const user = await testUser('bench-ide');
user.env.COSIGN_PASSWORD = 'bench code-server';
let browser: Browser | undefined;
let hostServer: ChildProcess | undefined;
const sandbox: Paint[] = [];
const onHost: Paint[] = [];
const setup: Record<string, number> = {};
let hostSkipped: string | undefined;
try {
  await aiboxMust(user, ['pack', 'keygen', '--output-prefix', join(user.home, 'platform')]);
  await aiboxMust(user, ['config', 'set', 'packs.registry', join(user.home, 'layout')]);
  await mkdir('/etc/aibox', { recursive: true });
  await writeFile(ORG_POLICY_PATH, stringify({ version: 1, packs: { trusted_keys: [{ name: 'bench', key: await readFile(join(user.home, 'platform.pub'), 'utf8') }], allowed: ['node@20.*', 'code-server@4.*'] } }));

  const started = aibox(user, ['start', '--runtime', 'gvisor', '--port', String(await freePort())]);
  await publishInitialPacks(user, ['node-20', 'code-server'], join(user.home, 'platform.key'));
  must(await started, 'aibox start --runtime gvisor');
  let clock = performance.now();
  const installed: { packs: { name: string; version: string; outcome: string }[] } = JSON.parse(await aiboxMust(user, ['install', 'code-server', '--json']));
  setup.install = (performance.now() - clock) / 1000;
  const version = installed.packs.find((pack) => pack.name === 'code-server')?.version ?? '';

  must(sshTo(user, `echo "hello from the sandbox" > /workspace/${FILE}`), 'a file in /workspace');
  await aiboxMust(user, ['exec', '--', 'sh', '-c', START]);
  const local = await freePort();
  clock = performance.now();
  await aiboxMust(user, ['port-forward', `${local}:${SANDBOX_PORT}`]);
  setup.portForward = (performance.now() - clock) / 1000;
  const site = `http://127.0.0.1:${local}`;
  await waitForHealth(site, () => sshTo(user, 'cat /tmp/code-server.log').stdout);
  setup.healthz = (performance.now() - clock) / 1000;
  const password = (await aiboxMust(user, ['exec', '--', 'sed', '-n', 's/^password: //p', '.config/code-server/config.yaml'])).trim();

  // The baseline: the very folder aibox installed, from the packs volume on the host.
  const volume = host('podman', ['volume', 'inspect', '--format', '{{.Mountpoint}}', `${user.name}-toolpacks`]).stdout.trim();
  const entry = join(volume, 'code-server', version, 'lib/node_modules/code-server/out/node/entry.js');
  let hostSite: string | undefined;
  if (!existsSync(entry)) hostSkipped = `no ${entry} on the host`;
  else if (!process.version.startsWith('v20.')) hostSkipped = `the host's Node is ${process.version}, code-server ${version} needs 20`;
  else {
    const hostPort = await freePort();
    const dir = join(user.home, 'host-code-server');
    await mkdir(join(dir, 'workspace'), { recursive: true });
    await writeFile(join(dir, 'workspace', FILE), 'hello from the host\n');
    hostServer = spawn(process.execPath, [entry, '--bind-addr', `127.0.0.1:${hostPort}`, '--auth', 'password', '--user-data-dir', join(dir, 'data'), '--extensions-dir', join(dir, 'extensions'), '--config', join(dir, 'config.yaml'), '--disable-telemetry', '--disable-update-check', '--disable-getting-started-override', join(dir, 'workspace')], {
      env: { ...user.env, HOME: dir, PASSWORD: password, EXTENSIONS_GALLERY: '{}' },
      stdio: 'ignore',
      detached: true, // its own process group: the extension hosts it forks end with it
    });
    hostSite = `http://127.0.0.1:${hostPort}`;
    await waitForHealth(hostSite, () => `exit code ${hostServer?.exitCode}`);
  }

  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  for (let i = 0; i < RUNS; i++) {
    sandbox.push(await paintOnce(browser, site, password));
    if (hostSite) onHost.push(await paintOnce(browser, hostSite, password));
    console.error(`run ${i + 1}: sandbox ${JSON.stringify(sandbox.at(-1))}, host ${JSON.stringify(onHost.at(-1))}`);
  }
} finally {
  await browser?.close();
  if (hostServer?.pid) process.kill(-hostServer.pid, 'SIGTERM');
  await aibox(user, ['rm', '--volumes']);
  await rm(user.home, { recursive: true, force: true });
  if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
  else await writeFile(ORG_POLICY_PATH, savedPolicy);
}

const s = (values: number[]) => `${median(values).toFixed(1)} s`;
const each = (values: number[]) => values.map((value) => value.toFixed(1)).join(', ');
const about = await machine();
console.log(`Machine: ${about}\nDate: ${new Date().toISOString().slice(0, 10)}\n`);
console.log(`| what (median of ${RUNS}; each run in brackets) | gVisor sandbox, through \`aibox port-forward\` | host, no sandbox, no forward |\n|---|---|---|`);
const base = (pick: (paint: Paint) => number) => (onHost.length ? `${s(onHost.map(pick))} (${each(onHost.map(pick))})` : '—');
console.log(`| **first paint: login submitted → \`.monaco-workbench\`** | **${s(sandbox.map((p) => p.workbench))}** (${each(sandbox.map((p) => p.workbench))}) | ${base((p) => p.workbench)} |`);
console.log(`| … → the explorer lists the opened folder's file (extension host up) | ${s(sandbox.map((p) => p.explorer))} (${each(sandbox.map((p) => p.explorer))}) | ${base((p) => p.explorer)} |`);
console.log(`\nSet-up, once: \`aibox install code-server\` (and node@20) ${setup.install?.toFixed(1)} s; \`aibox port-forward\` ${setup.portForward?.toFixed(1)} s; → \`/healthz\` through the forward ${setup.healthz?.toFixed(1)} s.`);
console.log(`1-minute load after each run: sandbox ${sandbox.map((p) => p.load).join(', ')}; host ${onHost.map((p) => p.load).join(', ') || '—'}`);
if (hostSkipped) console.log(`No host baseline: ${hostSkipped}.`);
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/ide-latest.json', `${JSON.stringify({ machine: about, date: new Date().toISOString(), runs: RUNS, sandbox, host: onHost, hostSkipped, setup }, null, 2)}\n`);
