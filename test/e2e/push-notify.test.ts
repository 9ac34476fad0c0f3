/**
 * Notifications for real: `aibox approvals serve --config` with a real remote (`git
 * daemon`), a real SMTP server on loopback (aiosmtpd: STARTTLS and AUTH required, the
 * password from an env: secret, the CA trusted through NODE_EXTRA_CA_CERTS) and a real
 * HTTP receiver standing in for Slack and for a generic webhook. The delivery log is
 * read back through `aibox approvals deliveries --json`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { verifyWebhookSignature } from '../../src/push/notify/webhook.js';
import { call, createToken, startGitServer, startService, WorkTree, type GitServer, type Service } from '../helpers/approvals.js';
import { SlackMessage } from '../helpers/block-kit.js';
import { aiboxOk, freePort, testUser, type TestUser } from '../helpers/cli.js';

const WEBHOOK_SECRET = 'e2e-webhook-secret-0123456789abcdef';
const SMTP_PASSWORD = 'e2e-smtp-password';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The HTTP receiver: /slack/… stands in for Slack's incoming webhook, /hook for a generic webhook. */
class Receiver {
  readonly received: Received[] = [];
  /** The next this many webhook calls answer 500. */
  failNext = 0;
  /** While set, webhook calls get no answer until release(). */
  holding = false;
  private held: ServerResponse[] = [];
  readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      this.received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (path === '/hook' && this.holding) return void this.held.push(res);
      if (path === '/hook' && this.failNext > 0) {
        this.failNext--;
        return void res.writeHead(500).end('try later');
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });

  heldCount(): number {
    return this.held.length;
  }

  release(): void {
    this.holding = false;
    for (const res of this.held.splice(0)) res.writeHead(200).end('ok');
  }

  webhookEvents(requestId: string): { kind: string; received: Received; json: { event: string; link: string; request: { id: string; reason?: string; url?: string } } }[] {
    return this.received
      .filter((r) => r.path === '/hook')
      .map((received) => ({ kind: String(received.headers['x-aibox-event']), received, json: JSON.parse(received.body) as { event: string; link: string; request: { id: string; reason?: string; url?: string } } }))
      .filter((event) => event.json.request.id === requestId);
  }

  slackMessages(requestId: string): SlackMessage[] {
    return this.received
      .filter((r) => r.path.startsWith('/slack/'))
      .map((r) => SlackMessage.parse(JSON.parse(r.body)))
      .filter((message) => JSON.stringify(message).includes(requestId));
  }
}

interface Mail {
  to: string;
  subject: string;
  body: string;
}

/** The messages the SMTP server saved (its maildir), with quoted-printable bodies decoded. */
async function mailbox(dir: string): Promise<Mail[]> {
  const files = await readdir(join(dir, 'new')).catch(() => []);
  return Promise.all(
    files.map(async (file) => {
      const raw = (await readFile(join(dir, 'new', file), 'utf8')).replace(/\r\n/g, '\n');
      const [head = '', ...rest] = raw.split('\n\n');
      const header = (name: string) => new RegExp(`^${name}: (.*(?:\\n[ \\t].*)*)`, 'mi').exec(head)?.[1]?.replace(/\n[ \t]+/g, ' ') ?? '';
      let body = rest.join('\n\n');
      if (/quoted-printable/i.test(header('Content-Transfer-Encoding'))) body = body.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      return { to: header('To'), subject: header('Subject'), body };
    }),
  );
}

/** Waits (bounded) until `check` returns a value; fails naming what never happened. */
async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`never happened: ${what}`);
    await sleep(100);
  }
}

describe('approval notifications: email over SMTP, Slack Block Kit and a signed webhook, retried and logged', { timeout: 90_000 }, () => {
  let user: TestUser;
  let server: GitServer;
  let smtp: ChildProcess;
  let service: Service;
  const receiver = new Receiver();
  let tree: WorkTree;
  let maildir: string;
  let db: string;
  let first: string;
  const tokens: Record<string, string> = {};

  /** A new commit staged by alice for refs/heads/<branch>, registered with the service. */
  async function register(branch: string): Promise<string> {
    const created = await call(service.api, 'POST', '/v1/requests', tokens.alice, tree.stage('alice', branch, first).body);
    assert.equal(created.status, 201, JSON.stringify(created.json));
    return String(created.json.id);
  }

  interface LoggedDelivery {
    id: string;
    requestId: string;
    kind: string;
    channel: string;
    state: string;
    attempts: { attempt: number; outcome: string; status?: number; detail: string }[];
  }

  /** The delivery log through the CLI (asynchronously: the receiver in this process must keep answering meanwhile). */
  async function deliveries(requestId: string): Promise<LoggedDelivery[]> {
    const { stdout } = await aiboxOk(user, ['approvals', 'deliveries', '--request', requestId, '--db', db, '--json']);
    return (JSON.parse(stdout) as { deliveries: LoggedDelivery[] }).deliveries;
  }

  const mailTo = async (address: string, requestId: string, subject: RegExp) =>
    (await mailbox(maildir)).find((mail) => mail.to.includes(address) && mail.body.includes(requestId) && subject.test(mail.subject));

  function signed(received: Received): boolean {
    const header = (name: string) => (typeof received.headers[name] === 'string' ? String(received.headers[name]) : undefined);
    return verifyWebhookSignature({ secret: WEBHOOK_SECRET, timestamp: header('x-aibox-timestamp'), signature: header('x-aibox-signature'), body: received.body });
  }

  before(async () => {
    user = await testUser('e2e-notify');
    server = await startGitServer(user, ['app']);
    ({ tree, first } = await WorkTree.create(user, server.url('app'), '127.0.0.1/team/app', ['main', 'reject', 'flaky', 'slow']));

    // The SMTP server, with a certificate for 127.0.0.1 that only the service is told to trust.
    const tls = join(user.home, 'tls');
    await mkdir(tls);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    maildir = join(user.home, 'maildir');
    const smtpPort = await freePort();
    smtp = spawn('/usr/bin/python3', ['test/fixtures/smtp/smtp-server.py', String(smtpPort), maildir, join(tls, 'cert.pem'), join(tls, 'key.pem'), 'aibox', SMTP_PASSWORD], { stdio: ['ignore', 'pipe', 'ignore'] });
    let smtpOut = '';
    smtp.stdout?.on('data', (chunk: Buffer) => (smtpOut += chunk.toString()));
    await until('the SMTP server is ready (is python3-aiosmtpd installed? scripts/install-host-deps.sh)', () => (smtpOut.includes('ready') ? true : undefined));

    const receiverPort = await freePort();
    await new Promise<void>((resolve) => receiver.server.listen(receiverPort, '127.0.0.1', resolve));

    const keyFile = join(user.home, 'webhook.key');
    await writeFile(keyFile, `${WEBHOOK_SECRET}\n`, { mode: 0o600 });
    db = join(user.home, 'approvals.db');
    for (const [name, role] of [['alice', 'developer'], ['carol', 'team-lead']] as const) tokens[name] = createToken(user, db, name, role);
    const config = {
      database: db,
      public_url: 'https://aibox.example.com',
      notify: {
        slack: { webhook: 'env:SLACK_WEBHOOK_URL' },
        webhook: { url: `http://127.0.0.1:${receiverPort}/hook`, secret: `file:${keyFile}` },
        email: {
          smtp: `smtp://127.0.0.1:${smtpPort}`,
          username: 'aibox',
          password: 'env:SMTP_PASSWORD',
          from: 'aibox@example.com',
          approvers: ['carol@example.com'],
          developer_address: '{pusher}@example.com',
        },
        retry: { first_delay: '200ms', max_delay: '1s', max_attempts: 5 },
        timeout: '20s',
      },
    };
    const env = { SLACK_WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/slack/T000/B000/e2e-slack-secret`, SMTP_PASSWORD, NODE_EXTRA_CA_CERTS: join(tls, 'cert.pem') };
    service = await startService(user, user.home, config, env);
  });

  after(async () => {
    receiver.release();
    await service?.stop();
    smtp?.kill('SIGTERM');
    server?.stop();
    await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
    await rm(user.home, { recursive: true, force: true });
  });

  it('a new push: the approvers get an email with the request id, Slack a valid Block Kit message, the webhook a signed event', async () => {
    const id = await register('main');
    const mail = await until('the approvers email', () => mailTo('carol@example.com', id, /Push waiting for approval/));
    assert.match(mail.body, /Open it: https:\/\/aibox\.example\.com\/dashboard\/requests\//);
    const slack = await until('the Slack message', () => receiver.slackMessages(id)[0]);
    assert.equal(slack.blocks[0]?.type, 'header');
    assert.ok(JSON.stringify(slack).includes(`https://aibox.example.com/dashboard/requests/${id}`));
    const hook = await until('the webhook event', () => receiver.webhookEvents(id)[0]);
    assert.equal(hook.kind, 'pending');
    assert.equal(hook.json.event, 'pending');
    assert.ok(signed(hook.received), 'the signature verifies');
    assert.match(String(hook.received.headers['x-aibox-delivery']), /^[0-9a-f-]{36}$/);
    assert.equal(hook.json.request.url, undefined, 'the git URL is not sent');
    assert.ok(!service.log().includes('e2e-slack-secret') && !service.log().includes(SMTP_PASSWORD), 'no secret in the service log');

    const approved = await call(service.api, 'POST', `/v1/requests/${id}/approve`, tokens.carol);
    assert.equal((approved.json.request as { state: string }).state, 'promoted', JSON.stringify(approved.json));
    const promoted = await until("the developer's email", () => mailTo('alice@example.com', id, /Push promoted/));
    assert.match(promoted.body, /Promoted by carol/);
    await until('the webhook event promoted', () => receiver.webhookEvents(id).find((event) => event.kind === 'promoted'));
  });

  it("a rejection: the reason reaches the developer's email, Slack and the webhook", async () => {
    const id = await register('reject');
    const reason = 'needs a test for <Parser> & its errors';
    assert.equal((await call(service.api, 'POST', `/v1/requests/${id}/reject`, tokens.carol, { reason })).status, 200);
    const mail = await until("the developer's email", () => mailTo('alice@example.com', id, /Push rejected/));
    assert.ok(mail.body.includes(`Rejected by carol: ${reason}`), mail.body);
    const slack = await until('the Slack message of the rejection', () => receiver.slackMessages(id).find((message) => message.text.startsWith('Push rejected')));
    assert.ok(JSON.stringify(slack).includes('needs a test for &lt;Parser&gt; &amp; its errors'), 'escaped for mrkdwn');
    const hook = await until('the webhook event rejected', () => receiver.webhookEvents(id).find((event) => event.kind === 'rejected'));
    assert.equal(hook.json.request.reason, reason);
    assert.ok(signed(hook.received));
  });

  it('a receiver that answers 500 twice then 200: delivered on the third attempt, all three in the delivery log', async () => {
    receiver.failNext = 2;
    const id = await register('flaky');
    const webhook = await until('the webhook delivery is sent', async () => (await deliveries(id)).find((d) => d.channel === 'webhook' && d.state === 'sent'));
    assert.deepEqual(webhook.attempts.map((a) => [a.attempt, a.outcome, a.status]), [[1, 'retry', 500], [2, 'retry', 500], [3, 'sent', 200]]);
    assert.match(webhook.attempts[0]?.detail ?? '', /^HTTP 500: try later$/);
    assert.equal(receiver.webhookEvents(id).length, 3);
    assert.equal(new Set(receiver.webhookEvents(id).map((event) => event.received.headers['x-aibox-delivery'])).size, 1, 'one delivery id for all attempts');
    const log = (await aiboxOk(user, ['approvals', 'deliveries', '--request', id, '--db', db])).stdout;
    assert.match(log, /^ {2}#2 {2}\S+ {2}retry +500 {2}HTTP 500: try later$/m);
    assert.ok(!log.includes('e2e-slack-secret'), 'the Slack URL is never in the log');
  });

  it('a receiver that does not answer does not hold up the request that registered the push', async () => {
    receiver.holding = true;
    const id = await register('slow');
    const pending = (await deliveries(id)).find((d) => d.channel === 'webhook');
    assert.deepEqual([pending?.state, pending?.attempts.length], ['pending', 0], 'registered while its webhook delivery is still pending');
    await until('the webhook receiver holds the call', () => (receiver.heldCount() > 0 ? true : undefined));
    assert.equal((await call(service.api, 'GET', `/v1/requests/${id}`, tokens.carol)).status, 200, 'the service answers meanwhile');
    receiver.release();
    await until('the held delivery is recorded as sent', async () => (await deliveries(id)).find((d) => d.channel === 'webhook' && d.state === 'sent'));
    await until('the approvers email', () => mailTo('carol@example.com', id, /Push waiting for approval/));
  });
});
