/**
 * The approval dashboard in a real headless Chromium (Debian's, driven by
 * playwright-core), against the real service (`aibox approvals serve` from the
 * built CLI) and a real remote (`git daemon`) holding real staging refs: log in
 * with a token, read a staged push's commits and diff, approve and reject
 * through plain forms; forged forms are refused and attacker text stays text.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { stagingRef } from '../../src/push/staging.js';
import { AIBOX, freePort, testUser, type TestUser } from '../helpers/cli.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('the approval dashboard in a real browser', { timeout: 120_000 }, () => {
  let user: TestUser;
  let daemon: ChildProcess;
  let service: ChildProcess;
  let serviceLog = '';
  let browser: Browser;
  /** The approver's session, shared by the tests after the one that tests logging in and out. */
  let approver: Page | undefined;
  let base: string;
  let work: string;
  let gitPort: number;
  let site: string;
  let first: string;
  const tokens: Record<string, string> = {};
  let clock = Date.UTC(2026, 10, 27, 12, 0, 0);

  const repository = '127.0.0.1/team/app';
  const gitEnv = () => ({ ...user.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.com', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.com' });
  const url = () => `git://127.0.0.1:${gitPort}/team/app.git`;

  function git(args: string[]): string {
    const result = spawnSync('git', args, { cwd: work, env: gitEnv(), encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, `git ${args.join(' ')}: ${result.stderr}`);
    return result.stdout.trim();
  }

  function serverRefs(): Map<string, string> {
    const out = spawnSync('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: join(base, 'team', 'app.git'), encoding: 'utf8' }).stdout;
    return new Map(out.split('\n').filter(Boolean).map((line) => line.split(' ') as [string, string]));
  }

  /** A commit on `first` that adds a line to a file, pushed to alice's staging ref for <branch> as the helper would, and registered with her token. */
  async function register(branch: string, message: string, line: string): Promise<{ id: string; ref: string; sha: string }> {
    git(['checkout', '-q', '--detach', first]);
    await writeFile(join(work, 'notes.txt'), `first\n${line}\n`);
    git(['add', 'notes.txt']);
    git(['commit', '-q', '-m', message]);
    const sha = git(['rev-parse', 'HEAD']);
    clock += 1000;
    const ref = stagingRef('refs', 'alice', new Date(clock), `refs/heads/${branch}`);
    git(['push', '-q', url(), `HEAD:${ref}`]);
    const body = { repository, url: url(), targetRef: `refs/heads/${branch}`, stagingRef: ref, oldSha: first, newSha: sha, force: false, pushOptions: [] };
    const response = await fetch(`${site}/v1/requests`, { method: 'POST', headers: { authorization: `Bearer ${tokens.alice}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await response.json()) as { id: string };
    assert.equal(response.status, 201, JSON.stringify(json));
    return { id: json.id, ref, sha };
  }

  async function stateOf(id: string): Promise<string> {
    const response = await fetch(`${site}/v1/requests/${id}`, { headers: { authorization: `Bearer ${tokens.carol}` } });
    return ((await response.json()) as { request: { state: string } }).request.state;
  }

  /** A fresh browser context logged in with a token, on the list page. */
  async function loggedIn(token: string | undefined): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site}/dashboard/`);
    assert.equal(new URL(page.url()).pathname, '/dashboard/login', 'not logged in: the login page');
    await page.getByLabel('API token').fill(token ?? '');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${site}/dashboard/`);
    return { context, page };
  }

  /** Submits the form of a button and returns the status of the POST's answer (the click waits for the page it leads to). */
  async function submit(page: Page, button: string): Promise<number> {
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.getByRole('button', { name: button }).click()]);
    return response.status();
  }

  before(async () => {
    user = await testUser('e2e-dashboard');
    base = join(user.home, 'srv');
    await mkdir(join(base, 'team'), { recursive: true });
    spawnSync('git', ['init', '-q', '--bare', '-b', 'main', join(base, 'team', 'app.git')]);
    gitPort = await freePort();
    daemon = spawn('git', ['daemon', '--reuseaddr', `--base-path=${base}`, '--export-all', '--enable=receive-pack', '--listen=127.0.0.1', `--port=${gitPort}`, base], { stdio: 'ignore' });
    for (let attempt = 0; attempt < 50 && spawnSync('git', ['ls-remote', url()], { env: gitEnv() }).status !== 0; attempt++) await sleep(100);
    work = join(user.home, 'work');
    await mkdir(work);
    git(['init', '-q', '-b', 'main']);
    await writeFile(join(work, 'notes.txt'), 'first\n');
    git(['add', 'notes.txt']);
    git(['commit', '-q', '-m', 'first']);
    first = git(['rev-parse', 'HEAD']);
    git(['push', '-q', url(), ...['main', 'reject', 'own', 'xss'].map((branch) => `HEAD:refs/heads/${branch}`)]);

    const db = join(user.home, 'approvals.db');
    for (const [name, role] of [['alice', 'developer'], ['carol', 'team-lead']] as const) {
      const created = execFileSync(process.execPath, [AIBOX, 'approvals', 'token', 'create', name, '--role', role, '--db', db, '--json'], { env: user.env, encoding: 'utf8' });
      tokens[name] = (JSON.parse(created) as { token: { secret: string } }).token.secret;
    }
    // A policy of its own: whatever /etc/aibox/policy.yaml says on this machine, team-lead approves here.
    const config = join(user.home, 'approvals.yaml');
    await writeFile(join(user.home, 'policy.yaml'), 'version: 1\ntools:\n  git_push:\n    approvers: [team-lead]\n');
    await writeFile(config, `policy: ${join(user.home, 'policy.yaml')}\n`);
    const port = await freePort();
    site = `http://127.0.0.1:${port}`;
    service = spawn(process.execPath, [AIBOX, 'approvals', 'serve', '--config', config, '--listen', `127.0.0.1:${port}`, '--db', db], { env: user.env, stdio: ['ignore', 'ignore', 'pipe'] });
    service.stderr?.on('data', (chunk: Buffer) => (serviceLog += chunk.toString()));
    for (let attempt = 0; attempt < 100 && !serviceLog.includes('listening on'); attempt++) await sleep(100);
    assert.match(serviceLog, new RegExp(`dashboard http://127\\.0\\.0\\.1:${port}/dashboard/`));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  const approverPage = async () => (approver ??= (await loggedIn(tokens.carol)).page);

  after(async () => {
    await browser?.close();
    service?.kill('SIGTERM');
    daemon?.kill();
    await rm(user.home, { recursive: true, force: true });
  });

  it('refuses a wrong token; the approver logs in, reads the commits and the diff, approves: promoted', async () => {
    const request = await register('main', 'Add the second line\n\nWith a body that explains why.', 'second line from alice');
    const context = await browser.newContext();
    const page = await context.newPage();
    const refused: string[] = [];
    page.on('console', (message) => void (/Content.Security.Policy/i.test(message.text()) && refused.push(message.text())));
    await page.goto(`${site}/`);
    assert.equal(new URL(page.url()).pathname, '/dashboard/login');
    await page.getByLabel('API token').fill(`aibox_${'A'.repeat(43)}`);
    assert.equal(await submit(page, 'Log in'), 401);
    assert.match((await page.getByRole('alert').textContent()) ?? '', /That token is not valid/);
    assert.equal((await context.cookies()).some((c) => c.name === 'aibox_session'), false, 'no session for a wrong token');

    await page.getByLabel('API token').fill(tokens.carol ?? '');
    assert.equal(await submit(page, 'Log in'), 303);
    assert.equal(new URL(page.url()).pathname, '/dashboard/');
    const session = (await context.cookies()).find((c) => c.name === 'aibox_session');
    assert.ok(session, 'a session cookie');
    assert.deepEqual([session.httpOnly, session.sameSite, session.path, session.secure], [true, 'Strict', '/', false]);
    assert.equal(session.value.includes(tokens.carol?.slice(6, 20) ?? '?'), false, 'the secret is not in the cookie');

    const row = page.getByRole('row').filter({ hasText: request.id });
    assert.match((await row.textContent()) ?? '', /127\.0\.0\.1\/team\/app\s*main\s*alice/);
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(request.id)), row.getByRole('link').click()]);
    const headers = response.headers();
    assert.match(headers['content-security-policy'] ?? '', /default-src 'none'.*frame-ancestors 'none'/);
    assert.deepEqual([headers['x-content-type-options'], headers['x-frame-options']], ['nosniff', 'DENY']);
    assert.match((await page.locator('pre.message').textContent()) ?? '', /^Add the second line\n\nWith a body that explains why\.$/);
    assert.equal(await page.locator('pre.diff .add').filter({ hasText: '+second line from alice' }).count(), 1, 'the added line, marked as added');
    const button = page.getByRole('button', { name: 'Approve and promote' });
    assert.equal(await button.evaluate((element) => getComputedStyle(element).backgroundColor), 'rgb(31, 95, 191)', 'the stylesheet loads under the CSP');

    assert.equal(await submit(page, 'Approve and promote'), 303);
    assert.match((await page.getByRole('status').textContent()) ?? '', new RegExp(`Approved and promoted: refs/heads/main is now ${request.sha}`));
    const refs = serverRefs();
    assert.equal(refs.get('refs/heads/main'), request.sha, 'main is the staged commit');
    assert.equal(refs.has(request.ref), false, 'the staging ref is gone');
    assert.equal(await page.getByRole('button', { name: 'Approve and promote' }).count(), 0, 'nothing left to decide');

    await submit(page, 'Log out');
    assert.equal(new URL(page.url()).pathname, '/dashboard/login');
    await page.goto(`${site}/dashboard/requests/${request.id}`);
    assert.equal(new URL(page.url()).pathname, '/dashboard/login', 'logged out');
    assert.deepEqual(refused, [], 'the CSP refused nothing of the pages');
    await context.close();
  });

  it('rejects with a reason: the staging ref is gone, the target stays, the reason is shown', async () => {
    const request = await register('reject', 'Something risky', 'risky');
    const page = await approverPage();
    await page.goto(`${site}/dashboard/requests/${request.id}`);
    await page.getByLabel('Reason for rejecting').fill('needs a test <b>first</b>');
    assert.equal(await submit(page, 'Reject'), 303);
    assert.equal(await page.getByRole('status').textContent(), 'Rejected by carol: needs a test <b>first</b>');
    assert.equal(serverRefs().has(request.ref), false, 'the staging ref is gone');
    assert.equal(serverRefs().get('refs/heads/reject'), first, 'the target did not move');
    assert.equal(await stateOf(request.id), 'rejected');
    assert.match((await page.locator('pre.message').textContent()) ?? '', /Something risky/, 'the commits stay readable after the staging ref is gone');
  });

  it('the pusher sees their request read-only; forged or foreign forms are refused with 403 and change nothing', async () => {
    const request = await register('own', 'My own change', 'mine');
    const developer = await loggedIn(tokens.alice);
    assert.equal(await developer.page.getByRole('row').filter({ hasText: request.id }).count(), 1, 'alice sees her own request');
    await developer.page.goto(`${site}/dashboard/requests/${request.id}`);
    assert.match((await developer.page.locator('pre.message').textContent()) ?? '', /My own change/);
    assert.equal(await developer.page.getByRole('button', { name: /Approve|Reject/ }).count(), 0, 'no decision buttons for a developer');
    const developerCsrf = await developer.page.locator('input[name=csrf]').first().inputValue();
    const forged = await developer.page.request.post(`${site}/dashboard/requests/${request.id}/approve`, { form: { csrf: developerCsrf }, maxRedirects: 0 });
    assert.equal(forged.status(), 403, 'a developer session cannot approve, even with its own CSRF token');
    assert.match(await forged.text(), /<title>Not allowed/);

    const page = await approverPage();
    await page.goto(`${site}/dashboard/requests/${request.id}`);
    await page.locator('form[action$="/approve"] input[name=csrf]').evaluate((input) => input.remove());
    assert.equal(await submit(page, 'Approve and promote'), 403, 'no CSRF token');
    assert.match((await page.getByRole('alert').textContent()) ?? '', /CSRF token is missing or wrong/);
    const foreign = await page.request.post(`${site}/dashboard/requests/${request.id}/approve`, { form: { csrf: developerCsrf }, maxRedirects: 0 });
    assert.equal(foreign.status(), 403, "another session's CSRF token");
    const anonymous = await fetch(`${site}/dashboard/requests/${request.id}/approve`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `csrf=${developerCsrf}`, redirect: 'manual' });
    assert.equal(anonymous.status, 403, 'no session');

    assert.equal(await stateOf(request.id), 'pending');
    assert.equal(serverRefs().get(request.ref), request.sha, 'the staging ref stays');
    assert.equal(serverRefs().get('refs/heads/own'), first, 'the target did not move');
    await developer.context.close();
  });

  it('shows a commit message and a diff holding <script> as text', async () => {
    const attack = `<script>document.title='pwned'</script><img src=x onerror="document.title='pwned'">`;
    const request = await register('xss', `Harmless ${attack}`, `<script>alert(1)</script>`);
    const page = await approverPage();
    await page.goto(`${site}/dashboard/`);
    assert.match((await page.locator('main').textContent()) ?? '', new RegExp(request.id));
    await page.goto(`${site}/dashboard/requests/${request.id}`);
    assert.equal(await page.locator('pre.message').textContent(), `Harmless ${attack}`);
    assert.equal(await page.locator('pre.diff .add').filter({ hasText: '+<script>alert(1)</script>' }).count(), 1);
    assert.equal(await page.locator('script, main img').count(), 0, 'no element came from the attacker');
    assert.notEqual(await page.title(), 'pwned');
  });
});
