import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryDelay, parseRetryAfter, DEFAULT_RETRY } from '../../src/push/notify/backoff.js';
import { emailMessage, recipientsOf, transportOptions } from '../../src/push/notify/email.js';
import { EVENT_KINDS } from '../../src/push/notify/event.js';
import { publicRequest, requestLink } from '../../src/push/notify/message.js';
import type { EmailSettings } from '../../src/push/notify/settings.js';
import { escapeMrkdwn, fit, slackMessage } from '../../src/push/notify/slack.js';
import { signWebhook, verifyWebhookSignature, webhookBody } from '../../src/push/notify/webhook.js';
import { SlackMessage } from '../helpers/block-kit.js';
import { pushEvent } from '../helpers/push-events.js';

const LINK = requestLink('https://aibox.example.com/', '3f2a9c01de');

describe('Slack Block Kit messages', () => {
  it('every event kind is a valid Block Kit message with the facts and a button to the request page', () => {
    assert.equal(LINK, 'https://aibox.example.com/dashboard/requests/3f2a9c01de');
    for (const kind of EVENT_KINDS) {
      const message = SlackMessage.parse(slackMessage(pushEvent(kind, { reason: 'needs a test', decidedBy: 'carol' }), LINK));
      const text = JSON.stringify(message.blocks);
      for (const fact of ['git.example.com/acme/app', 'refs/heads/main', 'alice', '111111111111..222222222222']) assert.ok(text.includes(fact), `${kind}: ${fact}`);
      const actions = message.blocks.find((block) => block.type === 'actions');
      assert.deepEqual(actions && 'elements' in actions ? actions.elements.map((button) => 'url' in button && button.url) : [], [LINK]);
      assert.equal(text.includes('needs a test'), kind !== 'pending' && kind !== 'promoted' && kind !== 'superseded', `${kind}: the reason for the developer`);
    }
    const rejected = SlackMessage.parse(slackMessage(pushEvent('rejected', { reason: 'needs a test', decidedBy: 'carol' }), LINK));
    assert.ok(JSON.stringify(rejected.blocks[1]).includes('Rejected by carol: needs a test'));
    assert.match(rejected.text, /^Push rejected: refs\/heads\/main of git\.example\.com\/acme\/app by alice \(request 3f2a9c01de\)$/);
  });

  it('escapes &, < and > in what users wrote, and stays within the limits with the longest input', () => {
    const reason = `<!channel> & <https://evil.example.com|click> ${'>'.repeat(4000)}`.slice(0, 4000);
    const message = SlackMessage.parse(slackMessage(pushEvent('rejected', { reason, repository: `git.example.com/${'a&'.repeat(1000)}` }), LINK));
    const text = JSON.stringify(message);
    assert.ok(!text.includes('<!channel>') && !text.includes('<https://evil'), 'no mention or link survives');
    assert.ok(text.includes('&lt;!channel&gt; &amp; &lt;https://evil.example.com|click&gt;'));
    assert.doesNotMatch(text, /&(a|am|l|g)?…/, 'no entity cut in half');
  });

  it('leaves the button out rather than cut a link past 3000 characters', () => {
    const message = SlackMessage.parse(slackMessage(pushEvent('pending'), `https://aibox.example.com/${'x'.repeat(3000)}`));
    assert.equal(message.blocks.some((block) => block.type === 'actions'), false);
  });

  it('escapeMrkdwn and fit', () => {
    assert.equal(escapeMrkdwn('a & <b> c'), 'a &amp; &lt;b&gt; c');
    assert.equal(fit('abc', 3), 'abc');
    assert.equal(fit('abcdef', 4), 'abc…');
    assert.equal(fit('ab&amp;cd', 6), 'ab…');
  });
});

describe('webhook signatures', () => {
  const secret = 'a-webhook-secret-of-some-length';
  const body = webhookBody(pushEvent('promoted'), 'https://aibox.example.com');
  const now = new Date('2026-03-01T11:00:00Z');
  const timestamp = String(now.getTime() / 1000);
  const signature = signWebhook(secret, timestamp, body);

  it('signs "<timestamp>.<body>" with HMAC-SHA256, and the receiver verifies it', () => {
    assert.match(signature, /^sha256=[0-9a-f]{64}$/);
    assert.equal(verifyWebhookSignature({ secret, timestamp, signature, body, now }), true);
    assert.equal(verifyWebhookSignature({ secret, timestamp, signature, body, now: new Date(now.getTime() + 299_000) }), true);
  });

  it('refuses a changed body, another secret, an old or future timestamp, a missing or malformed header', () => {
    assert.equal(verifyWebhookSignature({ secret, timestamp, signature, body: body.replace('promoted', 'rejected'), now }), false);
    assert.equal(verifyWebhookSignature({ secret: `${secret}x`, timestamp, signature, body, now }), false);
    assert.equal(verifyWebhookSignature({ secret, timestamp, signature, body, now: new Date(now.getTime() + 301_000) }), false, 'replayed later');
    assert.equal(verifyWebhookSignature({ secret, timestamp, signature, body, now: new Date(now.getTime() - 301_000) }), false);
    assert.equal(verifyWebhookSignature({ secret, timestamp: String(Number(timestamp) + 1), signature, body, now }), false, 'the timestamp is signed');
    assert.equal(verifyWebhookSignature({ secret, timestamp: undefined, signature, body, now }), false);
    assert.equal(verifyWebhookSignature({ secret, timestamp, signature: undefined, body, now }), false);
    assert.equal(verifyWebhookSignature({ secret, timestamp, signature: signature.slice(0, -2), body, now }), false);
    assert.equal(verifyWebhookSignature({ secret, timestamp: '1e9', signature, body, now }), false);
  });

  it('sends the event, a link and the request, without its git URL (it may hold credentials)', () => {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['event', 'at', 'link', 'request']);
    assert.equal(parsed.event, 'promoted');
    assert.equal(parsed.link, 'https://aibox.example.com/dashboard/requests/3f2a9c01de');
    assert.ok(!body.includes('hunter2'));
    assert.equal('url' in publicRequest(pushEvent('pending').request), false);
  });
});

describe('email', () => {
  const settings: EmailSettings = { smtp: 'smtp://mail.example.com', from: 'aibox@example.com', approvers: ['carol@example.com', 'dave@example.com'], developerAddress: '{pusher}@example.com', developers: { bob: 'robert@example.com' } };

  it('goes to the approvers for a new request, to the pusher for the outcome', () => {
    assert.deepEqual(recipientsOf(pushEvent('pending'), settings), ['carol@example.com', 'dave@example.com']);
    assert.deepEqual(recipientsOf(pushEvent('rejected'), settings), ['alice@example.com']);
    assert.deepEqual(recipientsOf(pushEvent('promoted', { pusher: 'bob' }), settings), ['robert@example.com'], 'the explicit map wins');
    assert.deepEqual(recipientsOf(pushEvent('promoted', { pusher: 'constructor' }), { ...settings, developerAddress: undefined }), [], 'no address, no mail');
    assert.deepEqual(recipientsOf(pushEvent('promoted', { pusher: 'a"b<c>' }), settings), [], 'an identity that makes no address');
    assert.deepEqual(recipientsOf(pushEvent('pending'), { ...settings, approvers: [] }), []);
  });

  it('says the same as Slack in plain text: title, outcome and reason, facts, id and link', () => {
    const { subject, text } = emailMessage(pushEvent('rejected', { reason: 'needs a test', decidedBy: 'carol' }), LINK);
    assert.equal(subject, '[aibox] Push rejected: refs/heads/main of git.example.com/acme/app by alice (request 3f2a9c01de)');
    for (const line of ['Rejected by carol: needs a test', 'Repository: git.example.com/acme/app', 'Request:    3f2a9c01de', `Open it: ${LINK}`]) assert.ok(text.includes(line), line);
    assert.match(emailMessage(pushEvent('pending'), LINK).text, /alice pushed to refs\/heads\/main and waits for an approval/);
  });

  it('uses STARTTLS when offered, requires it with a password, and implicit TLS for smtps://', () => {
    assert.deepEqual(transportOptions(settings, 10_000), { host: 'mail.example.com', port: 587, secure: false, requireTLS: false, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 10_000 });
    const auth = { user: 'aibox', pass: 'pw' };
    const withPassword = transportOptions({ ...settings, smtp: 'smtp://mail.example.com:2525', auth }, 5000);
    assert.deepEqual([withPassword.port, withPassword.requireTLS, withPassword.auth], [2525, true, auth]);
    assert.deepEqual([transportOptions({ ...settings, smtp: 'smtps://mail.example.com' }, 1).port, transportOptions({ ...settings, smtp: 'smtps://mail.example.com' }, 1).secure], [465, true]);
  });
});

describe('retry backoff', () => {
  it('grows fivefold from the first delay up to the cap, with ±20 % jitter', () => {
    const middle = [1, 2, 3, 4, 5, 6, 7].map((attempt) => retryDelay(attempt, DEFAULT_RETRY, () => 0.5));
    assert.deepEqual(middle, [5000, 25_000, 125_000, 625_000, 3_125_000, 3_600_000, 3_600_000]);
    assert.equal(retryDelay(1, DEFAULT_RETRY, () => 0), 4000);
    assert.equal(retryDelay(1, DEFAULT_RETRY, () => 1), 6000);
    assert.equal(retryDelay(2, { firstDelayMs: 200, maxDelayMs: 600, maxAttempts: 3 }, () => 0.5), 600);
  });

  it("never retries sooner than the receiver's Retry-After", () => {
    assert.equal(retryDelay(1, DEFAULT_RETRY, () => 0.5, 30_000), 30_000);
    assert.equal(retryDelay(3, DEFAULT_RETRY, () => 0.5, 1000), 125_000);
    assert.equal(retryDelay(1, DEFAULT_RETRY, () => 0.5, 10 * 24 * 3600_000), 24 * 3600_000, 'capped at a day');
    const now = new Date('2026-03-01T11:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Sun, 01 Mar 2026 11:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });
});
