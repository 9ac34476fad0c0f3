/**
 * The code-server pack end to end, in one gVisor sandbox under an org policy that allows no
 * egress at all: built from its recipe (packs/code-server, once per recipe content, shared with
 * the other tests of the run through test/helpers/packs.ts, as node@20 is), signed, published to
 * an OCI layout folder, installed with `aibox install code-server`, started on the sandbox's
 * loopback, reached from the host through `aibox port-forward` and opened in a real headless
 * Chromium: the password login, then the VS Code workbench with /workspace in its explorer.
 * Runs every aibox command of docs/vscode.md's code-server section (test/unit/vscode.test.ts
 * checks that), prints the first paint through the forward (the numbers in
 * docs/performance.md come from bench/ide.ts), and checks
 * that neither the page nor the sandbox's proxy saw a request for any other host.
 * It writes /etc/aibox/policy.yaml: run it in a private mount of /etc/aibox (README's test command).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { stringify } from 'yaml';
import type { EgressLogEntry } from '../../src/egress/log.js';
import { ORG_POLICY_PATH } from '../../src/policy/load.js';
import { aibox, aiboxOk, cleanup, freePort, host, sshTo, testUser, type TestUser } from '../helpers/cli.js';
import { publishInitialPacks } from '../helpers/packs.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The port the pack's launcher binds in the sandbox by default (packs/code-server/code-server.sh). */
const SANDBOX_PORT = 13337;
/** docs/vscode.md's commands that start code-server and read its password, word for word. */
const START = 'setsid -f code-server /workspace > /tmp/code-server.log 2>&1 < /dev/null';
const PASSWORD = 's/^password: //p';

/** 'connected', or the error code of a new TCP connection to 127.0.0.1:PORT. */
function tryConnect(port: number): Promise<string> {
  return new Promise((settle) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      settle('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => settle(error.code ?? error.message));
  });
}

describe('code-server: installed as a pack in a gVisor sandbox, opened in Chromium through aibox port-forward', { timeout: 30 * 60_000 }, () => {
  let user: TestUser;
  let savedPolicy: string | undefined;
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
    // No network.egress: the sandbox's proxy and ruleset allow no host at all.
    await mkdir('/etc/aibox', { recursive: true });
    await writeFile(ORG_POLICY_PATH, stringify({ version: 1, packs: { trusted_keys: [{ name: 'e2e', key: await readFile(join(user.home, 'platform.pub'), 'utf8') }], allowed: ['node@20.*', 'code-server@4.*'] } }));
  });

  after(async () => {
    await browser?.close();
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

    const installed = await timed('install code-server (and node@20)', () => aiboxOk(user, ['install', 'code-server', '--json']));
    const report: { packs: { name: string; outcome: string }[] } = JSON.parse(installed.stdout);
    assert.deepEqual(report.packs.map(({ name, outcome }) => `${name} ${outcome}`).sort(), ['code-server installed', 'node installed'], 'code-server pulls node@20 in');

    const script = await readFile(resolve('packs/code-server/smoke.sh'), 'utf8');
    const smoke = await timed('smoke code-server', async () => host('ssh', ['-F', join(user.home, '.ssh', 'config'), user.name, 'sh -s'], script));
    assert.equal(smoke.code, 0, `packs/code-server/smoke.sh: ${smoke.stdout}${smoke.stderr}`);
    assert.match(smoke.stdout, /^ok: code-server 4\.100\.3 /m);
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
    for (const label of Object.keys(timings)) delete timings[label];
  });

  it('serves the workbench on the sandbox loopback, through aibox port-forward, to a real browser (password login), asking no other host', async (t) => {
    assert.equal(sshTo(user, 'echo "hello from the sandbox" > /workspace/code-server-e2e.txt').code, 0);
    // Defaults from the pack's launcher: 127.0.0.1:13337, no telemetry, no update check, no
    // extensions gallery, password auth.
    await aiboxOk(user, ['exec', '--', 'sh', '-c', START]);
    const local = await freePort();
    const forwarded = await timed('aibox port-forward', () => aiboxOk(user, ['port-forward', `${local}:${SANDBOX_PORT}`]));
    assert.match(forwarded.stdout, new RegExp(`Forwarding 127\\.0\\.0\\.1:${local} -> sandbox port ${SANDBOX_PORT}`));
    const site = `http://127.0.0.1:${local}`;
    // Polled through the forward: the forward answers as soon as code-server listens.
    await timed('code-server answers through the forward', () =>
      waitFor(async () => (await fetch(`${site}/healthz`).catch(() => undefined))?.ok === true, 120_000, () => `code-server did not answer: ${sshTo(user, 'cat /tmp/code-server.log').stdout}`),
    );

    const password = (await aiboxOk(user, ['exec', '--', 'sed', '-n', PASSWORD, '.config/code-server/config.yaml'])).stdout.trim();
    assert.match(password, /^[a-f0-9]{24}$/, 'code-server wrote a random password into ~/.config/code-server/config.yaml (home volume)');
    // The log, the real server's flags, and: the sandbox's own address reaches sshd (2222) but
    // not code-server, which is bound to loopback only.
    const inside = sshTo(user, [
      'cat /tmp/code-server.log',
      'echo "args: $(tr "\\0" " " < /proc/$(pgrep -f "[o]ut/node/entry.js" | head -n 1)/cmdline)"',
      `ip=$(hostname -i | cut -d' ' -f1); for port in 2222 ${SANDBOX_PORT}; do timeout 5 bash -c "exec 3<>/dev/tcp/$ip/$port" 2>/dev/null && echo "$port open" || echo "$port closed"; done`,
    ].join('; '));
    const seen = inside.stdout + inside.stderr;
    assert.match(seen, new RegExp(`HTTP server listening on http://127\\.0\\.0\\.1:${SANDBOX_PORT}/`), seen);
    assert.match(seen, /Authentication is enabled/, 'password auth stays on: the forwarded host port is open to every local user');
    assert.match(seen, /Using custom extensions gallery/, 'EXTENSIONS_GALLERY={} from the launcher: no gallery');
    assert.match(seen, /^args: .*--disable-telemetry --disable-update-check/m, seen);
    assert.match(seen, new RegExp(`^2222 open\n${SANDBOX_PORT} closed$`, 'm'), seen);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const context = await browser.newContext();
    const page = await context.newPage();
    const elsewhere: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (!['blob:', 'data:'].includes(url.protocol) && url.host !== `127.0.0.1:${local}`) elsewhere.push(request.url());
    });

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
    await page.locator('.explorer-folders-view').getByText('code-server-e2e.txt').waitFor({ timeout: 120_000 });
    const explorer = (Date.now() - loggedIn) / 1000;
    assert.equal((await context.cookies()).some((cookie) => cookie.name === 'code-server-session'), true, 'a session cookie after the login');
    assert.deepEqual(elsewhere, [], 'the page reached nothing but code-server through the forward');

    // The proxy is the sandbox's only way out (direct connections are refused by its netns
    // rules): its log shows whether code-server or the workbench asked for anything outside.
    const log = JSON.parse((await aiboxOk(user, ['egress', 'log', '--all', '--json'])).stdout) as { proxy: string; requests: EgressLogEntry[] };
    assert.equal(log.proxy, `${user.name}-egress`, 'egress is enforced: the sandbox has its proxy');
    assert.deepEqual(log.requests.map(({ method, host, port }) => `${method} ${host}:${port}`), [], 'code-server asked the proxy for no host');

    await aiboxOk(user, ['port-forward', '--stop', String(local)]);
    await browser.close();
    browser = undefined;
    // A new connection (fetch would reuse a kept-alive one, which the cancel rightly leaves open).
    assert.equal(await tryConnect(local), 'ECONNREFUSED', 'the forward is gone');

    t.diagnostic(`code-server first paint through aibox port-forward (login submitted -> .monaco-workbench): ${firstPaint.toFixed(2)} s; explorer lists /workspace: ${explorer.toFixed(2)} s`);
    for (const [label, seconds] of Object.entries(timings)) t.diagnostic(`${label}: ${seconds.toFixed(1)} s`);
  });
});
