import type { Channel } from './channel.js';
import { forApprovers, type PushEvent } from './event.js';
import { postJson } from './http-post.js';
import { factsOf, outcomeOf, requestLink, summaryOf, TITLES } from './message.js';

/**
 * Slack through an incoming webhook: a Block Kit message (header, the
 * request's facts, the outcome for the developer, a button to the request's
 * dashboard page) with a plain `text` fallback for notifications. Text a
 * user controls is escaped for mrkdwn and cut to Block Kit's limits.
 */
export const SLACK_LIMITS = { header: 150, sectionText: 3000, field: 2000, buttonUrl: 3000, fallback: 3000 } as const;

/** Slack's mrkdwn control characters: &, < and > (links, mentions), escaped as HTML entities. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Cuts escaped text to `max` characters without splitting an entity. */
export function fit(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max - 1).replace(/&[a-z]{0,3}$/, '')}…`;
}

export function slackMessage(event: PushEvent, link: string): object {
  const mrkdwn = (text: string, max: number) => ({ type: 'mrkdwn', text: fit(text, max) });
  const outcome = outcomeOf(event);
  const blocks: object[] = [
    { type: 'header', text: { type: 'plain_text', text: fit(TITLES[event.kind], SLACK_LIMITS.header) } },
    ...(outcome ? [{ type: 'section', text: mrkdwn(escapeMrkdwn(outcome), SLACK_LIMITS.sectionText) }] : []),
    { type: 'section', fields: factsOf(event.request).map(([label, value]) => mrkdwn(`*${label}*\n${escapeMrkdwn(value)}`, SLACK_LIMITS.field)) },
  ];
  // A cut URL would lead somewhere else: a link too long for a button is left out.
  if (link.length <= SLACK_LIMITS.buttonUrl) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open request' }, url: link, action_id: 'open-request', ...(forApprovers(event) ? { style: 'primary' } : {}) }] });
  }
  blocks.push({ type: 'context', elements: [mrkdwn(`aibox approvals · request ${escapeMrkdwn(event.request.id)}`, SLACK_LIMITS.sectionText)] });
  return { text: fit(escapeMrkdwn(summaryOf(event)), SLACK_LIMITS.fallback), blocks };
}

export function slackChannel(webhookUrl: string, baseUrl: string, timeoutMs: number, now: () => Date): Channel {
  return {
    name: 'slack',
    accepts: () => true,
    send: (event) => postJson(webhookUrl, JSON.stringify(slackMessage(event, requestLink(baseUrl, event.request.id))), {}, timeoutMs, now),
  };
}
