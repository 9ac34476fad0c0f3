/**
 * The approval dashboard in a real headless Chromium (Debian's, driven by
 * playwright-core), against the real service (`aibox approvals serve` from the
 * built CLI) and a real remote (`git daemon`) holding real staging refs: log in
 * with a token, read a staged push's commits and diff, approve and reject
 * through plain forms; forged forms are refused and attacker text stays text.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { call, createToken, startGitServer, startService, WorkTree, type ApiRequest, type GitServer, type Service } from '../helpers/approvals.js';
import { testUser, type TestUser } from '../helpers/cli.js';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('the approval dashboard in a real browser', { timeout: 120_000 }, () => {
  let user: TestUser;
  let server: GitServer;
  let service: Service;
  let browser: Browser;
  /** The approver's session, shared by the tests after the one that tests logging in and out. */
  let approver: Page | undefined;
  let tree: WorkTree;
  let site: string;
  let first: string;
  const tokens: Record<string, string> = {};

  /** A commit on `first` that adds a line to a file, pushed to alice's staging ref for <branch> as the helper would, and registered with her token. */
  async function register(branch: string, message: string, line: string): Promise<{ id: string; ref: string; sha: string }> {
    const { ref, sha, body } = tree.stage('alice', branch, first, { name: 'notes.txt', text: `first\n${line}\n` }, message);
    const created = await call(site, 'POST', '/v1/requests', tokens.alice, body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    return { id: String(created.json.id), ref, sha };
  }

  async function stateOf(id: string): Promise<string> {
    return ((await call(site, 'GET', `/v1/requests/${id}`, tokens.carol)).json.request as ApiRequest).state;
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
    server = await startGitServer(user, ['app']);
    ({ tree, first } = await WorkTree.create(user, server.url('app'), '127.0.0.1/team/app', ['main', 'reject', 'own', 'xss'], { name: 'notes.txt', text: 'first\n' }));

    const db = join(user.home, 'approvals.db');
    for (const [name, role] of [['alice', 'developer'], ['carol', 'team-lead']] as const) tokens[name] = createToken(user, db, name, role);
    // A policy of its own: whatever /etc/aibox/policy.yaml says on this machine, team-lead approves here.
    const policy = join(user.home, 'policy.yaml');
    await writeFile(policy, 'version: 1\ntools:\n  git_push:\n    approvers: [team-lead]\n');
    service = await startService(user, user.home, { database: db, policy });
    site = service.api;
    assert.match(service.log(), new RegExp(`dashboard ${site.replace(/\./g, '\\.')}/dashboard/`));
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });

  const approverPage = async () => (approver ??= (await loggedIn(tokens.carol)).page);

  after(async () => {
    await browser?.close();
    await service?.stop();
    server?.stop();
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
    const refs = server.refs('app');
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
    assert.equal(server.refs('app').has(request.ref), false, 'the staging ref is gone');
    assert.equal(server.refs('app').get('refs/heads/reject'), first, 'the target did not move');
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
    assert.equal(server.refs('app').get(request.ref), request.sha, 'the staging ref stays');
    assert.equal(server.refs('app').get('refs/heads/own'), first, 'the target did not move');
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
