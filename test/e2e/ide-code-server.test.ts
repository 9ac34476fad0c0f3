/**
 * The code-server pack end to end: built from its recipe (packs/code-server, once per recipe
 * content, shared with the other tests of the run through test/helpers/packs.ts, as node@20 is),
 * signed, published to an OCI layout folder, installed with `aibox install code-server` into a
 * gVisor sandbox, started there on the sandbox's loopback, reached from the host through an SSH
 * port forward and opened in a real headless Chromium: the password login, then the VS Code
 * workbench with the sandbox's /workspace in its explorer. Prints the first paint through the
 * forward (docs/performance.md) and checks the page asked nothing of any host but the forward.
 * It writes /etc/aibox/policy.yaml: run it in a private mount of /etc/aibox (README's test command).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { stringify } from 'yaml';
import { ORG_POLICY_PATH } from '../../src/policy/load.js';
import { aibox, aiboxOk, cleanup, freePort, testUser, type CliResult, type TestUser } from '../helpers/cli.js';
import { publishInitialPacks } from '../helpers/packs.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The port the pack's launcher binds in the sandbox by default (packs/code-server/code-server.sh). */
const SANDBOX_PORT = 13337;

describe('code-server: installed as a pack in a gVisor sandbox, opened in Chromium through an SSH forward', { timeout: 30 * 60_000 }, () => {
  let user: TestUser;
  let savedPolicy: string | undefined;
  let forward: ChildProcess | undefined;
  let browser: Browser | undefined;
  const timings: Record<string, number> = {};

  async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await run();
    } finally {
      timings[label] = (Date.now() - started) / 1000;
    }
  }

  function ssh(command: string, input?: string): CliResult {
    const result = spawnSync('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, command], { input, encoding: 'utf8', timeout: 120_000 });
    return { code: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  }

  /** Polls until check() is true, or fails with what() after timeoutMs. */
  async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(what());
      await sleep(250);
    }
  }

  before(async () => {
    savedPolicy = existsSync(ORG_POLICY_PATH) ? await readFile(ORG_POLICY_PATH, 'utf8') : undefined;
    user = await testUser('e2e-cs');
    user.env.COSIGN_PASSWORD = 'e2e code-server';
    await aiboxOk(user, ['pack', 'keygen', '--output-prefix', join(user.home, 'platform')]);
    await aiboxOk(user, ['config', 'set', 'packs.registry', join(user.home, 'layout')]);
  });

  after(async () => {
    await browser?.close();
    forward?.kill();
    await cleanup(user);
    await rm(user.home, { recursive: true, force: true });
    if (savedPolicy === undefined) await rm(ORG_POLICY_PATH, { force: true });
    else await writeFile(ORG_POLICY_PATH, savedPolicy);
  });

  it('aibox install code-server brings node@20 along; smoke.sh passes in the sandbox', async (t) => {
    const started = aibox(user, ['start', '--port', String(await freePort())]);
    await timed('build (once per recipe content) and publish node@20 and code-server', () => publishInitialPacks(user, ['node-20', 'code-server'], join(user.home, 'platform.key')));
    const start = await started;
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /\(gvisor,/, 'the sandbox runs under gVisor');

    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY_PATH, stringify({ version: 1, packs: { trusted_keys: [{ name: 'e2e', key: await readFile(join(user.home, 'platform.pub'), 'utf8') }], allowed: ['node@20.*', 'code-server@4.*'] } }));
    const installed = await timed('install code-server (and node@20)', () => aiboxOk(user, ['install', 'code-server', '--json']));
    const report: { packs: { name: string; outcome: string }[] } = JSON.parse(installed.stdout);
    assert.deepEqual(report.packs.map(({ name, outcome }) => `${name} ${outcome}`).sort(), ['code-server installed', 'node installed'], 'code-server pulls node@20 in');

    const smoke = await timed('smoke code-server', async () => ssh('sh -s', await readFile(resolve('packs/code-server/smoke.sh'), 'utf8')));
    assert.equal(smoke.code, 0, `packs/code-server/smoke.sh: ${smoke.stdout}${smoke.stderr}`);
    assert.match(smoke.stdout, /^ok: code-server 4\.100\.3 /m);
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });

  it('serves the workbench on the sandbox loopback, through `ssh -N -L`, to a real browser (password login)', async (t) => {
    assert.equal(ssh('mkdir -p /workspace/demo && echo "hello from the sandbox" > /workspace/demo/hello.txt').code, 0);
    // setsid: code-server outlives this ssh session. Defaults from the pack's launcher:
    // 127.0.0.1:13337, no telemetry, no update check, no extensions gallery, password auth.
    const launched = await timed('code-server listening in the sandbox', async () => {
      const run = ssh('setsid -f code-server /workspace/demo > /tmp/code-server.log 2>&1 < /dev/null');
      assert.equal(run.code, 0, run.stderr);
      await waitFor(() => ssh(`curl -fsS http://127.0.0.1:${SANDBOX_PORT}/healthz`).code === 0, 90_000, () => `code-server did not answer: ${ssh('cat /tmp/code-server.log').stdout}`);
      return ssh('cat /tmp/code-server.log; echo; sed -n "s/^password: //p" ~/.config/code-server/config.yaml');
    });
    const log = launched.stdout;
    assert.match(log, new RegExp(`HTTP server listening on http://127\\.0\\.0\\.1:${SANDBOX_PORT}/`), log);
    assert.match(log, /Authentication is enabled/, 'password auth stays on: the forwarded host port is open to every local user');
    assert.match(log, /Using custom extensions gallery/, 'EXTENSIONS_GALLERY={} from the launcher: no gallery');
    const args = ssh('tr "\\0" " " < /proc/$(pgrep -f "[o]ut/node/entry.js" | head -n 1)/cmdline');
    assert.match(args.stdout, /--disable-telemetry --disable-update-check/, args.stdout + args.stderr);
    const password = log.trim().split('\n').at(-1) ?? '';
    assert.match(password, /^[a-f0-9]{24}$/, 'code-server wrote a random password into ~/.config/code-server/config.yaml (home volume)');
    // The sandbox's own address reaches sshd (2222) but not code-server: it is bound to loopback only.
    const reach = ssh(`ip=$(hostname -i | cut -d' ' -f1); echo "$ip"; for port in 2222 ${SANDBOX_PORT}; do timeout 5 bash -c "exec 3<>/dev/tcp/$ip/$port" 2>/dev/null && echo "$port open" || echo "$port closed"; done`);
    assert.match(reach.stdout, new RegExp(`^2222 open\n${SANDBOX_PORT} closed$`, 'm'), reach.stdout + reach.stderr);

    // `aibox port-forward` does the same as this plain forward through the user's ssh config.
    // ControlPath=none: the forward belongs to this ssh process (not the shared master), so
    // killing it frees the local port.
    const local = await freePort();
    forward = spawn('ssh', ['-F', join(user.home, '.ssh', 'config'), '-o', 'ControlPath=none', '-o', 'ExitOnForwardFailure=yes', '-N', '-L', `${local}:127.0.0.1:${SANDBOX_PORT}`, user.name], { stdio: ['ignore', 'ignore', 'pipe'] });
    let forwardErrors = '';
    forward.stderr?.on('data', (chunk: Buffer) => (forwardErrors += chunk.toString()));
    const site = `http://127.0.0.1:${local}`;
    await timed('ssh forward up', () => waitFor(async () => (await fetch(`${site}/healthz`).catch(() => undefined))?.ok === true, 30_000, () => `no forward: ${forwardErrors}`));

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const context = await browser.newContext();
    const page = await context.newPage();
    const elsewhere: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (!['blob:', 'data:'].includes(url.protocol) && url.host !== `127.0.0.1:${local}`) elsewhere.push(request.url());
    });

    const navigated = Date.now();
    await page.goto(`${site}/`);
    assert.equal(new URL(page.url()).pathname, '/login', 'not logged in: the login page');
    await page.locator('input[type=password]').fill('not the password');
    await Promise.all([page.waitForURL(/\/login/), page.locator('input[type=password]').press('Enter')]);
    assert.match((await page.locator('.error').textContent()) ?? '', /Incorrect password/);

    await page.locator('input[type=password]').fill(password);
    const loggedIn = Date.now();
    await page.locator('input[type=password]').press('Enter');
    await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
    const firstPaint = (Date.now() - loggedIn) / 1000;
    await page.locator('.explorer-folders-view').getByText('hello.txt').waitFor({ timeout: 120_000 });
    const explorer = (Date.now() - loggedIn) / 1000;

    assert.deepEqual(elsewhere, [], 'the page reached nothing but code-server through the forward');
    assert.equal((await context.cookies()).some((cookie) => cookie.name === 'code-server-session'), true, 'a session cookie after the login');
    const loginPage = (loggedIn - navigated) / 1000;
    t.diagnostic(`code-server first paint through the SSH forward (login submitted -> .monaco-workbench): ${firstPaint.toFixed(2)} s; explorer lists /workspace: ${explorer.toFixed(2)} s; login page round trips: ${loginPage.toFixed(2)} s`);
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });
});
